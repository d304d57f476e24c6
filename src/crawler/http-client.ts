import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";
import type { AddressGuard } from "./address-guard.js";
import { guardedAgentFor } from "./agent.js";
import { ACCEPT_ENCODING, readBody } from "./body.js";
import { CrawlError, crawlError, toCrawlFailure } from "./errors.js";
import { describeStatus } from "./http-status.js";
import type { FetchPolicy, RedirectCheck } from "./types.js";

/** How much of a 2xx body to keep, and what to do with the rest. */
export interface BodyLimit {
  maxBytes: number;
  /** Keep the first `maxBytes` and drop the rest, instead of failing with TOO_LARGE. */
  truncate: boolean;
}

type ResponseHeaders = Dispatcher.ResponseData["headers"];

/** The last response of a fetch, after redirects. */
export interface FetchedResponse {
  status: number;
  finalUrl: string;
  headers: ResponseHeaders;
  /** Decoded (decompressed) body of a 2xx response; null for any other status, whose body is discarded. */
  body: Buffer | null;
  /** From the first request's start to the last body byte. */
  fetchMs: number;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";

/**
 * GETs a URL through the guarded keep-alive agent: follows redirects itself (each hop is
 * checked again), enforces `policy.timeoutMs` over the whole fetch and the body limit
 * while streaming. Throws a CrawlError for every policy violation and lets transport
 * errors through, both for `toCrawlFailure`. `onDeparture` is called once, in the microtask after the
 * first hop's request head is written to its connection (after DNS, the SSRF guard and the connect): not
 * when the fetch fails before that, nor for redirect hops.
 */
export async function fetchResource(
  url: string,
  policy: FetchPolicy,
  limit: BodyLimit,
  checkRedirect?: RedirectCheck,
  onDeparture?: () => void,
): Promise<FetchedResponse> {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(crawlError("TIMEOUT", `timed out after ${policy.timeoutMs} ms`, true));
  }, policy.timeoutMs);
  try {
    const { agent, guard } = guardedAgentFor(policy);
    const target = parseTarget(url);
    const { response, finalUrl } = await followRedirects(target, policy, agent, guard, controller.signal, checkRedirect, onDeparture);
    const body = await readSuccessBody(response, limit);
    const fetchMs = performance.now() - started;
    return { status: response.statusCode, finalUrl, headers: response.headers, body, fetchMs };
  } catch (err) {
    // Whatever undici or zlib made of the abort, the attempt ran out of time.
    throw controller.signal.aborted ? controller.signal.reason : err;
  } finally {
    clearTimeout(timer);
  }
}

async function followRedirects(
  first: URL,
  policy: FetchPolicy,
  agent: Dispatcher,
  guard: AddressGuard,
  signal: AbortSignal,
  checkRedirect: RedirectCheck | undefined,
  onDeparture: (() => void) | undefined,
): Promise<{ response: Dispatcher.ResponseData; finalUrl: string }> {
  const headers = { "user-agent": policy.userAgent, accept: ACCEPT, "accept-encoding": ACCEPT_ENCODING };
  let url = first;
  for (let redirects = 0; ; redirects += 1) {
    let response: Dispatcher.ResponseData;
    try {
      checkLiteralAddress(url, guard);
      // A redirect hop runs in the same slot: only the first request's departure counts.
      const via = redirects === 0 && onDeparture !== undefined ? agent.compose(reportingWrite(onDeparture)) : agent;
      response = await via.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: "GET",
        headers,
        signal,
      });
    } catch (err) {
      // A later hop is refused after the request that redirected to it, so only the first can be "before".
      throw redirects === 0 ? markedBeforeRequest(err) : err;
    }
    const next = redirectTarget(response, url);
    if (next === null) return { response, finalUrl: url.href };

    await response.body.dump();
    if (redirects >= policy.maxRedirects) {
      const last = `${describeStatus(response.statusCode)} at ${url.href}`;
      throw crawlError("TOO_MANY_REDIRECTS", `more than ${policy.maxRedirects} redirects (last: ${last})`, false, {
        httpStatus: response.statusCode,
      });
    }
    if (!isHttpScheme(next)) {
      throw crawlError("UNSUPPORTED_SCHEME", `redirect to unsupported scheme ${next.protocol} (${next.href})`, false);
    }
    if (checkRedirect !== undefined) {
      // An IP literal the guard refuses needs no robots.txt lookup (a name is checked when it is connected to).
      checkLiteralAddress(next, guard);
      const refusal = await untilAborted(checkRedirect(next.href), signal);
      if (refusal !== null) throw new CrawlError({ ...refusal, message: `redirect to ${next.href}: ${refusal.message}` });
    }
    url = next;
  }
}

/**
 * An undici interceptor that calls `report` once, in the microtask after the request head is written:
 * undici calls `onRequestStart` on a connected socket and writes the head right after it, synchronously.
 */
function reportingWrite(report: () => void): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (options, handler) => dispatch(options, new ReportingWrite(handler, report));
}

class ReportingWrite implements Dispatcher.DispatchHandler {
  readonly #inner: Dispatcher.DispatchHandler;
  #report: (() => void) | null;

  constructor(inner: Dispatcher.DispatchHandler, report: () => void) {
    this.#inner = inner;
    this.#report = report;
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    // undici may start a request again on a new connection (its pipeline's head failed): report the first.
    const report = this.#report;
    this.#report = null;
    if (report !== null) queueMicrotask(report);
    this.#inner.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders, socket: Duplex): void {
    this.#inner.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    this.#inner.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#inner.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: ResponseHeaders): void {
    this.#inner.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.#inner.onResponseError?.(controller, error);
  }
}

async function readSuccessBody(response: Dispatcher.ResponseData, limit: BodyLimit): Promise<Buffer | null> {
  const { statusCode, headers, body } = response;
  if (statusCode < 200 || statusCode > 299) {
    await body.dump();
    return null;
  }
  const declared = Number(headerValue(headers, "content-length"));
  if (!limit.truncate && declared > limit.maxBytes) {
    body.destroy();
    throw tooLarge(statusCode, `declared Content-Length ${declared} exceeds the ${limit.maxBytes}-byte limit`);
  }
  try {
    const read = await readBody(body, headerValue(headers, "content-encoding"), limit.maxBytes);
    if (read.overflowed && !limit.truncate) {
      throw tooLarge(statusCode, `body exceeds the ${limit.maxBytes}-byte limit`);
    }
    return read.bytes;
  } finally {
    // A no-op after a complete read; closes the connection when reading stopped early or failed.
    body.destroy();
  }
}

function parseTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw crawlError("UNSUPPORTED_SCHEME", `not an absolute URL: ${raw}`, false);
  }
  if (!isHttpScheme(url)) throw crawlError("UNSUPPORTED_SCHEME", `unsupported scheme ${url.protocol}`, false);
  return url;
}

function isHttpScheme(url: URL): boolean {
  return url.protocol === "http:" || url.protocol === "https:";
}

// net.connect skips `lookup` for an IP-literal host, so the agent's guard never sees it.
function checkLiteralAddress(url: URL, guard: AddressGuard): void {
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  if (isIP(host) === 0) return;
  const decision = guard.check(host, portOf(url));
  // The address is the URL's own, so naming it and its range tells the submitter nothing new.
  if (decision.blocked) throw crawlError("BLOCKED_ADDRESS", `blocked address ${host} (${decision.range})`, false);
}

function portOf(url: URL): number {
  return url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
}

/**
 * The error of a first hop that failed before its request: a refusal by the SSRF guard (of an IP literal, or
 * of a resolved name in the agent's lookup) comes back marked `beforeRequest`; any other error is unchanged.
 */
function markedBeforeRequest(err: unknown): unknown {
  const failure = toCrawlFailure(err);
  return failure.code === "BLOCKED_ADDRESS" ? new CrawlError({ ...failure, beforeRequest: true }) : err;
}

/** Where a redirect response points, or null when the response is not a usable redirect. */
function redirectTarget(response: Dispatcher.ResponseData, base: URL): URL | null {
  if (!REDIRECT_STATUSES.has(response.statusCode)) return null;
  const location = headerValue(response.headers, "location");
  if (location === undefined) return null;
  try {
    return new URL(location, base);
  } catch {
    return null;
  }
}

/** The first value of a response header. */
export function headerValue(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function tooLarge(status: number, detail: string) {
  return crawlError("TOO_LARGE", `${describeStatus(status)}: ${detail}`, false, { httpStatus: status });
}

/** The promise's value, unless the signal aborts first (then its reason is thrown). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

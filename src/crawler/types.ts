/**
 * The crawler's own vocabulary: how a fetch may behave and how it ended. Everything here is plain data
 * that survives structured cloning (it crosses the pool's thread boundary). A successful crawl's
 * `PageResult` is the task's result, so it is owned by tasks/.
 */
import type { PageResult } from "../tasks/task.js";

export type { PageResult };

/** Failure codes a crawl attempt can end with (Task.error.code). */
export type CrawlErrorCode =
  | "HTTP_STATUS"
  | "TIMEOUT"
  | "DNS"
  | "CONNECT"
  | "TOO_LARGE"
  | "TOO_MANY_REDIRECTS"
  | "BLOCKED_ADDRESS"
  | "UNSUPPORTED_SCHEME"
  | "ROBOTS_DISALLOWED"
  | "INTERNAL";

/** How one fetch is allowed to behave; built once from Config by the main thread. */
export interface FetchPolicy {
  /** Whole attempt: connect, headers and body of every hop, redirect checks included. */
  timeoutMs: number;
  connectTimeoutMs: number;
  /**
   * How long an idle connection stays open for the next request to its origin (a server's shorter
   * Keep-Alive wins). A crawl of many hosts seldom comes back within it: each idle socket costs memory.
   */
  keepAliveMs: number;
  /** Cap on the body, checked while streaming, after decompression too. */
  maxBodyBytes: number;
  maxRedirects: number;
  userAgent: string;
  /** When true, loopback/private/link-local/... targets are allowed. */
  allowPrivate: boolean;
  /** CIDRs (e.g. "10.0.0.0/8"), single IPs or host names that are allowed even when allowPrivate is false. */
  allowList: string[];
  /**
   * Static name → IP overrides, like curl --resolve ("host" → "ip"); the guard still checks the IP unless
   * the name is on the allow list.
   */
  resolve: Record<string, string>;
}

export interface CrawlFailure {
  code: CrawlErrorCode;
  message: string;
  /** Timeouts, connection failures (not TLS), temporary DNS failures, 408, 429 and 5xx are worth another attempt. */
  retryable: boolean;
  /** From a Retry-After header, when the server sent one. */
  retryAfterMs?: number;
  /**
   * The status of the response the failure is about: the final one (HTTP_STATUS, TOO_LARGE) or the last
   * redirect (TOO_MANY_REDIRECTS). Not set for the other codes, even after a redirect.
   */
  httpStatus?: number;
  /**
   * Set when the attempt was refused before any request was sent (the SSRF guard refused the first hop's
   * address): it does not count as an attempt.
   */
  beforeRequest?: boolean;
}

export type CrawlOutcome = { ok: true; page: PageResult } | { ok: false; error: CrawlFailure };

/**
 * Asked before a redirect is followed, with the absolute URL of the next hop: null lets the fetch go on,
 * a failure ends it (robots.txt of the hop's origin, which only the host gate on the main thread knows).
 */
export type RedirectCheck = (url: string) => Promise<CrawlFailure | null>;

/** robots.txt lookup result; the host gate (main thread) parses and caches the text. */
export type RobotsOutcome =
  | { kind: "found"; url: string; body: string }
  /** 4xx other than 429 (404 among them), a 3xx that is not followed, or too many redirects: "allow all". */
  | { kind: "missing"; httpStatus: number }
  /** 429, 5xx (code HTTP_STATUS) or a transport failure (its code): see the README for the convention applied. */
  | { kind: "unreachable"; code: CrawlErrorCode; reason: string };

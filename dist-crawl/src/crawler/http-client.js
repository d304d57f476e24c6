import { isIP } from "node:net";
import { guardedAgentFor } from "./agent.js";
import { ACCEPT_ENCODING, readBody } from "./body.js";
import { crawlError } from "./errors.js";
import { describeStatus } from "./http-status.js";
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";
/**
 * GETs a URL through the guarded keep-alive agent: follows redirects itself (each hop is
 * checked again), enforces `policy.timeoutMs` over the whole fetch and the body limit
 * while streaming. Throws a CrawlError for every policy violation and lets transport
 * errors through, both for `coerceError`.
 */
export async function fetchResource(url, policy, limit) {
    const started = performance.now();
    const controller = new AbortController();
    const timer = setTimeout(() => {
        controller.abort(crawlError("TIMEOUT", `timed out after ${policy.timeoutMs} ms`, true));
    }, policy.timeoutMs);
    try {
        const { agent, guard } = guardedAgentFor(policy);
        const { response, finalUrl } = await followRedirects(parseTarget(url), policy, agent, guard, controller.signal);
        const body = await readSuccessBody(response, limit);
        const fetchMs = performance.now() - started;
        return { status: response.statusCode, finalUrl, headers: response.headers, body, fetchMs };
    }
    catch (err) {
        // Whatever undici or zlib made of the abort, the attempt ran out of time.
        throw controller.signal.aborted ? controller.signal.reason : err;
    }
    finally {
        clearTimeout(timer);
    }
}
async function followRedirects(first, policy, agent, guard, signal) {
    const headers = { "user-agent": policy.userAgent, accept: ACCEPT, "accept-encoding": ACCEPT_ENCODING };
    let url = first;
    for (let redirects = 0;; redirects += 1) {
        checkLiteralAddress(url, guard);
        const response = await agent.request({
            origin: url.origin,
            path: url.pathname + url.search,
            method: "GET",
            headers,
            signal,
        });
        const next = redirectTarget(response, url);
        if (next === null)
            return { response, finalUrl: url.href };
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
        url = next;
    }
}
async function readSuccessBody(response, limit) {
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
    }
    finally {
        // A no-op after a complete read; closes the connection when reading stopped early or failed.
        body.destroy();
    }
}
function parseTarget(raw) {
    let url;
    try {
        url = new URL(raw);
    }
    catch {
        throw crawlError("UNSUPPORTED_SCHEME", `not an absolute URL: ${raw}`, false);
    }
    if (!isHttpScheme(url))
        throw crawlError("UNSUPPORTED_SCHEME", `unsupported scheme ${url.protocol}`, false);
    return url;
}
function isHttpScheme(url) {
    return url.protocol === "http:" || url.protocol === "https:";
}
// net.connect skips `lookup` for an IP-literal host, so the agent's guard never sees it.
function checkLiteralAddress(url, guard) {
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    if (isIP(host) === 0)
        return;
    const decision = guard.check(host);
    if (decision.blocked)
        throw crawlError("BLOCKED_ADDRESS", `blocked address ${host} (${decision.range})`, false);
}
/** Where a redirect response points, or null when the response is not a usable redirect. */
function redirectTarget(response, base) {
    if (!REDIRECT_STATUSES.has(response.statusCode))
        return null;
    const location = headerValue(response.headers, "location");
    if (location === undefined)
        return null;
    try {
        return new URL(location, base);
    }
    catch {
        return null;
    }
}
/** The first value of a response header. */
export function headerValue(headers, name) {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
}
function tooLarge(status, detail) {
    return crawlError("TOO_LARGE", `${describeStatus(status)}: ${detail}`, false, { httpStatus: status });
}
//# sourceMappingURL=http-client.js.map
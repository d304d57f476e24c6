import { STATUS_CODES } from "node:http";
/** "HTTP 404 Not Found": the status as failure messages quote it. */
export function describeStatus(status) {
    const reason = STATUS_CODES[status];
    return reason === undefined ? `HTTP ${status}` : `HTTP ${status} ${reason}`;
}
/** 408, 429 and 5xx say "try again later"; other statuses will not change on a retry. */
function isRetryableStatus(status) {
    return status === 408 || status === 429 || status >= 500;
}
/**
 * Milliseconds to wait according to a Retry-After value: delay-seconds or an HTTP date
 * (a date in the past means 0). Undefined when absent or unreadable.
 */
export function parseRetryAfter(value, now = Date.now()) {
    if (value === undefined)
        return undefined;
    const trimmed = value.trim();
    if (/^\d+$/.test(trimmed))
        return Number(trimmed) * 1000;
    // Every HTTP-date form names its month; Date.parse alone would take "-5" for a year.
    const date = /[a-z]/i.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
    return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
/** The failure for a response whose status is not 2xx. */
export function httpStatusFailure(status, retryAfter) {
    const failure = {
        code: "HTTP_STATUS",
        message: describeStatus(status),
        retryable: isRetryableStatus(status),
        httpStatus: status,
    };
    const retryAfterMs = failure.retryable ? parseRetryAfter(retryAfter) : undefined;
    if (retryAfterMs !== undefined)
        failure.retryAfterMs = retryAfterMs;
    return failure;
}
//# sourceMappingURL=http-status.js.map
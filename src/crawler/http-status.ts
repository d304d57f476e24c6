import { STATUS_CODES } from "node:http";
import type { CrawlFailure } from "./types.js";

/** "HTTP 404 Not Found": the status as failure messages quote it. */
export function describeStatus(status: number): string {
  const reason = STATUS_CODES[status];
  return reason === undefined ? `HTTP ${status}` : `HTTP ${status} ${reason}`;
}

/** 408, 429 and 5xx say "try again later"; other statuses will not change on a retry. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Milliseconds to wait according to a Retry-After value: delay-seconds or an HTTP date
 * (a date in the past means 0). Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Every HTTP-date form names its month; Date.parse alone would take "-5" for a year.
  const date = /[a-z]/i.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The failure for a response whose status is not 2xx. */
export function httpStatusFailure(status: number, retryAfter: string | undefined): CrawlFailure {
  const failure: CrawlFailure = {
    code: "HTTP_STATUS",
    message: describeStatus(status),
    retryable: isRetryableStatus(status),
    httpStatus: status,
  };
  const retryAfterMs = failure.retryable ? parseRetryAfter(retryAfter) : undefined;
  if (retryAfterMs !== undefined) {
    failure.retryAfterMs = retryAfterMs;
    // The retry policy may give up on a long Retry-After; the message says what the server asked for.
    failure.message += ` (Retry-After: ${Math.ceil(retryAfterMs / 1000)} s)`;
  }
  return failure;
}

import { describe, expect, it } from "vitest";
import { CrawlError, crawlError, toCrawlFailure } from "../../../src/crawler/errors.js";
import { httpStatusFailure, parseRetryAfter } from "../../../src/crawler/http-status.js";
import { MAX_ERROR_MESSAGE_LENGTH } from "../../../src/crawler/limits.js";

const withCode = (code: string, message = `failed with ${code}`) => Object.assign(new Error(message), { code });

describe("toCrawlFailure", () => {
  it.each([
    ["ENOTFOUND", "DNS", false],
    ["EAI_AGAIN", "DNS", true],
    ["ECONNREFUSED", "CONNECT", true],
    ["ECONNRESET", "CONNECT", true],
    ["EHOSTUNREACH", "CONNECT", true],
    ["UND_ERR_SOCKET", "CONNECT", true],
    ["UND_ERR_CONNECT_TIMEOUT", "TIMEOUT", true],
    ["UND_ERR_HEADERS_TIMEOUT", "TIMEOUT", true],
    ["ETIMEDOUT", "TIMEOUT", true],
    ["CERT_HAS_EXPIRED", "CONNECT", false],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "CONNECT", false],
    ["Z_DATA_ERROR", "INTERNAL", false],
    ["ERR_SOMETHING_ELSE", "INTERNAL", false],
  ])("maps %s to %s (retryable: %s)", (code, expected, retryable) => {
    expect(toCrawlFailure(withCode(code))).toMatchObject({ code: expected, retryable });
  });

  it("returns a CrawlError's own failure", () => {
    const failure = toCrawlFailure(crawlError("TOO_LARGE", "too big", false, { httpStatus: 200 }));
    expect(failure).toEqual({ code: "TOO_LARGE", message: "too big", retryable: false, httpStatus: 200 });
  });

  it("looks inside an AggregateError from a multi-address connect", () => {
    const err = new AggregateError([withCode("ECONNREFUSED", "connect ECONNREFUSED ::1:80")], "");
    expect(toCrawlFailure(err)).toEqual({ code: "CONNECT", message: "connect ECONNREFUSED ::1:80", retryable: true });
  });

  it("turns anything else into a short INTERNAL message without a stack", () => {
    expect(toCrawlFailure("boom")).toEqual({ code: "INTERNAL", message: "non-error thrown: boom", retryable: false });
    const long = toCrawlFailure(new TypeError("x".repeat(5000)));
    expect(long.code).toBe("INTERNAL");
    expect(long.message).toBe(`${"x".repeat(MAX_ERROR_MESSAGE_LENGTH - 1)}…`);
    expect(long.message).not.toContain("    at ");
  });

  it("keeps a TLS failure's message within the bound, prefix included", () => {
    const failure = toCrawlFailure(withCode("ERR_TLS_CERT_ALTNAME_INVALID", `Hostname/IP does not match: ${"h".repeat(5000)}`));
    expect(failure.message.startsWith("TLS: Hostname/IP does not match")).toBe(true);
    expect(failure.message).toHaveLength(MAX_ERROR_MESSAGE_LENGTH);
  });

  it("cuts the message of a CrawlError made directly, however it was built", () => {
    const error = new CrawlError({ code: "ROBOTS_DISALLOWED", message: `redirect to http://a.example/${"p".repeat(5000)}`, retryable: false });
    expect(error.failure.message).toHaveLength(MAX_ERROR_MESSAGE_LENGTH);
    expect(error.message).toBe(error.failure.message);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");

  it("reads delay-seconds", () => {
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
  });

  it("reads an HTTP date relative to now, never negative", () => {
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 23:00:00 GMT", now)).toBe(0);
  });

  it("ignores absent and unreadable values", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("-5", now)).toBeUndefined();
  });
});

describe("httpStatusFailure", () => {
  it("carries Retry-After only on retryable statuses", () => {
    expect(httpStatusFailure(503, "5")).toEqual({
      code: "HTTP_STATUS",
      message: "HTTP 503 Service Unavailable (Retry-After: 5 s)",
      retryable: true,
      httpStatus: 503,
      retryAfterMs: 5000,
    });
    expect(httpStatusFailure(404, "5")).toEqual({
      code: "HTTP_STATUS",
      message: "HTTP 404 Not Found",
      retryable: false,
      httpStatus: 404,
    });
  });
});

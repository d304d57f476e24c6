import { describe, expect, it } from "vitest";
import type { CrawlFailure } from "../../../src/crawler/types.js";
import { retryDelay } from "../../../src/pool/retry-policy.js";

const OPTIONS = { baseDelayMs: 500, maxDelayMs: 60_000 };
const retryable: CrawlFailure = { code: "HTTP_STATUS", message: "HTTP 503 Service Unavailable", retryable: true, httpStatus: 503 };
const lowest = () => 0;
const highest = () => 1;

describe("retryDelay", () => {
  it("never retries a final failure", () => {
    const notFound: CrawlFailure = { code: "HTTP_STATUS", message: "HTTP 404 Not Found", retryable: false, httpStatus: 404 };
    expect(retryDelay(notFound, 1, 5, OPTIONS)).toBeNull();
    expect(retryDelay({ code: "BLOCKED_ADDRESS", message: "blocked", retryable: false }, 1, 5, OPTIONS)).toBeNull();
  });

  it("allows maxRetries retries after the first attempt: attempts 1..maxRetries retry, maxRetries+1 is final", () => {
    for (let attempts = 1; attempts <= 2; attempts++) expect(retryDelay(retryable, attempts, 2, OPTIONS)).not.toBeNull();
    expect(retryDelay(retryable, 3, 2, OPTIONS)).toBeNull();
    expect(retryDelay(retryable, 1, 0, OPTIONS)).toBeNull();
  });

  it("doubles the backoff each retry, with equal jitter in [d/2, d]", () => {
    for (const [attempts, full] of [
      [1, 500],
      [2, 1000],
      [3, 2000],
      [4, 4000],
    ] as const) {
      expect(retryDelay(retryable, attempts, 10, OPTIONS, lowest)).toBe(full / 2);
      expect(retryDelay(retryable, attempts, 10, OPTIONS, highest)).toBe(full);
      expect(retryDelay(retryable, attempts, 10, OPTIONS, () => 0.5)).toBe((full * 3) / 4);
    }
  });

  it("jitters with Math.random by default, within the bounds", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const delay = retryDelay(retryable, 2, 5, OPTIONS)!;
      expect(delay).toBeGreaterThanOrEqual(500);
      expect(delay).toBeLessThanOrEqual(1000);
      seen.add(delay);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it("caps the backoff at maxDelayMs", () => {
    expect(retryDelay(retryable, 20, 20, OPTIONS, highest)).toBe(60_000);
    expect(retryDelay(retryable, 20, 20, OPTIONS, lowest)).toBe(30_000);
    expect(retryDelay(retryable, 3, 5, { baseDelayMs: 500, maxDelayMs: 1200 }, highest)).toBe(1200);
  });

  it("waits at least what Retry-After asks", () => {
    expect(retryDelay({ ...retryable, retryAfterMs: 7000 }, 1, 2, OPTIONS, highest)).toBe(7000);
    // A Retry-After shorter than the backoff does not shorten it.
    expect(retryDelay({ ...retryable, retryAfterMs: 100 }, 3, 5, OPTIONS, lowest)).toBe(1000);
    expect(retryDelay({ ...retryable, retryAfterMs: 0 }, 1, 2, OPTIONS, lowest)).toBe(250);
  });

  it("gives up rather than retry early when Retry-After is longer than maxDelayMs", () => {
    expect(retryDelay({ ...retryable, retryAfterMs: 60_000 }, 1, 2, OPTIONS)).toBe(60_000);
    expect(retryDelay({ ...retryable, retryAfterMs: 60_001 }, 1, 2, OPTIONS)).toBeNull();
  });

  it("retries at once with a zero base delay", () => {
    expect(retryDelay(retryable, 1, 2, { baseDelayMs: 0, maxDelayMs: 60_000 })).toBe(0);
  });
});

import type { CrawlFailure } from "../crawler/types.js";

export interface RetryOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * When to try a failed attempt again: only retryable failures, only while attempts remain.
 * Exponential backoff with equal jitter: before retry k (k = 1, 2, ...) the task waits a uniformly random
 * time in [d/2, d], d = min(maxDelayMs, baseDelayMs · 2^(k-1)). A server's Retry-After wins when it asks
 * for longer; when it asks for longer than maxDelayMs the failure is final, since retrying sooner than
 * the server asked would be impolite and waiting longer than the operator allows is not wanted.
 * `attempts` counts the attempts made so far (the one that just failed included).
 * Returns the delay in ms, or null for "final".
 */
export function retryDelay(
  failure: CrawlFailure,
  attempts: number,
  maxRetries: number,
  options: RetryOptions,
  random: () => number = Math.random,
): number | null {
  if (!failure.retryable || attempts > maxRetries) return null;
  const retryAfterMs = failure.retryAfterMs ?? 0;
  if (retryAfterMs > options.maxDelayMs) return null;
  const exponential = retryStep(attempts, options);
  const jittered = exponential / 2 + (random() * exponential) / 2;
  return Math.max(jittered, retryAfterMs);
}

/** The full (un-jittered) delay before the retry that follows attempt `attempts`: min(maxDelayMs, baseDelayMs · 2^(attempts-1)). */
export function retryStep(attempts: number, options: RetryOptions): number {
  return Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, attempts - 1));
}

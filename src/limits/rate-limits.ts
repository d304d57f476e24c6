import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { Caller } from "../auth/api-keys.js";
import { CrawlqError } from "../tasks/errors.js";

/** Per-key budgets per minute; 0 turns a limit off. */
export interface RateLimitSettings {
  urlsPerMinute: number;
  operationsPerMinute: number;
}

/** Over a per-key budget: `extensions.retryAfterMs` (and HTTP `Retry-After`) say when to try again. */
export class RateLimitedError extends CrawlqError {
  constructor(what: string, limit: number, retryAfterMs: number) {
    super("RATE_LIMITED", `Rate limited: at most ${limit} ${what} per minute per API key; retry in ${Math.ceil(retryAfterMs / 1000)} s`, {
      limit,
      retryAfterMs,
      http: { status: 429, headers: { "Retry-After": String(Math.ceil(retryAfterMs / 1000)) } },
    });
  }
}

/**
 * Token buckets per API key (callers without a key share one), one for operations and one for submitted
 * URLs, refilled over a minute (rate-limiter-flexible, in memory: per instance).
 */
export class RateLimits {
  readonly #operations: RateLimiterMemory | null;
  readonly #urls: RateLimiterMemory | null;
  readonly #settings: RateLimitSettings;

  constructor(settings: RateLimitSettings) {
    this.#settings = settings;
    const bucket = (points: number) => (points > 0 ? new RateLimiterMemory({ points, duration: 60 }) : null);
    this.#operations = bucket(settings.operationsPerMinute);
    this.#urls = bucket(settings.urlsPerMinute);
  }

  /** Spends one operation of the caller's budget, or throws RATE_LIMITED. */
  operation(caller: Caller | null): Promise<void> {
    return this.#spend(this.#operations, caller, 1, "operations", this.#settings.operationsPerMinute);
  }

  /** Spends `count` URLs of the caller's budget, or throws RATE_LIMITED (a submission is all or nothing). */
  urls(caller: Caller | null, count: number): Promise<void> {
    return this.#spend(this.#urls, caller, count, "URLs", this.#settings.urlsPerMinute);
  }

  async #spend(limiter: RateLimiterMemory | null, caller: Caller | null, points: number, what: string, limit: number) {
    if (limiter === null) return;
    if (points > limit) throw new RateLimitedError(what, limit, 60_000);
    const key = caller === null ? "" : String(caller.keyId);
    // A refused call spends nothing: check the window first. A call that slips in between is still
    // refused by consume, which counts atomically.
    const current = await limiter.get(key);
    if (current !== null && current.consumedPoints + points > limit) {
      throw new RateLimitedError(what, limit, current.msBeforeNext);
    }
    try {
      await limiter.consume(key, points);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      throw new RateLimitedError(what, limit, rejection.msBeforeNext);
    }
  }
}

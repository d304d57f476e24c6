import type { Caller } from "../auth/api-keys.js";
import { CrawlqError } from "../tasks/errors.js";

/** A cap on things held open at once (waits, subscriptions): per key and in total. */
export interface QuotaLimits {
  perKey: number;
  total: number;
}

/** The cap was reached: the client should finish something first (or ask the operator for more). */
export class QuotaExceededError extends CrawlqError {
  constructor(code: string, what: string, limit: number, scope: "key" | "service" | "connection") {
    const per = { key: "per API key", service: "for the whole service", connection: "per connection" }[scope];
    super(code, `Too many ${what} open at once: at most ${limit} ${per}`, {
      limit,
      scope,
    });
  }
}

/**
 * Counts what each caller holds open (blocking waits, or subscriptions) and refuses one more past the
 * per-key or total cap. Callers without a key (an open service) share one count.
 */
export class Quota {
  readonly #limits: QuotaLimits;
  readonly #code: string;
  readonly #what: string;
  readonly #held = new Map<string, number>();
  #total = 0;

  constructor(code: string, what: string, limits: QuotaLimits) {
    this.#code = code;
    this.#what = what;
    this.#limits = limits;
  }

  /** Takes one unit for `caller`, or throws; the returned function gives it back (idempotent). */
  acquire(caller: Caller | null): () => void {
    const key = caller === null ? "" : String(caller.keyId);
    const held = this.#held.get(key) ?? 0;
    if (this.#total >= this.#limits.total) throw new QuotaExceededError(this.#code, this.#what, this.#limits.total, "service");
    if (held >= this.#limits.perKey) throw new QuotaExceededError(this.#code, this.#what, this.#limits.perKey, "key");
    this.#held.set(key, held + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#held.get(key) ?? 1) - 1;
      if (left === 0) this.#held.delete(key);
      else this.#held.set(key, left);
    };
  }

  get total(): number {
    return this.#total;
  }
}

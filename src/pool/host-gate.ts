import { createRequire } from "node:module";
import { LRUCache } from "lru-cache";
import { clampMessage } from "../crawler/limits.js";
import type { CrawlFailure, RobotsOutcome } from "../crawler/types.js";
import type { ClaimCandidate } from "../tasks/task-store.js";

// robots-parser is CommonJS whose typings declare an ES default export; load it the CommonJS way.
const robotsParser = createRequire(import.meta.url)("robots-parser") as typeof import("robots-parser").default;

export interface HostGateOptions {
  /** Operator cap on requests in flight per host, across all submissions and workers. */
  perHostConcurrency: number;
  robotsTtlMs: number;
  /**
   * How long the verdict on an unreachable robots.txt is kept before it is asked again: "disallow all"
   * after 429, 5xx, a timeout or another fetch error; none (the fetch goes ahead) when the host itself
   * cannot be reached (CONNECT, DNS, BLOCKED_ADDRESS, UNSUPPORTED_SCHEME).
   */
  robotsRetryMs: number;
  userAgent: string;
  /** Starts a robots.txt fetch in the pool; the gate parses and caches the answer. */
  fetchRobots: (origin: string) => Promise<RobotsOutcome>;
  /** Called when a robots.txt arrives, so the dispatcher can try the waiting hosts again. */
  onRobotsReady: () => void;
  /**
   * After a 429 or 503 without Retry-After, the first step of its host's hold, doubling per consecutive one
   * (the retry policy's base delay, CRAWLQ_RETRY_BASE_MS); default 500 ms.
   */
  backoffBaseMs?: number;
  /**
   * The longest Retry-After a host is held for, and the most the step grows to (the retry policy's max delay,
   * CRAWLQ_RETRY_MAX_MS); default 60 s. A longer Retry-After makes the task final and holds its host for the
   * mild step only.
   */
  backoffMaxMs?: number;
  /** How many origins' robots.txt rules are kept, the least recently used dropped first; default 10,000. */
  maxRobotsEntries?: number;
  /**
   * The clock for the times the gate reads itself (a robots.txt's arrival, a redirect check, `release`
   * without a time): the clock of the `now` its callers pass to `admit`, `busyHosts` and `nextOpening`.
   * Default Date.now.
   */
  now?: () => number;
}

/**
 * Admit: start it now; `delayMs` is its host's delay (0: none), counted from when this task's request
 * leaves: report that time with `departed`. Wait: its host is busy, delayed, awaiting a departure, or its
 * robots.txt is loading. Deny: robots.txt forbids it.
 */
export type Admission = { verdict: "admit"; delayMs: number } | { verdict: "wait" } | { verdict: "deny"; reason: string };

interface HostState {
  active: number;
  nextStartAt: number;
  /**
   * The task admitted last on this host, while it has a delay, until its request leaves (`departed`) or it
   * ends (`release`): no other task starts on the host meanwhile, since the delay counts from that departure.
   */
  departing: Departing | null;
}

interface Departing {
  taskId: number;
  /** The `now` of its admission: a departure reported with an earlier time is an earlier attempt's. */
  admittedAt: number;
  delayMs: number;
}

/** A host that answered 429 or 503: held back until `until` (after a Retry-After, then one request at a time) until it recovers. */
interface HostBackoff {
  /** The step of the hold without Retry-After: the base, doubling per consecutive 429/503, gone on another answer. */
  delayMs: number;
  until: number;
  /** After a Retry-After: once the hold ends, one request at a time until an answer other than 429/503. */
  probing: boolean;
}

/** What a 429 or 503 said, and how long its own request's retry would wait at most. */
export interface Throttle {
  /** The server's Retry-After, in ms, when it sent one. */
  retryAfterMs?: number | undefined;
  /**
   * The throttled request's full retry step (the retry policy's un-jittered delay for its attempt): a hold
   * without Retry-After never lasts longer, so the retry meets an open host and keeps the policy's timing.
   */
  capMs?: number | undefined;
}

type RobotsLoading = { state: "loading"; loaded: Promise<void> };
type RobotsRules = { state: "ready"; expiresAt: number; isAllowed: (url: string) => boolean; crawlDelayMs: number; note: string };
type RobotsEntry = RobotsLoading | RobotsRules;

const MAX_ROBOTS_ENTRIES = 10_000;
// A robots.txt verdict lasts at least this long, whatever the TTL or retry time: tasks waiting for it must get to use it.
const MIN_ROBOTS_TTL_MS = 1000;
const HOST_UNREACHABLE_CODES: ReadonlySet<string> = new Set(["CONNECT", "DNS", "BLOCKED_ADDRESS", "UNSUPPORTED_SCHEME"]);

/**
 * Politeness, decided in one place on the main thread so it holds across submissions and workers:
 * at most N requests in flight per host, a minimum delay between requests leaving for one host (the larger
 * of the submission's delay and robots.txt Crawl-delay), and robots.txt rules (fetched once per origin, cached).
 * The delay counts from when the request actually leaves a pool thread (`departed`), not from the admission:
 * a thread may send one request late and the next on time. Until the departure of the task admitted last on a
 * delayed host is known, the host takes no other task.
 * A host that answers 429 or 503 is backed off on its own (see {@link HostGate.throttled}); others go on.
 * Holds state only for hosts with work in flight, a pending delay or a backoff, plus a bounded robots cache
 * and the robots.txt fetches in flight.
 */
export class HostGate {
  readonly #options: HostGateOptions;
  readonly #hosts = new Map<string, HostState>();
  // Task id → host, for the tasks whose departure a delayed host waits for.
  readonly #departing = new Map<number, string>();
  readonly #backoff = new Map<string, HostBackoff>();
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  readonly #robots: LRUCache<string, RobotsRules>;
  // Fetches in flight, apart from the capped cache: tasks wait on these, so none may be dropped.
  readonly #robotsLoading = new Map<string, RobotsLoading>();
  readonly #robotsAgent: string;
  readonly #now: () => number;

  constructor(options: HostGateOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#backoffBaseMs = Math.max(1, options.backoffBaseMs ?? 500);
    this.#backoffMaxMs = Math.max(this.#backoffBaseMs, options.backoffMaxMs ?? 60_000);
    this.#robots = new LRUCache({ max: options.maxRobotsEntries ?? MAX_ROBOTS_ENTRIES });
    this.#robotsAgent = robotsProductToken(options.userAgent);
  }

  /** Hosts no task may start on right now; the dispatcher's query skips them. */
  busyHosts(now: number): string[] {
    const busy: string[] = [];
    for (const [host, state] of this.#hosts) {
      if (this.#closed(state, now)) busy.push(host);
      else if (state.active === 0) this.#hosts.delete(host);
    }
    for (const [host, backoff] of this.#backoff) {
      const state = this.#hosts.get(host);
      const listed = state !== undefined && this.#closed(state, now);
      // Held back, or probing (one at a time) with its one request out.
      if (backoff.until > now || (backoff.probing && (state?.active ?? 0) >= 1)) {
        if (!listed) busy.push(host);
      } else if (backoff.until + backoff.delayMs < now) {
        // No answer from the host for a whole step after its hold (its tasks ran out): forget it.
        this.#backoff.delete(host);
      }
    }
    return busy;
  }

  /** A host at the operator's limit, inside its delay, or awaiting a departure: listed by `busyHosts`. */
  #closed(state: HostState, now: number): boolean {
    return state.active >= this.#options.perHostConcurrency || state.nextStartAt > now || state.departing !== null;
  }

  /**
   * Earliest time a delayed host opens again, or null. A host awaiting a departure has no such time yet: the
   * caller hears of the departure (see `departed`) and asks again.
   */
  nextOpening(now: number): number | null {
    let next: number | null = null;
    const opening = (at: number) => {
      if (at > now && (next === null || at < next)) next = at;
    };
    for (const state of this.#hosts.values()) if (state.departing === null) opening(state.nextStartAt);
    for (const backoff of this.#backoff.values()) opening(backoff.until);
    return next;
  }

  /**
   * Decides for one task; on "admit" a slot on its host is taken (give it back with `release`, with the task's
   * id). When its host has a delay, the admission says so (`delayMs`) and the host takes no other task
   * until `departed` or `release` tells when this one's request left or that it ended.
   */
  admit(task: ClaimCandidate, now: number): Admission {
    let crawlDelayMs = 0;
    if (task.options.respectRobots) {
      const robots = this.#robotsFor(new URL(task.url).origin, now);
      if (robots.state === "loading") return { verdict: "wait" };
      if (!robots.isAllowed(task.url)) return { verdict: "deny", reason: robots.note };
      crawlDelayMs = robots.crawlDelayMs;
    }
    const backoff = this.#backoff.get(task.host);
    if (backoff !== undefined && backoff.until > now) return { verdict: "wait" };
    const state = this.#hosts.get(task.host) ?? { active: 0, nextStartAt: 0, departing: null };
    // A host probed after a Retry-After gets one request at a time: its answer says whether it is ready for more.
    const limit = backoff?.probing ? 1 : Math.min(task.options.perHostConcurrency, this.#options.perHostConcurrency);
    if (state.active >= limit || state.nextStartAt > now || state.departing !== null) return { verdict: "wait" };
    state.active++;
    const delayMs = Math.max(task.options.hostDelayMs, crawlDelayMs);
    if (delayMs > 0) {
      state.departing = { taskId: task.id, admittedAt: now, delayMs };
      this.#departing.set(task.id, task.host);
    }
    this.#hosts.set(task.host, state);
    return { verdict: "admit", delayMs };
  }

  /**
   * The request of task `taskId` (admitted with a `delayMs`) left at `at` (the pool thread's Date.now(),
   * this gate's clock): its host opens at `at` + its delay. True when that ended a wait on the host; false for
   * a departure no longer awaited (its task already ended: `release` then counted the delay from the end,
   * which is later) or one older than the admission (an earlier attempt's).
   */
  departed(taskId: number, at: number): boolean {
    const host = this.#departing.get(taskId);
    const state = host === undefined ? undefined : this.#hosts.get(host);
    const departing = state?.departing;
    if (state === undefined || departing === undefined || departing === null || departing.taskId !== taskId) return false;
    if (at < departing.admittedAt) return false;
    this.#departing.delete(taskId);
    state.departing = null;
    state.nextStartAt = Math.max(state.nextStartAt, at + departing.delayMs);
    return true;
  }

  /**
   * `host` answered 429 or 503. With a Retry-After within backoffMaxMs, no request starts on it for exactly
   * that long (the throttled task's retry waits as long: see retry-policy.ts), then it gets one request at a
   * time. Without one (or with one so long that the task is final), the hold is mild: half the step, the step
   * starting at the base and doubling per consecutive 429/503 from the host, cut to the throttled request's
   * own retry step (`capMs`). Half: the earliest that request's jittered retry may come, so its retry never
   * waits for the host and the host's other pages pause at least as long. An answer other than 429/503 after
   * the hold clears the backoff (the host has recovered); a host quiet for a whole step after its hold starts
   * again from the base. Answers to requests that started before the hold (it is still on) extend it to a
   * longer Retry-After but do not double the step. Only this host waits: the dispatcher's claims skip it and
   * reach the others.
   */
  throttled(host: string, throttle: Throttle = {}, now: number = this.#now()): void {
    const backoff = this.#live(host, now);
    const { retryAfterMs, capMs } = throttle;
    const retryAfter = retryAfterMs !== undefined && retryAfterMs <= this.#backoffMaxMs ? Math.max(0, retryAfterMs) : undefined;
    if (backoff !== undefined && backoff.until > now) {
      if (retryAfter !== undefined) {
        backoff.until = Math.max(backoff.until, now + retryAfter);
        backoff.probing = true;
      }
      return;
    }
    const delayMs = backoff === undefined ? this.#backoffBaseMs : Math.min(this.#backoffMaxMs, backoff.delayMs * 2);
    if (retryAfter !== undefined) this.#backoff.set(host, { delayMs, until: now + retryAfter, probing: true });
    else this.#backoff.set(host, { delayMs, until: now + Math.min(delayMs, capMs ?? delayMs) / 2, probing: false });
  }

  /** `host` answered with something else than 429/503: after its hold, that ends its backoff (it has recovered). */
  answered(host: string, now: number = this.#now()): void {
    const backoff = this.#backoff.get(host);
    if (backoff === undefined || backoff.until > now) return;
    this.#backoff.delete(host);
  }

  /** The host's backoff, forgotten when the host stayed quiet for a whole step after its hold. */
  #live(host: string, now: number): HostBackoff | undefined {
    const backoff = this.#backoff.get(host);
    if (backoff !== undefined && backoff.until + backoff.delayMs < now) {
      this.#backoff.delete(host);
      return undefined;
    }
    return backoff;
  }

  /** Until when `host` is held back after a 429/503 (null: it is not), and its backoff step. */
  backoffOf(host: string): { until: number; delayMs: number } | null {
    const backoff = this.#backoff.get(host);
    return backoff === undefined ? null : { until: backoff.until, delayMs: backoff.delayMs };
  }

  /**
   * The robots.txt Crawl-delay that holds for a task, as far as this gate knows it now (0 when the task
   * ignores robots.txt or its origin's robots.txt is not loaded: `admit` makes such a task wait anyway).
   */
  crawlDelayMs(task: ClaimCandidate, now: number): number {
    if (!task.options.respectRobots) return 0;
    const origin = new URL(task.url).origin;
    if (this.#robotsLoading.has(origin)) return 0;
    const cached = this.#robots.get(origin);
    return cached !== undefined && cached.expiresAt > now ? cached.crawlDelayMs : 0;
  }

  /**
   * For a task that respects robots.txt, before its fetch follows a redirect: may the hop be fetched?
   * Loads the hop origin's robots.txt if needed. Null when allowed, else the ROBOTS_DISALLOWED failure.
   * The hop is not counted against its host's limit: it runs in the slot of the task that redirected.
   */
  async checkRedirect(url: string): Promise<CrawlFailure | null> {
    const origin = new URL(url).origin;
    let robots = this.#robotsFor(origin, this.#now());
    while (robots.state === "loading") {
      await robots.loaded;
      robots = this.#robotsFor(origin, this.#now());
    }
    return robots.isAllowed(url) ? null : { code: "ROBOTS_DISALLOWED", message: robots.note, retryable: false };
  }

  /**
   * Gives back the slot `admit` took for task `taskId`; a host with nothing in flight and no pending delay is
   * forgotten. A task whose departure its host still awaits ended without one being heard (it failed before
   * its request: the SSRF guard, DNS, a refused connection; or it was never handed over): its host's delay
   * counts from now, so the wait for a departure always ends with its task.
   */
  release(host: string, now: number = this.#now(), taskId?: number): void {
    const state = this.#hosts.get(host);
    if (!state) return;
    state.active = Math.max(0, state.active - 1);
    const departing = state.departing;
    if (departing !== null && departing.taskId === taskId) {
      this.#departing.delete(taskId);
      state.departing = null;
      state.nextStartAt = Math.max(state.nextStartAt, now + departing.delayMs);
    }
    if (state.active === 0 && state.nextStartAt <= now && state.departing === null) this.#hosts.delete(host);
  }

  #robotsFor(origin: string, now: number): RobotsEntry {
    const inFlight = this.#robotsLoading.get(origin);
    if (inFlight !== undefined) return inFlight;
    const cached = this.#robots.get(origin);
    if (cached !== undefined && cached.expiresAt > now) return cached;
    const loaded = this.#options
      .fetchRobots(origin)
      .catch((error: unknown): RobotsOutcome => ({ kind: "unreachable", code: "INTERNAL", reason: String(error) }))
      .then((outcome) => {
        this.#robotsLoading.delete(origin);
        this.#robots.set(origin, this.#entryFor(origin, outcome));
        this.#options.onRobotsReady();
      });
    const loading: RobotsLoading = { state: "loading", loaded };
    this.#robotsLoading.set(origin, loading);
    return loading;
  }

  #entryFor(origin: string, outcome: RobotsOutcome): RobotsRules {
    const now = this.#now();
    const robotsTtlMs = Math.max(this.#options.robotsTtlMs, MIN_ROBOTS_TTL_MS);
    const robotsRetryMs = Math.max(this.#options.robotsRetryMs, MIN_ROBOTS_TTL_MS);
    const userAgent = this.#robotsAgent;
    switch (outcome.kind) {
      case "found": {
        const robots = robotsParser(`${origin}/robots.txt`, outcome.body);
        return {
          state: "ready",
          expiresAt: now + robotsTtlMs,
          isAllowed: (url) => robots.isAllowed(url, userAgent) !== false,
          crawlDelayMs: (robots.getCrawlDelay(userAgent) ?? 0) * 1000,
          note: clampMessage(`robots.txt of ${origin} disallows this URL`),
        };
      }
      case "missing":
        return { state: "ready", expiresAt: now + robotsTtlMs, isAllowed: () => true, crawlDelayMs: 0, note: "" };
      case "unreachable":
        // The host itself cannot be reached (refused, unknown, blocked): let the fetch fail with that precise code.
        if (HOST_UNREACHABLE_CODES.has(outcome.code)) {
          return { state: "ready", expiresAt: now + robotsRetryMs, isAllowed: () => true, crawlDelayMs: 0, note: "" };
        }
        // RFC 9309 §2.3.1.4: a robots.txt answering 429/5xx or timing out means "disallow all" for now.
        // The note becomes the message of every task it denies, so it keeps to the message bound.
        return {
          state: "ready",
          expiresAt: now + robotsRetryMs,
          isAllowed: () => false,
          crawlDelayMs: 0,
          note: clampMessage(`robots.txt of ${origin} is unreachable (${outcome.reason}); treated as disallow-all (RFC 9309)`),
        };
    }
  }
}

/**
 * The product token robots.txt groups are matched against (RFC 9309 §2.2.1): "crawlq" for
 * "crawlq/0.1 (+https://…)". robots-parser would cut a User-Agent at its first "/" only, so one without a
 * version ("crawlq (+https://…)") would never match a `User-agent: crawlq` group.
 */
export function robotsProductToken(userAgent: string): string {
  return userAgent.trim().split(/[\s/;(]/, 1)[0] || "*";
}

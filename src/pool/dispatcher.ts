import type { Logger } from "pino";
import type { CrawlFailure, CrawlOutcome } from "../crawler/types.js";
import { toError } from "../tasks/errors.js";
import type { TaskLifecycle } from "../tasks/task-lifecycle.js";
import type { AttemptOutcome, ClaimCandidate, ClaimedTask, TaskStore } from "../tasks/task-store.js";
import type { CrawlJob } from "../worker/protocol.js";
import type { HostGate } from "./host-gate.js";
import { fixedLimit, type InFlightLimit } from "./in-flight-controller.js";
import { retryDelay, retryStep, type RetryOptions } from "./retry-policy.js";

export interface DispatcherOptions {
  /** Tasks in the pool at once, when no `inFlight` limit is given; the database holds every other one. */
  maxInFlight: number;
  /** The operator's cap on requests in flight per host (HostGate's): a claim reads no more of a host's tasks. */
  hostCap: number;
  retry: RetryOptions;
  /** After a failed database write, how long before the dispatcher tries again (doubling per failure, capped). */
  writeRetryMs?: number;
  /** Tries of an attempt's result write before the task is requeued instead (it then runs again). */
  resultWriteTries?: number;
}

/** What the dispatcher needs of the pool: run one crawl attempt (CrawlPool, or a stand-in in tests). */
export interface CrawlRunner {
  /** With `onDeparture`, calls it (at most once, while the crawl runs) with the time its first request left. */
  crawl(job: CrawlJob, onDeparture?: (at: number) => void): Promise<{ worker: number; outcome: CrawlOutcome }>;
}

export interface DispatcherDeps {
  lifecycle: TaskLifecycle;
  /** Reads only: when the next task held back by a retry backoff becomes runnable. */
  store: Pick<TaskStore, "nextRunAt">;
  pool: CrawlRunner;
  gate: HostGate;
  logger: Logger;
  /** The in-flight limit, read at every fill and told of every fetch (an InFlightController); default maxInFlight, fixed. */
  inFlight?: InFlightLimit;
}

const MAX_WRITE_RETRY_MS = 5_000;
// Result writes whose fastest time is taken as the write's fixed cost (a distant database's round trip).
const WRITE_TIMES_KEPT = 64;

/** A task in the pool (or whose result is being saved): when it was started, and its page's timings once known. */
interface RunningTask {
  claimed: ClaimedTask;
  startedAt: number;
  page: { fetchMs: number; parseMs: number } | null;
}

/**
 * Schedules: feeds PENDING tasks to the pool in the claim's order (fair share between submissions,
 * round-robin by host within one; see TaskStore.claim), with at most the in-flight limit in the pool and the
 * host gate's politeness, and turns each attempt's end into an outcome. Every status write is a lifecycle
 * verb; attempt ends are written in batches (one write per turn of the event loop).
 *
 * A database that fails (busy, read-only, full) never costs a slot or a task: slots taken for a claim
 * that did not commit are given back, a result that could not be saved is tried again and then requeued,
 * and the dispatcher keeps trying, so it resumes by itself once the database is writable.
 */
export class Dispatcher {
  readonly #deps: DispatcherDeps;
  readonly #options: Required<DispatcherOptions>;
  readonly #limit: InFlightLimit;
  readonly #running = new Map<number, RunningTask>();
  // Set when shutdown gives up on running tasks: their late results are ignored, the rows go back to PENDING.
  #abandoned = false;
  // Tasks whose result arrived after that: settled without saving; stop() puts them back to PENDING too.
  readonly #ignored: number[] = [];
  #unsaved: AttemptOutcome[] = [];
  readonly #saveTries = new Map<number, number>();
  // Results given up on whose requeue has not committed yet either.
  readonly #unrequeued = new Set<number>();
  #saving: Promise<void> | null = null;
  // The latest result writes' durations (ms), oldest first.
  readonly #writeTimes: number[] = [];
  #saveTimer: NodeJS.Timeout | null = null;
  #failedClaims = 0;
  #failedSaves = 0;
  #pumping = false;
  // The pump under way: stop() waits for it, so that the tasks of a claim in flight are in #running.
  #pumped: Promise<void> = Promise.resolve();
  #pumpAgain = false;
  #stopped = false;
  #started = false;
  #wakeTimer: NodeJS.Timeout | null = null;
  // Retry backoff leaves PENDING rows that are not runnable yet. Counting committed retries lets an idle
  // dispatcher skip the "next runAt?" query when none can exist, without racing a concurrent commit.
  #retriesCommitted = 0;
  #noDelayedAsOf = -1;
  #idle: (() => void) | null = null;

  constructor(deps: DispatcherDeps, options: DispatcherOptions) {
    this.#deps = deps;
    this.#options = { writeRetryMs: 250, resultWriteTries: 5, ...options };
    this.#limit = deps.inFlight ?? fixedLimit(options.maxInFlight);
  }

  /** The most tasks the dispatcher keeps in the pool now (it may move: see InFlightController). */
  get inFlightLimit(): number {
    return this.#limit.limit;
  }

  /** Tasks currently in the pool (or whose result is still being saved). */
  get inFlight(): number {
    return this.#running.size;
  }

  /** Whether `start` has run: the pool takes work. */
  get started(): boolean {
    return this.#started;
  }

  /** Start-up: claims a dead process left RUNNING go back to PENDING, then work starts. */
  async start(): Promise<void> {
    const requeued = await this.#deps.lifecycle.requeueOrphans();
    if (requeued > 0) this.#deps.logger.info({ requeued }, "requeued tasks left running by a previous process");
    this.wake();
    this.#started = true;
  }

  /** New work, a free slot or an opened host: look for tasks to start. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    this.#pumped = this.#pump();
  }

  /**
   * Shutdown: starts nothing more, gives running tasks `graceMs` to finish, then abandons the rest and
   * puts them back to PENDING for the next start (the caller then destroys the pool).
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    // A claim may be under way (the store is asynchronous): its tasks start and get the same grace.
    if (this.#pumping) await this.#pumped;
    if (this.#running.size > this.#unsaved.length + this.#unrequeued.size) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    this.#abandoned = true;
    await this.#save();
    // A crawl that ended while the last results were being saved was settled unsaved: requeue it as well.
    const unfinished = [...this.#running.keys(), ...this.#ignored];
    if (unfinished.length === 0) return;
    try {
      const requeued = await this.#deps.lifecycle.requeue(unfinished);
      this.#deps.logger.info({ requeued }, "left unfinished tasks PENDING for the next start");
    } catch (error) {
      // Still RUNNING under this instance's claim: the next start requeues them as orphans.
      this.#deps.logger.error({ err: toError(error), count: unfinished.length }, "could not requeue unfinished tasks");
    }
  }

  async #pump(): Promise<void> {
    try {
      do {
        this.#pumpAgain = false;
        await this.#fill();
      } while (this.#pumpAgain && !this.#stopped);
      this.#limit.used(this.#running.size);
      this.#failedClaims = 0;
    } catch (error) {
      const delay = this.#writeRetryDelay(++this.#failedClaims);
      this.#deps.logger.error({ err: toError(error), retryInMs: delay }, "dispatcher could not claim tasks");
      this.#wakeAt(Date.now() + delay);
    } finally {
      // In the same synchronous step as the loop's last look at #pumpAgain, so that a wake() arriving
      // after it starts a new pump. (Cleared in a `.finally()` instead, #pumping stayed set a few
      // microtasks longer, and a wake() in between set #pumpAgain for a pump that had already ended.)
      this.#pumping = false;
    }
  }

  async #fill(): Promise<void> {
    const { lifecycle, gate } = this.#deps;
    const waiting = new Set<string>();
    // The limit is read afresh each round: a controller may have moved it since the last fill.
    while (!this.#stopped && this.#running.size < this.#limit.limit) {
      const now = Date.now();
      const skipHosts = new Set([...gate.busyHosts(now), ...waiting]);
      let offered = 0;
      const admitted: ClaimCandidate[] = [];
      const hostDelays = new Map<number, number>();
      const denied = new Map<string, number[]>();
      const admit = (candidate: ClaimCandidate): boolean => {
        offered++;
        if (waiting.has(candidate.host)) return false;
        const admission = gate.admit(candidate, now);
        if (admission.verdict === "admit") {
          admitted.push(candidate);
          if (admission.delayMs > 0) hostDelays.set(candidate.id, admission.delayMs);
        } else if (admission.verdict === "wait") waiting.add(candidate.host);
        else denied.set(admission.reason, [...(denied.get(admission.reason) ?? []), candidate.id]);
        return admission.verdict === "admit";
      };
      let claimed: ClaimedTask[] = [];
      try {
        claimed = await lifecycle.claim({
          limit: this.#limit.limit - this.#running.size,
          hostCap: this.#options.hostCap,
          skipHosts,
          admit,
          // Crawl-delay is known from this instance's robots.txt cache; the claim makes it hold cluster-wide.
          knownHostDelayMs: (candidate) => gate.crawlDelayMs(candidate, now),
        });
      } finally {
        // Every slot taken for a task that was not claimed (the write failed, or lost a race) goes back.
        const claimedIds = new Set(claimed.map((c) => c.task.id));
        for (const candidate of admitted) if (!claimedIds.has(candidate.id)) gate.release(candidate.host, Date.now(), candidate.id);
      }
      for (const task of claimed) this.#run(task, hostDelays.get(task.task.id) ?? 0);
      for (const [reason, ids] of denied) await lifecycle.reject(ids, { code: "ROBOTS_DISALLOWED", message: reason });
      if (offered === 0) return this.#sleepUntilRunnable(now);
      // Every task offered started, and the limit still has room: the store has nothing more runnable now (a
      // freed slot, new work or a host's opening wakes the dispatcher), so another claim would find nothing.
      if (claimed.length === offered) {
        if (this.#running.size < this.#limit.limit) await this.#sleepUntilRunnable(now);
        return;
      }
      // Some were held back: the hosts that made tasks wait are now skipped, so the next claim reaches others.
    }
  }

  /** Starts a claimed task in the pool; `hostDelayMs`: its host's delay (0: none), as the gate admitted it. */
  #run(claimed: ClaimedTask, hostDelayMs: number): void {
    const { task, options } = claimed;
    const running: RunningTask = { claimed, startedAt: performance.now(), page: null };
    this.#running.set(task.id, running);
    // A delayed host waits for this request to leave; once it has, the host's next opening is known.
    const onDeparture =
      hostDelayMs > 0
        ? (at: number) => {
            if (this.#deps.gate.departed(task.id, at)) this.wake();
          }
        : undefined;
    // No AbortSignal: piscina runs at most one abortable task per thread, which would undo the per-thread concurrency.
    // With respectRobots, robots.txt also rules every redirect hop: the worker asks the gate before following one.
    this.#deps.pool
      .crawl({ taskId: task.id, url: task.url, respectRobots: options.respectRobots, hostDelayMs }, onDeparture)
      .then(
        ({ worker, outcome }): AttemptOutcome => {
          if (outcome.ok) running.page = outcome.page;
          this.#heard(task.host, task.attempts, outcome);
          const attempt = { id: task.id, attempt: task.attempts, worker };
          if (outcome.ok) return { ...attempt, kind: "succeed", page: outcome.page };
          return { ...attempt, ...this.#afterFailure(claimed, outcome.error) };
        },
        (error: unknown): AttemptOutcome => {
          this.#deps.logger.error({ taskId: task.id, err: toError(error) }, "pool worker failed");
          const message = toError(error).message;
          return { id: task.id, attempt: task.attempts, worker: null, kind: "fail", error: { code: "INTERNAL", message }, attemptMade: true };
        },
      )
      .then((outcome) => {
        if (this.#abandoned) {
          // Shutdown: the result is dropped and stop() puts the task back to PENDING.
          this.#ignored.push(task.id);
          this.#settle([task.id]);
        } else this.#queueForSave(outcome);
      });
  }

  /** What an attempt tells the gate: did the host answer, or ask to slow down? */
  #heard(host: string, attempts: number, outcome: CrawlOutcome): void {
    if (outcome.ok) {
      this.#deps.gate.answered(host);
      return;
    }
    const status = outcome.error.httpStatus;
    if (outcome.error.code === "HTTP_STATUS" && (status === 429 || status === 503)) {
      this.#deps.gate.throttled(host, { retryAfterMs: outcome.error.retryAfterMs, capMs: retryStep(attempts, this.#options.retry) });
    } else if (status !== undefined) this.#deps.gate.answered(host);
  }

  /** Fail for good, or retry later (retry policy and the submission's maxRetries). */
  #afterFailure({ task, options }: ClaimedTask, failure: CrawlFailure) {
    const error = { code: failure.code, message: failure.message };
    const delay = retryDelay(failure, task.attempts, options.maxRetries, this.#options.retry);
    if (delay === null) return { kind: "fail" as const, error, attemptMade: failure.beforeRequest !== true };
    return { kind: "retryLater" as const, error, runAt: Date.now() + delay };
  }

  #queueForSave(outcome: AttemptOutcome): void {
    this.#unsaved.push(outcome);
    if (this.#unsaved.length === 1 && this.#saveTimer === null) setImmediate(() => void this.#save());
  }

  // One write for every attempt that ended in this turn (the lifecycle publishes what committed), then more work.
  async #save(): Promise<void> {
    while (this.#saving) await this.#saving;
    if (this.#unsaved.length === 0 && this.#unrequeued.size === 0) return;
    this.#saving = this.#trySave();
    await this.#saving;
    this.#saving = null;
  }

  async #trySave(): Promise<void> {
    await this.#retryRequeues();
    const batch = this.#unsaved;
    if (batch.length === 0) return;
    this.#unsaved = [];
    try {
      const writeStarted = performance.now();
      const written = await this.#deps.lifecycle.finishAttempts(batch);
      if (written.some((t) => t.status === "PENDING")) this.#retriesCommitted++;
      this.#failedSaves = 0;
      this.#writeTimes.push(performance.now() - writeStarted);
      if (this.#writeTimes.length > WRITE_TIMES_KEPT) this.#writeTimes.shift();
      this.#settle(
        batch.map((outcome) => outcome.id),
        Math.min(...this.#writeTimes),
      );
    } catch (error) {
      const giveUp: number[] = [];
      for (const outcome of batch) {
        const tries = (this.#saveTries.get(outcome.id) ?? 0) + 1;
        this.#saveTries.set(outcome.id, tries);
        if (tries >= this.#options.resultWriteTries) giveUp.push(outcome.id);
        else this.#unsaved.push(outcome);
      }
      for (const id of giveUp) this.#unrequeued.add(id);
      const delay = this.#writeRetryDelay(++this.#failedSaves);
      this.#deps.logger.error(
        { err: toError(error), count: batch.length, requeueing: giveUp.length, retryInMs: delay },
        "could not record attempt results",
      );
      this.#saveLater(delay);
    }
  }

  /** Results given up on go back to PENDING (they run again); until that commits, their slots stay taken. */
  async #retryRequeues(): Promise<void> {
    if (this.#unrequeued.size === 0) return;
    const ids = [...this.#unrequeued];
    try {
      await this.#deps.lifecycle.requeue(ids);
    } catch (error) {
      this.#deps.logger.error({ err: toError(error), count: ids.length }, "could not requeue tasks whose results were lost");
      this.#saveLater(this.#writeRetryDelay(++this.#failedSaves));
      return;
    }
    for (const id of ids) this.#unrequeued.delete(id);
    this.#settle(ids);
  }

  #saveLater(delay: number): void {
    if (this.#saveTimer || this.#abandoned) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = null;
      void this.#save();
    }, delay);
    this.#saveTimer.unref();
  }

  /**
   * Frees the slots of tasks whose attempt is over (saved, or given up), then looks for work once for all of
   * them. `writeCostMs`: the fixed cost of their result write (the fastest of the latest writes).
   */
  #settle(ids: readonly number[], writeCostMs = 0): void {
    for (const id of ids) {
      const running = this.#running.get(id);
      if (!running) continue;
      this.#running.delete(id);
      this.#saveTries.delete(id);
      // The slot is free only now. Beyond the fetch, the parse and the write's fixed cost (a distant
      // database's round trip is not a queue; a write slowed by load is), the task waited.
      if (running.page !== null) {
        const { fetchMs, parseMs } = running.page;
        this.#limit.attemptEnded(fetchMs, Math.max(0, performance.now() - running.startedAt - fetchMs - parseMs - writeCostMs));
      }
      this.#deps.gate.release(running.claimed.task.host, Date.now(), id);
    }
    if (this.#running.size === 0) this.#idle?.();
    // Once per batch: a wake per task would claim for the first freed slot alone, then again for the rest.
    this.wake();
  }

  /** Backoff after the `failures`-th database failure in a row: doubling from writeRetryMs, at most 5 s. */
  #writeRetryDelay(failures: number): number {
    return Math.min(MAX_WRITE_RETRY_MS, this.#options.writeRetryMs * 2 ** Math.min(failures - 1, 16));
  }

  async #sleepUntilRunnable(now: number): Promise<void> {
    const candidates = [this.#deps.gate.nextOpening(now)];
    const retries = this.#retriesCommitted;
    if (retries !== this.#noDelayedAsOf) {
      const nextRunAt = await this.#deps.store.nextRunAt(now);
      if (nextRunAt === null) this.#noDelayedAsOf = retries;
      candidates.push(nextRunAt);
    }
    const next = candidates.filter((t): t is number => t !== null).sort((a, b) => a - b)[0];
    if (next !== undefined) this.#wakeAt(next);
  }

  #wakeAt(at: number): void {
    if (this.#stopped) return;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = null;
      this.wake();
    }, Math.max(0, at - Date.now()));
    this.#wakeTimer.unref();
  }
}

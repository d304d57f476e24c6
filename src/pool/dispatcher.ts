import type { Logger } from "pino";
import type { CrawlFailure } from "../crawler/types.js";
import { coerceError } from "../tasks/errors.js";
import type { Task } from "../tasks/task.js";
import type { TaskEvents } from "../tasks/task-events.js";
import type { AttemptOutcome, RunnableTask, TaskRepository } from "../tasks/task-repository.js";
import type { CrawlPool } from "./crawl-pool.js";
import type { HostGate } from "./host-gate.js";
import { retryDelay, type RetryOptions } from "./retry-policy.js";

export interface DispatcherOptions {
  /** Tasks in the pool at once; the database holds every other one. */
  maxInFlight: number;
  retry: RetryOptions;
}

export interface DispatcherDeps {
  repository: TaskRepository;
  events: TaskEvents;
  pool: CrawlPool;
  gate: HostGate;
  logger: Logger;
}

/**
 * Feeds PENDING tasks from the database to the pool, oldest first, with at most `maxInFlight` in the
 * pool and the host gate's politeness. Attempt ends are written in batches (one transaction per turn of
 * the event loop), then published: persist, then publish.
 */
export class Dispatcher {
  readonly #deps: DispatcherDeps;
  readonly #options: DispatcherOptions;
  readonly #running = new Map<number, Task>();
  // Set when shutdown gives up on running tasks: their late results are ignored, the rows go back to PENDING.
  #abandoned = false;
  #finished: AttemptOutcome[] = [];
  #flushing: Promise<void> | null = null;
  #pumping = false;
  #pumpAgain = false;
  #stopped = false;
  #wakeTimer: NodeJS.Timeout | null = null;
  // Retry backoff leaves PENDING rows that are not runnable yet. Counting committed retries lets an idle
  // dispatcher skip the "next runAt?" query when none can exist, without racing a concurrent commit.
  #retriesCommitted = 0;
  #noDelayedAsOf = -1;
  #idle: (() => void) | null = null;

  constructor(deps: DispatcherDeps, options: DispatcherOptions) {
    this.#deps = deps;
    this.#options = options;
  }

  /** Tasks currently in the pool. */
  get inFlight(): number {
    return this.#running.size;
  }

  /** Start-up: RUNNING rows left by a dead process go back to PENDING, then work starts. */
  async start(): Promise<void> {
    const requeued = await this.#deps.repository.requeue();
    if (requeued > 0) this.#deps.logger.info({ requeued }, "requeued tasks left running by a previous process");
    this.wake();
  }

  /** New work, a free slot or an opened host: look for tasks to start. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    void this.#pump().finally(() => (this.#pumping = false));
  }

  /**
   * Shutdown: starts nothing more, gives running tasks `graceMs` to finish, then abandons the rest and
   * puts them back to PENDING for the next start (the caller then destroys the pool).
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    if (this.#running.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const unfinished = [...this.#running.keys()];
    this.#abandoned = true;
    await this.#flush();
    if (unfinished.length > 0) {
      const requeued = await this.#deps.repository.requeue(unfinished);
      this.#deps.logger.info({ requeued }, "left unfinished tasks PENDING for the next start");
    }
  }

  async #pump(): Promise<void> {
    try {
      do {
        this.#pumpAgain = false;
        await this.#fill();
      } while (this.#pumpAgain && !this.#stopped);
    } catch (error) {
      this.#deps.logger.error({ err: coerceError(error) }, "dispatcher failed to start tasks; retrying in 1 s");
      this.#wakeAt(Date.now() + 1000);
    }
  }

  async #fill(): Promise<void> {
    const { repository, gate, events } = this.#deps;
    const waiting = new Set<string>();
    while (!this.#stopped && this.#running.size < this.#options.maxInFlight) {
      const now = Date.now();
      const free = this.#options.maxInFlight - this.#running.size;
      const skip = [...new Set([...gate.busyHosts(now), ...waiting])];
      const candidates = await repository.findRunnable(free, skip, now);
      if (candidates.length === 0) return this.#sleepUntilRunnable(now);

      const admitted: RunnableTask[] = [];
      const denied = new Map<string, number[]>();
      for (const task of candidates) {
        if (waiting.has(task.host)) continue;
        const admission = gate.admit(task, now);
        if (admission.verdict === "admit") admitted.push(task);
        else if (admission.verdict === "wait") waiting.add(task.host);
        else denied.set(admission.reason, [...(denied.get(admission.reason) ?? []), task.id]);
      }
      for (const [reason, ids] of denied) {
        events.publishDone(await repository.reject(ids, { code: "ROBOTS_DISALLOWED", message: reason }, now));
      }
      // Nothing admitted: the busy hosts are now skipped, so the next query reaches other hosts or runs dry.
      if (admitted.length === 0) continue;
      const claimed = await repository.start(admitted.map((t) => t.id), now);
      const claimedIds = new Set(claimed.map((t) => t.id));
      for (const task of admitted) if (!claimedIds.has(task.id)) gate.release(task.host);
      const respectsRobots = new Set(admitted.filter((t) => t.respectRobots).map((t) => t.id));
      for (const task of claimed) this.#run(task, respectsRobots.has(task.id));
    }
  }

  #run(task: Task, respectRobots: boolean): void {
    this.#running.set(task.id, task);
    // No AbortSignal: piscina runs at most one abortable task per thread, which would undo the per-thread concurrency.
    // With respectRobots, robots.txt also rules every redirect hop: the worker asks the gate before following one.
    this.#deps.pool
      .crawl({ taskId: task.id, url: task.url, respectRobots })
      .then(
        ({ worker, outcome }): AttemptOutcome | null => {
          if (this.#abandoned) return null;
          if (outcome.ok) return { id: task.id, worker, kind: "succeeded", page: outcome.page };
          return this.#failure(task, worker, outcome.error);
        },
        (error: unknown): AttemptOutcome | null => {
          if (this.#abandoned) return null; // shutdown: stop() put it back to PENDING
          const message = coerceError(error).message;
          this.#deps.logger.error({ taskId: task.id, err: coerceError(error) }, "pool worker failed");
          return { id: task.id, worker: null, kind: "failed", error: { code: "INTERNAL", message } };
        },
      )
      .then((outcome) => {
        if (outcome) this.#finish(outcome);
        else this.#settle(task);
      });
  }

  #failure(task: Task, worker: number, error: CrawlFailure): AttemptOutcome {
    const delay = retryDelay(error, task.attempts, task.maxRetries, this.#options.retry);
    if (delay === null) return { id: task.id, worker, kind: "failed", error };
    return { id: task.id, worker, kind: "retry", error, runAt: Date.now() + delay };
  }

  #finish(outcome: AttemptOutcome): void {
    this.#finished.push(outcome);
    if (this.#finished.length === 1) setImmediate(() => void this.#flush());
  }

  // One transaction for every attempt that ended in this turn, then one publish, then more work.
  async #flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#finished.length === 0) return;
    const batch = this.#finished;
    this.#finished = [];
    this.#flushing = (async () => {
      try {
        const written = await this.#deps.repository.finishAttempts(batch, Date.now());
        if (written.some((t) => t.status === "PENDING")) this.#retriesCommitted++;
        this.#deps.events.publishDone(written.filter((t) => t.status !== "PENDING"));
      } catch (error) {
        // The rows stay RUNNING; the next start requeues them. Never lose the slot accounting.
        this.#deps.logger.error({ err: coerceError(error), count: batch.length }, "could not record attempt results");
      }
      for (const outcome of batch) {
        const task = this.#running.get(outcome.id);
        if (task) this.#settle(task);
      }
    })();
    await this.#flushing;
    this.#flushing = null;
  }

  #settle(task: Task): void {
    this.#running.delete(task.id);
    this.#deps.gate.release(task.host);
    if (this.#running.size === 0) this.#idle?.();
    this.wake();
  }

  async #sleepUntilRunnable(now: number): Promise<void> {
    const candidates = [this.#deps.gate.nextOpening(now)];
    const retries = this.#retriesCommitted;
    if (retries !== this.#noDelayedAsOf) {
      const nextRunAt = await this.#deps.repository.nextRunAt(now);
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

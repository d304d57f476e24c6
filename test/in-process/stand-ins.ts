import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import type { CrawlOutcome } from "../../src/crawler/types.js";
import type { CrawlRunner } from "../../src/pool/dispatcher.js";
import type { CompletionBus } from "../../src/tasks/completion-bus.js";
import type { Submission, SubmissionOptions, Task, TaskError } from "../../src/tasks/task.js";
import type { TaskStatus } from "../../src/tasks/task-state.js";
import { ALL_TASKS, type AttemptOutcome, type ClaimedTask, type ClaimRequest, type TaskPage, type TaskScope, type TaskStore } from "../../src/tasks/task-store.js";
import type { CheckedUrl } from "../../src/tasks/validate-urls.js";
import type { CrawlJob } from "../../src/worker/protocol.js";

/** Rejects with a clear message when `promise` takes longer than `ms`: a bound on a wait, never a pause. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `check()` holds, testing it now and whenever `subscribe`'s callback says something changed. */
function whenTrue(check: () => boolean, watchers: Set<() => void>): Promise<void> {
  return new Promise((resolve) => {
    const watcher = () => {
      if (!check()) return;
      watchers.delete(watcher);
      resolve();
    };
    watchers.add(watcher);
    watcher();
  });
}

/** What a stand-in crawl ends with: an outcome, or an Error to reject with (a crashed pool worker). */
export type StandInReply = CrawlOutcome | Error;

export const pageFor = (url: string): CrawlOutcome => ({
  ok: true,
  page: { httpStatus: 200, finalUrl: url, contentType: "text/html", contentLength: 42, title: `Title of ${url}`, linkCount: 3, fetchMs: 2, parseMs: 1 },
});

/** A crawl that was asked to report its departure: when it was handed over, and when it reported leaving. */
export interface StandInDeparture {
  taskId: number;
  host: string;
  handedOverAt: number;
  at: number;
}

/**
 * The pool, stood in for: every crawl is recorded and counted per host while it is in the pool. A crawl
 * asked for its departure reports it `departureDelayMs(job)` after it is handed over (at once by default, as
 * a prompt pool thread would; never for Infinity); then it takes one turn of the event loop and answers with
 * `answer(job, attempt)` (attempt: 1 for the task's first crawl); while holding, crawls wait until released.
 */
export class StandInPool implements CrawlRunner {
  readonly jobs: CrawlJob[] = [];
  readonly departures: StandInDeparture[] = [];
  /** Task ids of the crawls handed over with a departure to report. */
  readonly reporting: number[] = [];
  departureDelayMs: (job: CrawlJob) => number = () => 0;
  readonly maxActive = new Map<string, number>();
  maxActiveTotal = 0;
  answer: (job: CrawlJob, attempt: number) => StandInReply;
  readonly #active = new Map<string, number>();
  #activeTotal = 0;
  #holding = false;
  #held: Array<{ taskId: number; go: () => void }> = [];
  readonly #watchers = new Set<() => void>();

  constructor(answer: (job: CrawlJob, attempt: number) => StandInReply = (job) => pageFor(job.url)) {
    this.answer = answer;
  }

  async crawl(job: CrawlJob, onDeparture?: (at: number) => void): Promise<{ worker: number; outcome: CrawlOutcome }> {
    const handedOverAt = Date.now();
    this.jobs.push(job);
    const attempt = this.crawlsOf(job.taskId);
    const host = new URL(job.url).hostname;
    const active = (this.#active.get(host) ?? 0) + 1;
    this.#active.set(host, active);
    this.maxActive.set(host, Math.max(active, this.maxActive.get(host) ?? 0));
    this.maxActiveTotal = Math.max(++this.#activeTotal, this.maxActiveTotal);
    this.#changed();
    try {
      if (onDeparture !== undefined) {
        this.reporting.push(job.taskId);
        // Infinity: the crawl fails before its request, so it never reports leaving.
        const lateMs = this.departureDelayMs(job);
        if (Number.isFinite(lateMs)) {
          if (lateMs > 0) await sleep(lateMs);
          const at = Date.now();
          this.departures.push({ taskId: job.taskId, host, handedOverAt, at });
          onDeparture(at);
        }
      }
      if (this.#holding) await new Promise<void>((go) => this.#held.push({ taskId: job.taskId, go }));
      else await nextTurn();
      const reply = this.answer(job, attempt);
      if (reply instanceof Error) throw reply;
      return { worker: 7, outcome: reply };
    } finally {
      this.#active.set(host, this.#active.get(host)! - 1);
      this.#activeTotal--;
      this.#changed();
    }
  }

  /** Crawls started so far for the task. */
  crawlsOf(taskId: number): number {
    return this.jobs.filter((j) => j.taskId === taskId).length;
  }

  /** Crawls on `host` in the pool now. */
  active(host: string): number {
    return this.#active.get(host) ?? 0;
  }

  /** From now on crawls wait in the pool until released. */
  hold(): void {
    this.#holding = true;
  }

  /** Lets the held crawl of `taskId` answer; without an id, lets every held crawl answer and stops holding. */
  release(taskId?: number): void {
    if (taskId === undefined) this.#holding = false;
    const going = this.#held.filter((h) => taskId === undefined || h.taskId === taskId);
    this.#held = this.#held.filter((h) => !going.includes(h));
    for (const h of going) h.go();
  }

  /** Resolves once `check()` holds (tested whenever a crawl starts or ends). */
  until(check: () => boolean): Promise<void> {
    return whenTrue(check, this.#watchers);
  }

  #changed(): void {
    for (const watcher of [...this.#watchers]) watcher();
  }
}

export type FlakyOperation = "claim" | "finishAttempts" | "requeue";
export type PausableOperation = "claim" | "nextRunAt" | "finishAttempts";

export type FlakyEvent =
  | { kind: "failed"; operation: FlakyOperation; failures: number }
  /** A requeue committed; `rows` are the requeued tasks as read right after, before the caller goes on. */
  | { kind: "requeued"; count: number; rows: Task[] };

/**
 * A TaskStore that delegates to a real one and, on command, fails claim, finishAttempts or requeue as a
 * database would (busy, read-only, full): the call throws and nothing it would have written is kept. A
 * failing claim still reads its candidates and asks `admit` about them (so the caller takes its host
 * slots, as in a transaction that fails at commit) and then throws.
 */
export class FlakyStore implements TaskStore {
  readonly inner: TaskStore;
  readonly failures: Record<FlakyOperation, number> = { claim: 0, finishAttempts: 0, requeue: 0 };
  /** How many candidates a failing claim lets the caller admit before it fails. */
  claimFailsAfterAdmitting = Infinity;
  readonly #failing = new Map<FlakyOperation, number>();
  readonly #listeners = new Set<(event: FlakyEvent) => void>();
  readonly #pauses = new Map<PausableOperation, { reached: () => void; resumed: Promise<void> }>();
  readonly #resumes = new Set<() => void>();

  constructor(inner: TaskStore) {
    this.inner = inner;
  }

  /** The next `times` calls of `operation` fail (every call until `heal` by default). */
  fail(operation: FlakyOperation, times = Infinity): void {
    this.#failing.set(operation, times);
  }

  heal(operation: FlakyOperation): void {
    this.#failing.delete(operation);
  }

  /** Calls `listener` synchronously on every event, before the failing or requeueing call returns. */
  onEvent(listener: (event: FlakyEvent) => void): void {
    this.#listeners.add(listener);
  }

  /** Resolves with the first event that `matches`. */
  next(matches: (event: FlakyEvent) => boolean): Promise<FlakyEvent> {
    return new Promise((resolve) => {
      const listener = (event: FlakyEvent) => {
        if (!matches(event)) return;
        this.#listeners.delete(listener);
        resolve(event);
      };
      this.#listeners.add(listener);
    });
  }

  async claim(request: ClaimRequest): Promise<ClaimedTask[]> {
    await this.#pausedAt("claim");
    if (!this.#shouldFail("claim")) return this.inner.claim(request);
    let admitted = 0;
    await this.inner.claim({
      ...request,
      // The caller decides (and takes its slots); the store writes nothing, as the transaction rolls back.
      admit: (candidate) => {
        if (admitted < this.claimFailsAfterAdmitting && request.admit(candidate)) admitted++;
        return false;
      },
    });
    throw this.#failed("claim");
  }

  async finishAttempts(owner: string, outcomes: readonly AttemptOutcome[], now: number): Promise<Task[]> {
    await this.#pausedAt("finishAttempts");
    if (this.#shouldFail("finishAttempts")) throw this.#failed("finishAttempts");
    return this.inner.finishAttempts(owner, outcomes, now);
  }

  async requeue(owner: string, ids?: readonly number[]): Promise<number> {
    if (this.#shouldFail("requeue")) throw this.#failed("requeue");
    const count = await this.inner.requeue(owner, ids);
    const rows = ids ? await this.inner.findByIds(ids, ALL_TASKS) : [];
    this.#emit({ kind: "requeued", count, rows });
    return count;
  }

  createSubmission(urls: readonly CheckedUrl[], options: SubmissionOptions, now: number, ownerKeyId: number | null): Promise<Submission> {
    return this.inner.createSubmission(urls, options, now, ownerKeyId);
  }
  findByIds(ids: readonly number[], scope: TaskScope): Promise<Task[]> {
    return this.inner.findByIds(ids, scope);
  }
  findBySubmission(submissionId: number, scope: TaskScope): Promise<Task[] | null> {
    return this.inner.findBySubmission(submissionId, scope);
  }
  listTasks(page: TaskPage): Promise<Task[]> {
    return this.inner.listTasks(page);
  }
  countByStatus(scope: TaskScope): Promise<Record<TaskStatus, number>> {
    return this.inner.countByStatus(scope);
  }
  listFinishedSince(since: number, limit: number): Promise<Task[]> {
    return this.inner.listFinishedSince(since, limit);
  }

  async nextRunAt(now: number): Promise<number | null> {
    await this.#pausedAt("nextRunAt");
    return this.inner.nextRunAt(now);
  }

  /** The next call of `operation` waits until `resume()`; `reached` resolves when that call arrives. */
  pause(operation: PausableOperation): { reached: Promise<void>; resume: () => void } {
    let reached!: () => void;
    let resume!: () => void;
    const arrived = new Promise<void>((resolve) => (reached = resolve));
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    this.#pauses.set(operation, { reached, resumed });
    this.#resumes.add(resume);
    return { reached: arrived, resume };
  }

  /** Lets every paused call go on (test cleanup: a stop() must not wait on a call nobody resumes). */
  resumeAll(): void {
    this.#pauses.clear();
    for (const resume of this.#resumes) resume();
    this.#resumes.clear();
  }

  async #pausedAt(operation: PausableOperation): Promise<void> {
    const pause = this.#pauses.get(operation);
    if (!pause) return;
    this.#pauses.delete(operation);
    pause.reached();
    await pause.resumed;
  }

  reject(ids: readonly number[], error: TaskError, now: number): Promise<Task[]> {
    return this.inner.reject(ids, error, now);
  }
  cancel(id: number, now: number): Promise<Task | null> {
    return this.inner.cancel(id, now);
  }
  requeueOrphans(liveOwner: string): Promise<number> {
    return this.inner.requeueOrphans(liveOwner);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  statementCounts(): Record<string, number> {
    return this.inner.statementCounts();
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  #shouldFail(operation: FlakyOperation): boolean {
    const left = this.#failing.get(operation) ?? 0;
    if (left <= 0) return false;
    this.#failing.set(operation, left - 1);
    return true;
  }

  #failed(operation: FlakyOperation): Error {
    const failures = ++this.failures[operation];
    this.#emit({ kind: "failed", operation, failures });
    return new Error(`SQLITE_BUSY: database is locked (stand-in failure of ${operation} #${failures})`);
  }

  #emit(event: FlakyEvent): void {
    for (const listener of [...this.#listeners]) listener(event);
  }
}

/** The completions of one submission as the bus delivers them. */
export class Completions {
  readonly tasks: Task[] = [];
  readonly #watchers = new Set<() => void>();

  static async of(bus: CompletionBus, submissionId: number): Promise<Completions> {
    const completions = new Completions();
    await bus.subscribe({ kind: "submission", submissionId }, (task) => {
      completions.tasks.push(task);
      for (const watcher of [...completions.#watchers]) watcher();
    });
    return completions;
  }

  /** Resolves once `n` completions have arrived. */
  until(n: number): Promise<void> {
    return whenTrue(() => this.tasks.length >= n, this.#watchers);
  }

  /** How many times each task id was published. */
  countsById(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const task of this.tasks) counts.set(task.id, (counts.get(task.id) ?? 0) + 1);
    return counts;
  }
}

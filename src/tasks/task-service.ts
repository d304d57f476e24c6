import { DoneFeed } from "./done-feed.js";
import {
  BadUserInputError,
  NotFoundError,
  ShuttingDownError,
  WaitTimeoutError,
} from "./errors.js";
import type { Submission, SubmissionOptions, Task } from "./task.js";
import type { DoneSelection, TaskEvents } from "./task-events.js";
import { TaskLoader } from "./task-loader.js";
import type { TaskRepository } from "./task-repository.js";
import { isTerminal, type TaskStatus } from "./task-state.js";
import { validateUrls, type UrlLimits } from "./validate-urls.js";

export type ReturnWhen = "ALL_COMPLETED" | "FIRST_COMPLETED" | "FIRST_EXCEPTION";

export interface WaitLimits extends UrlLimits {
  defaultWaitMs: number;
  maxWaitMs: number;
  maxBatchIds: number;
}

export interface BatchOutcome {
  tasks: Task[];
  done: number;
  notDone: number;
  complete: boolean;
}

/** What a client may ask of a submission; anything left out takes the operator's default. */
export type SubmitRequest = Partial<SubmissionOptions>;

export interface TaskServiceDeps {
  repository: TaskRepository;
  events: TaskEvents;
  limits: WaitLimits;
  /** Operator defaults, which are also the upper bounds a submission may ask for. */
  defaults: SubmissionOptions;
  /** Whether a submission may turn robots.txt off. */
  allowRobotsOverride: boolean;
  /** Tells the dispatcher new work is in the queue. */
  onSubmitted: () => void;
}

/**
 * The futures API: submit, wait (result / batch / taskDone), cancel. Waiting is driven by completion
 * events, never by polling: each waiter listens first, reads once, then only consumes events.
 */
export class TaskService {
  readonly #deps: TaskServiceDeps;
  readonly #loader: TaskLoader;
  readonly #feeds = new Set<DoneFeed>();
  #accepting = true;

  constructor(deps: TaskServiceDeps) {
    this.#deps = deps;
    this.#loader = new TaskLoader((ids) => deps.repository.findByIds(ids));
  }

  /** `pool.submit(...)` for many URLs: every row is committed before this returns. */
  async submit(urls: readonly string[], request: SubmitRequest = {}): Promise<Submission> {
    if (!this.#accepting) throw new ShuttingDownError();
    const checked = validateUrls(urls, this.#deps.limits);
    const options = this.#options(request);
    const submission = await this.#deps.repository.createSubmission(checked, options);
    this.#deps.onSubmitted();
    return submission;
  }

  /** Submit one URL and wait for it: `pool.submit(task, url).result()`. */
  async crawl(url: string, timeoutMs: number | null | undefined, request: SubmitRequest = {}): Promise<Task> {
    const { tasks } = await this.submit([url], request);
    return this.result(String(tasks[0]!.id), timeoutMs);
  }

  /** Never blocks; null for an unknown id. */
  async get(id: string): Promise<Task | null> {
    const taskId = parseId(id);
    return taskId === null ? null : ((await this.#loader.load(taskId)) ?? null);
  }

  /** `Future.result(timeout)`: the task once done, or TIMEOUT (the task goes on). */
  async result(id: string, timeoutMs: number | null | undefined): Promise<Task> {
    const wait = this.#waitMs(timeoutMs);
    const taskId = parseId(id);
    if (taskId === null) throw new NotFoundError([id]);
    const feed = this.#feed({ kind: "ids", ids: new Set([taskId]) });
    try {
      const task = await this.#loader.load(taskId);
      if (!task) throw new NotFoundError([id]);
      if (isTerminal(task.status)) return task;
      const done = await feed.nextBefore(Date.now() + wait);
      if (!done) throw this.#accepting ? new WaitTimeoutError(id, wait) : new ShuttingDownError();
      return done;
    } finally {
      feed.close();
    }
  }

  /** `concurrent.futures.wait(fs, return_when)`; at the timeout it returns what stands, `complete: false`. */
  async batch(args: {
    ids?: readonly string[] | null;
    submissionId?: string | null;
    timeoutMs?: number | null;
    returnWhen?: ReturnWhen | null;
  }): Promise<BatchOutcome> {
    const wait = this.#waitMs(args.timeoutMs);
    const returnWhen = args.returnWhen ?? "ALL_COMPLETED";
    const { selection, read, order } = await this.#selection(args.ids, args.submissionId);
    const feed = this.#feed(selection);
    try {
      const byId = new Map((await read()).map((t) => [t.id, t]));
      const asked = order ?? [...byId.keys()];
      const missing = asked.filter((id) => !byId.has(id));
      if (missing.length > 0) throw new NotFoundError(missing.map(String));

      let done = 0;
      let failed = 0;
      const count = (t: Task) => {
        if (isTerminal(t.status)) done++;
        if (t.status === "FAILED") failed++;
      };
      byId.forEach(count);
      const met = () =>
        done === byId.size ||
        (returnWhen === "FIRST_COMPLETED" && done > 0) ||
        (returnWhen === "FIRST_EXCEPTION" && failed > 0);

      feed.seed([...byId.values()].filter((t) => isTerminal(t.status)));
      const deadline = Date.now() + wait;
      while (!met()) {
        const next = await feed.nextBefore(deadline);
        if (!next) break;
        const before = byId.get(next.id);
        if (before && !isTerminal(before.status)) {
          byId.set(next.id, next);
          count(next);
        }
      }
      // Events carry only completions; one read refreshes the rest (PENDING → RUNNING) for the answer.
      const unfinished = [...byId.values()].filter((t) => !isTerminal(t.status)).map((t) => t.id);
      for (const fresh of await this.#deps.repository.findByIds(unfinished)) byId.set(fresh.id, fresh);
      const tasks = asked.map((id) => byId.get(id)!);
      const doneAsked = tasks.filter((t) => isTerminal(t.status)).length;
      return { tasks, done: doneAsked, notDone: tasks.length - doneAsked, complete: met() };
    } finally {
      feed.close();
    }
  }

  /**
   * The `taskDone` stream: already-done tasks first, then each completion as it commits, each once.
   * Finite selections end after their last task; with no selection it runs until closed.
   */
  async watchDone(args: { ids?: readonly string[] | null; submissionId?: string | null }): Promise<AsyncIterableIterator<Task>> {
    if (args.ids == null && args.submissionId == null) return this.#feed({ kind: "all" });
    const { selection, read, order } = await this.#selection(args.ids, args.submissionId);
    const feed = this.#feed(selection);
    try {
      const tasks = await read();
      const found = new Set(tasks.map((t) => t.id));
      const missing = (order ?? []).filter((id) => !found.has(id));
      if (missing.length > 0) throw new NotFoundError(missing.map(String));
      feed.seed(tasks.filter((t) => isTerminal(t.status)));
      feed.expect(found);
      return feed;
    } catch (error) {
      feed.close();
      throw error;
    }
  }

  /** `Future.cancel()`: PENDING becomes CANCELLED; RUNNING or done tasks are returned as they stand. */
  async cancel(id: string): Promise<Task> {
    const taskId = parseId(id);
    if (taskId === null) throw new NotFoundError([id]);
    const cancelled = await this.#deps.repository.cancel(taskId, Date.now());
    if (cancelled) {
      this.#deps.events.publishDone([cancelled]);
      return cancelled;
    }
    const [task] = await this.#deps.repository.findByIds([taskId]);
    if (!task) throw new NotFoundError([id]);
    return task;
  }

  list(args: { status?: TaskStatus | null; first?: number | null; after?: string | null }): Promise<Task[]> {
    const first = args.first ?? 100;
    if (first < 0 || first > 1000) throw new BadUserInputError("first must be between 0 and 1000", { first });
    const afterId = args.after == null ? undefined : parseId(args.after);
    if (afterId === null) throw new BadUserInputError(`after is not a task id: ${args.after}`);
    return this.#deps.repository.list({ status: args.status ?? undefined, first, afterId });
  }

  countByStatus() {
    return this.#deps.repository.countByStatus();
  }

  /** Shutdown, step one: new submissions fail with SHUTTING_DOWN. */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /** Shutdown: ends every open wait and subscription cleanly (streams complete). */
  closeFeeds(): void {
    for (const feed of [...this.#feeds]) feed.close();
  }

  #feed(selection: DoneSelection): DoneFeed {
    const feed = new DoneFeed(this.#deps.events, selection, (f) => this.#feeds.delete(f));
    this.#feeds.add(feed);
    return feed;
  }

  async #selection(ids: readonly string[] | null | undefined, submissionId: string | null | undefined) {
    if ((ids == null) === (submissionId == null)) {
      throw new BadUserInputError("Pass exactly one of ids or submissionId");
    }
    if (ids != null) {
      const max = this.#deps.limits.maxBatchIds;
      if (ids.length > max) throw new BadUserInputError(`At most ${max} ids; got ${ids.length}`, { max });
      const bad = ids.filter((id) => parseId(id) === null);
      if (bad.length > 0) throw new NotFoundError(bad);
      const order = ids.map((id) => parseId(id)!);
      const unique = [...new Set(order)];
      return {
        selection: { kind: "ids", ids: new Set(unique) } as DoneSelection,
        read: () => this.#deps.repository.findByIds(unique),
        order,
      };
    }
    const sid = parseId(submissionId!);
    const read = async () => {
      const tasks = sid === null ? null : await this.#deps.repository.findBySubmission(sid);
      if (!tasks) throw new NotFoundError([`submission ${submissionId}`]);
      return tasks;
    };
    return { selection: { kind: "submission", submissionId: sid ?? -1 } as DoneSelection, read, order: null };
  }

  #waitMs(timeoutMs: number | null | undefined): number {
    const { defaultWaitMs, maxWaitMs } = this.#deps.limits;
    if (timeoutMs == null) return defaultWaitMs;
    if (timeoutMs < 0 || timeoutMs > maxWaitMs) {
      throw new BadUserInputError(`timeoutMs must be between 0 and ${maxWaitMs}`, { timeoutMs });
    }
    return timeoutMs;
  }

  #options(request: SubmitRequest): SubmissionOptions {
    const { defaults, allowRobotsOverride } = this.#deps;
    const bounded = (name: keyof SubmissionOptions, value: number | undefined, max: number, min = 0) => {
      if (value === undefined) return max;
      if (!Number.isInteger(value) || value < min || value > max) {
        throw new BadUserInputError(`${name} must be an integer from ${min} to ${max}`, { [name]: value });
      }
      return value;
    };
    if (request.respectRobots === false && defaults.respectRobots && !allowRobotsOverride) {
      throw new BadUserInputError("This service does not let a submission turn robots.txt off");
    }
    return {
      maxRetries: request.maxRetries === undefined ? defaults.maxRetries : bounded("maxRetries", request.maxRetries, 20),
      perHostConcurrency: bounded("perHostConcurrency", request.perHostConcurrency, defaults.perHostConcurrency, 1),
      // A submission may be gentler than the operator's floor, never harsher.
      hostDelayMs: Math.max(bounded("hostDelayMs", request.hostDelayMs ?? 0, 3_600_000), defaults.hostDelayMs),
      respectRobots: request.respectRobots ?? defaults.respectRobots,
    };
  }
}

/** Task and submission ids are positive integers rendered as GraphQL IDs. */
function parseId(id: string): number | null {
  if (!/^[1-9]\d{0,15}$/.test(id)) return null;
  return Number(id);
}

import DataLoader from "dataloader";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import type { Caller } from "../auth/api-keys.js";
import type { CompletionBus, DoneSelection } from "./completion-bus.js";
import type { Quota } from "../limits/quotas.js";
import type { RateLimits } from "../limits/rate-limits.js";
import { DoneFeed, type SlowSubscriberError } from "./done-feed.js";
import {
  BadUserInputError,
  NotFoundError,
  ShuttingDownError,
  WaitAbortedError,
  WaitTimeoutError,
} from "./errors.js";
import type { Submission, SubmissionOptions, Task } from "./task.js";
import type { TaskLifecycle } from "./task-lifecycle.js";
import { isTerminal, type TaskStatus } from "./task-state.js";
import { ALL_TASKS, type TaskScope, type TaskStore } from "./task-store.js";
import { validateUrls, type UrlLimits } from "./validate-urls.js";

export type ReturnWhen = "ALL_COMPLETED" | "FIRST_COMPLETED" | "FIRST_EXCEPTION";

/** The bounds the API enforces; every one is a Config value (see config.ts). */
export interface ApiLimits extends UrlLimits {
  defaultWaitMs: number;
  maxWaitMs: number;
  maxBatchIds: number;
  /** Most retries a submission may ask for. */
  maxRetriesCeiling: number;
  /** Longest per-host delay a submission may ask for. */
  maxHostDelayMs: number;
  defaultPageSize: number;
  maxPageSize: number;
}

export interface BatchOutcome {
  tasks: Task[];
  done: number;
  notDone: number;
  complete: boolean;
}

/** Who asks, and the signal that aborts when they go away: every service call carries it. */
export interface CallContext {
  caller: Caller | null;
  signal?: AbortSignal;
  /** The request's id, for log lines. */
  requestId?: string;
}

/** What a client may ask of a submission; anything left out takes the operator's default. */
export type SubmitRequest = Partial<SubmissionOptions>;

export interface TaskServiceDeps {
  store: TaskStore;
  lifecycle: TaskLifecycle;
  bus: CompletionBus;
  limits: ApiLimits;
  /** Operator defaults, which are also the upper bounds a submission may ask for. */
  defaults: SubmissionOptions;
  /** Whether a submission may turn robots.txt off. */
  allowRobotsOverride: boolean;
  /** Tells the dispatcher new work is in the queue. */
  onSubmitted: () => void;
  /** What a caller may hold open at once, and how far a stream may fall behind. */
  quotas: { waits: Quota; streams: Quota; subscriberBuffer: number };
  rateLimits: RateLimits;
  /** One info line per accepted submission. */
  logger: Logger;
}

/**
 * The futures API: submit, wait (result / batch / taskDone), cancel. It validates every argument before
 * anything is stored, and delegates: status writes to the lifecycle, reads to the store. Waiting is driven
 * by completion events, never by polling: each waiter subscribes first, reads once, then only consumes
 * events; a wait ends early when its request's signal aborts.
 */
export class TaskService {
  readonly #deps: TaskServiceDeps;
  // Coalesce the single-task reads of one event-loop turn into one query: a thousand `result(id)` calls
  // arriving together cost one read. One loader per scope (reads are scoped by the store); no cache: a task
  // changes between reads.
  readonly #loaders = new LRUCache<string, DataLoader<number, Task | undefined>>({ max: 1000 });
  readonly #feeds = new Set<DoneFeed>();
  #accepting = true;

  constructor(deps: TaskServiceDeps) {
    this.#deps = deps;
  }

  /** `pool.submit(...)` for many URLs, owned by the caller: every row is committed before this returns. */
  async submit(call: CallContext, urls: readonly string[], request: SubmitRequest = {}): Promise<Submission> {
    if (!this.#accepting) throw new ShuttingDownError();
    const checked = validateUrls(urls, this.#deps.limits);
    const options = this.#options(request);
    await this.#deps.rateLimits.urls(call.caller, checked.length);
    const submission = await this.#deps.lifecycle.submit(checked, options, call.caller?.keyId ?? null);
    this.#deps.logger.info(
      { submissionId: submission.id, urls: submission.tasks.length, key: call.caller?.name ?? null, requestId: call.requestId },
      "submission accepted",
    );
    this.#deps.onSubmitted();
    return submission;
  }

  /** Submit one URL and wait for it: `pool.submit(task, url).result()`. */
  async crawl(call: CallContext, url: string, timeoutMs: number | null | undefined, request: SubmitRequest = {}): Promise<Task> {
    this.#waitMs(timeoutMs); // every argument is checked before anything is stored
    const { tasks } = await this.submit(call, [url], request);
    return this.result(call, String(tasks[0]!.id), timeoutMs);
  }

  /** Never blocks; null for an unknown id (or another key's task). */
  async get(call: CallContext, id: string): Promise<Task | null> {
    const taskId = parseId(id);
    return taskId === null ? null : ((await this.#loaderFor(scopeOf(call))(taskId)) ?? null);
  }

  /** `Future.result(timeout)`: the task once done, or TIMEOUT (the task goes on). */
  async result(call: CallContext, id: string, timeoutMs: number | null | undefined): Promise<Task> {
    const { signal } = call;
    const wait = this.#waitMs(timeoutMs);
    const taskId = parseId(id);
    if (taskId === null) throw new NotFoundError("task", [id]);
    const feed = await this.#feed(call, "wait", { kind: "ids", ids: new Set([taskId]) });
    try {
      const task = await this.#loaderFor(scopeOf(call))(taskId);
      if (!task) throw new NotFoundError("task", [id]);
      if (isTerminal(task.status)) return task;
      const done = await feed.nextBefore(Date.now() + wait);
      if (!done) throw this.#whyNoCompletion(signal, () => new WaitTimeoutError(id, wait));
      return done;
    } finally {
      feed.close();
    }
  }

  /** `concurrent.futures.wait(fs, return_when)`; at the timeout it returns what stands, `complete: false`. */
  async batch(
    call: CallContext,
    args: {
      ids?: readonly string[] | null;
      submissionId?: string | null;
      timeoutMs?: number | null;
      returnWhen?: ReturnWhen | null;
    },
  ): Promise<BatchOutcome> {
    const { signal } = call;
    const scope = scopeOf(call);
    const wait = this.#waitMs(args.timeoutMs);
    const returnWhen = args.returnWhen ?? "ALL_COMPLETED";
    const { selection, read, order } = this.#selection(scope, args.ids, args.submissionId);
    const feed = await this.#feed(call, "wait", selection);
    try {
      const byId = new Map((await read()).map((t) => [t.id, t]));
      const asked = order ?? [...byId.keys()];
      this.#checkFound(args.ids, byId);

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
      if (signal?.aborted) throw new WaitAbortedError();
      // Events carry only completions; one read refreshes the rest (PENDING → RUNNING) for the answer.
      const unfinished = [...byId.values()].filter((t) => !isTerminal(t.status)).map((t) => t.id);
      for (const fresh of await this.#deps.store.findByIds(unfinished, scope)) byId.set(fresh.id, fresh);
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
  async watchDone(
    call: CallContext,
    args: { ids?: readonly string[] | null; submissionId?: string | null },
  ): Promise<AsyncIterableIterator<Task | SlowSubscriberError>> {
    const scope = scopeOf(call);
    if (args.ids == null && args.submissionId == null) {
      return this.#feed(call, "stream", scope.kind === "all" ? { kind: "all" } : { kind: "owner", keyId: scope.keyId });
    }
    const { selection, read } = this.#selection(scope, args.ids, args.submissionId);
    const feed = await this.#feed(call, "stream", selection);
    try {
      const tasks = await read();
      const found = new Map(tasks.map((t) => [t.id, t]));
      this.#checkFound(args.ids, found);
      feed.seed(tasks.filter((t) => isTerminal(t.status)));
      feed.expect(found.keys());
      return feed;
    } catch (error) {
      feed.close();
      throw error;
    }
  }

  /** `Future.cancel()`: PENDING becomes CANCELLED; RUNNING or done tasks are returned as they stand. */
  async cancel(call: CallContext, id: string): Promise<Task> {
    const scope = scopeOf(call);
    const taskId = parseId(id);
    const [visible] = taskId === null ? [] : await this.#deps.store.findByIds([taskId], scope);
    if (!visible) throw new NotFoundError("task", [id]);
    const cancelled = await this.#deps.lifecycle.cancel(visible.id);
    if (cancelled) return cancelled;
    const [task] = await this.#deps.store.findByIds([visible.id], scope);
    return task ?? visible;
  }

  list(call: CallContext, args: { status?: TaskStatus | null; first?: number | null; after?: string | null }): Promise<Task[]> {
    const { defaultPageSize, maxPageSize } = this.#deps.limits;
    const first = args.first ?? defaultPageSize;
    if (first < 0 || first > maxPageSize) throw new BadUserInputError(`first must be between 0 and ${maxPageSize}`, { first });
    const afterId = args.after == null ? undefined : parseId(args.after);
    if (afterId === null) throw new BadUserInputError(`after is not a task id: ${args.after}`);
    return this.#deps.store.listTasks({ scope: scopeOf(call), status: args.status ?? undefined, first, afterId });
  }

  /**
   * A submission's tasks in id order, read a page at a time (keyset) as the consumer asks for the next:
   * memory bounded by one page whatever the submission's size. NOT_FOUND (unknown, or another key's) is
   * thrown before the first page is handed out, so an HTTP answer can still be a 404.
   */
  async submissionPages(call: CallContext, submissionId: string, pageSize: number): Promise<AsyncIterable<Task[]>> {
    const scope = scopeOf(call);
    const sid = parseId(submissionId);
    const read = (afterId?: number) => this.#deps.store.listTasks({ scope, submissionId: sid!, first: pageSize, afterId });
    const first = sid === null ? [] : await read();
    // Every submission has at least one task: an empty first page means none the caller may see.
    if (first.length === 0) throw new NotFoundError("submission", [submissionId]);
    return (async function* () {
      for (let page = first; page.length > 0; page = page.length < pageSize ? [] : await read(page.at(-1)!.id)) yield page;
    })();
  }

  /** Task counts by status: the caller's (an admin key, or no keys: all). */
  countByStatus(call: CallContext): Promise<Record<TaskStatus, number>> {
    return this.#deps.store.countByStatus(scopeOf(call));
  }

  /** Shutdown, step one: from now on new submissions fail with SHUTTING_DOWN (returns at once). */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /** Shutdown: ends every open wait and subscription cleanly (streams complete). */
  closeFeeds(): void {
    for (const feed of [...this.#feeds]) feed.close();
  }

  /** Open waits and subscriptions (a leak shows here). */
  get openFeeds(): number {
    return this.#feeds.size;
  }

  /** Open taskDone subscriptions. */
  get openStreams(): number {
    return this.#deps.quotas.streams.total;
  }

  /** Open blocking waits (result, batch, crawl). */
  get openWaits(): number {
    return this.#deps.quotas.waits.total;
  }

  /**
   * A live feed for one wait (`kind: "wait"`: result, batch) or one stream (taskDone), counted against
   * the caller's quota of that kind until it closes. A stream's queue is bounded (slow subscribers).
   */
  async #feed(call: CallContext, kind: "wait" | "stream", selection: DoneSelection): Promise<DoneFeed> {
    const { signal } = call;
    if (signal?.aborted) throw new WaitAbortedError();
    const release = (kind === "wait" ? this.#deps.quotas.waits : this.#deps.quotas.streams).acquire(call.caller);
    const onAbort = () => feed.close();
    let feed: DoneFeed;
    try {
      feed = await DoneFeed.open(
        this.#deps.bus,
        selection,
        (closed) => {
          this.#feeds.delete(closed);
          signal?.removeEventListener("abort", onAbort);
          release();
        },
        kind === "stream" ? this.#deps.quotas.subscriberBuffer : undefined,
      );
    } catch (error) {
      release();
      throw error;
    }
    if (feed.closed) return feed;
    this.#feeds.add(feed);
    signal?.addEventListener("abort", onAbort, { once: true });
    return feed;
  }

  /** Why a wait ended without its completion: the client left, shutdown, or else the caller's timeout. */
  #whyNoCompletion(signal: AbortSignal | undefined, timeout: () => Error): Error {
    if (signal?.aborted) return new WaitAbortedError();
    if (!this.#accepting) return new ShuttingDownError();
    return timeout();
  }

  #loaderFor(scope: TaskScope): (id: number) => Promise<Task | undefined> {
    const key = scope.kind === "all" ? "all" : String(scope.keyId);
    let loader = this.#loaders.get(key);
    if (!loader) {
      loader = new DataLoader(
        async (ids) => {
          const found = new Map((await this.#deps.store.findByIds(ids, scope)).map((t) => [t.id, t]));
          return ids.map((id) => found.get(id));
        },
        { cache: false, batchScheduleFn: (run) => setImmediate(run) },
      );
      this.#loaders.set(key, loader);
    }
    return (id) => loader.load(id);
  }

  #selection(scope: TaskScope, ids: readonly string[] | null | undefined, submissionId: string | null | undefined) {
    if ((ids == null) === (submissionId == null)) {
      throw new BadUserInputError("Pass exactly one of ids or submissionId");
    }
    if (ids != null) {
      const max = this.#deps.limits.maxBatchIds;
      if (ids.length > max) throw new BadUserInputError(`At most ${max} ids; got ${ids.length}`, { max });
      const order = ids.map(parseId);
      const known = [...new Set(order.filter((id): id is number => id !== null))];
      return {
        selection: { kind: "ids", ids: new Set(known) } as DoneSelection,
        read: () => this.#deps.store.findByIds(known, scope),
        // Ids that cannot exist map to -1, which no task has: #checkFound names them.
        order: order.map((id) => id ?? -1),
      };
    }
    const sid = parseId(submissionId!);
    const read = async () => {
      const tasks = sid === null ? null : await this.#deps.store.findBySubmission(sid, scope);
      if (!tasks) throw new NotFoundError("submission", [submissionId!]);
      return tasks;
    };
    return { selection: { kind: "submission", submissionId: sid ?? -1 } as DoneSelection, read, order: null };
  }

  /** Fails with NOT_FOUND naming, as sent, every asked id that has no task (ids mode only). */
  #checkFound(ids: readonly string[] | null | undefined, found: ReadonlyMap<number, Task>): void {
    if (ids == null) return;
    const missing = [...new Set(ids.filter((id) => !found.has(parseId(id) ?? -1)))];
    if (missing.length > 0) throw new NotFoundError("task", missing);
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
    const { defaults, allowRobotsOverride, limits } = this.#deps;
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
      maxRetries:
        request.maxRetries === undefined ? defaults.maxRetries : bounded("maxRetries", request.maxRetries, limits.maxRetriesCeiling),
      perHostConcurrency: bounded("perHostConcurrency", request.perHostConcurrency, defaults.perHostConcurrency, 1),
      // A submission may be gentler than the operator's floor, never harsher.
      hostDelayMs: Math.max(bounded("hostDelayMs", request.hostDelayMs ?? 0, limits.maxHostDelayMs), defaults.hostDelayMs),
      respectRobots: request.respectRobots ?? defaults.respectRobots,
    };
  }
}

/** What a caller may see: everything without keys or with an admin key, else its own tasks. */
function scopeOf({ caller }: CallContext): TaskScope {
  return caller === null || caller.admin ? ALL_TASKS : { kind: "owner", keyId: caller.keyId };
}

/**
 * Task and submission ids are positive integers rendered as GraphQL IDs. Anything else, including a
 * number past 2^53 that would round to another id, names no task.
 */
export function parseId(id: string): number | null {
  if (!/^[1-9]\d{0,15}$/.test(id)) return null;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : null;
}

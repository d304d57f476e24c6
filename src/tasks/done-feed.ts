import type { CompletionBus, DoneSelection, Unsubscribe } from "./completion-bus.js";
import { CrawlqError } from "./errors.js";
import type { Task } from "./task.js";

/**
 * The completions of a selection of tasks, each exactly once. `open` subscribes to the bus and resolves
 * once the subscription is live; the caller then reads the store and hands what was already done to
 * `seed`; any later event for a task already emitted is dropped. Used by `result`, `batch` and `taskDone`.
 */
// Fairness between many subscribers and everything else on the event loop. A subscriber's transport may finish
// a write synchronously and ask for the next item at once (a socket's write callback runs before the event loop
// moves on), so 2,000 subscribers with a backlog would drain it all in one turn, starving /healthz, keep-alives
// and the dispatcher for seconds. Streams hand out items in slices of at most SLICE_MS, then yield a turn.
// All streams share one slice and one yield: the slice restarts once per turn, not once per resumed stream.
const SLICE_MS = 8;
let sliceStartedAt = performance.now();
let nextSlice: Promise<void> | null = null;

function yieldWhenSliceUsed(): Promise<void> | undefined {
  if (performance.now() - sliceStartedAt < SLICE_MS) return undefined;
  nextSlice ??= new Promise((resolve) =>
    setImmediate(() => {
      nextSlice = null;
      sliceStartedAt = performance.now();
      resolve();
    }),
  );
  return nextSlice;
}

/** A subscriber fell too far behind; its stream ends so it cannot hold the service's memory. */
export class SlowSubscriberError extends CrawlqError {
  constructor(maxQueued: number) {
    super(
      "SLOW_SUBSCRIBER",
      `This subscription fell more than ${maxQueued} completions behind and was ended; subscribe again to get the rest (done tasks are sent first)`,
      { maxQueued },
    );
  }
}

export class DoneFeed implements AsyncIterableIterator<Task | SlowSubscriberError> {
  readonly #queue: Task[] = [];
  readonly #seen = new Set<number>();
  readonly #onClose: (feed: DoneFeed) => void;
  #unsubscribe: Unsubscribe = () => {};
  #wake: (() => void) | null = null;
  #remaining: Set<number> | null = null;
  #closed = false;
  // Set when more than #maxQueued completions waited for a consumer that does not keep up.
  #overflowed: SlowSubscriberError | null = null;
  readonly #maxQueued: number;

  // An unfiltered feed is never seeded and a terminal state is published once, so it keeps no ids
  // (an open-ended subscription must not grow with every completion it has passed on).
  readonly #dedupe: boolean;

  private constructor(selection: DoneSelection, onClose: (feed: DoneFeed) => void, maxQueued: number) {
    this.#onClose = onClose;
    this.#dedupe = selection.kind === "ids" || selection.kind === "submission";
    this.#maxQueued = maxQueued;
  }

  /**
   * A feed whose subscription is live; `onClose` runs once when it closes (for whatever reason). Past
   * `maxQueued` completions waiting for the consumer, the feed ends: the iterator yields one
   * SlowSubscriberError, then is done (the subscriber may subscribe again: done tasks are replayed).
   */
  static async open(
    bus: CompletionBus,
    selection: DoneSelection,
    onClose: (feed: DoneFeed) => void = () => {},
    maxQueued = Number.POSITIVE_INFINITY,
  ): Promise<DoneFeed> {
    const feed = new DoneFeed(selection, onClose, maxQueued);
    const unsubscribe = await bus.subscribe(selection, (task) => feed.#push(task, false));
    if (feed.#closed) unsubscribe(); // closed (shutdown, abort) while the subscription was being set up
    else feed.#unsubscribe = unsubscribe;
    return feed;
  }

  /** Tasks found already done by the read that followed subscribing; they go before anything newer. */
  seed(done: readonly Task[]): void {
    const fresh = done.filter((t) => !this.#seen.has(t.id));
    fresh.sort((a, b) => (a.finishedAt?.getTime() ?? 0) - (b.finishedAt?.getTime() ?? 0));
    for (const t of fresh.reverse()) this.#push(t, true);
  }

  /** Ends the feed once every one of `ids` has been emitted (finite selections). */
  expect(ids: Iterable<number>): void {
    this.#remaining = new Set([...ids].filter((id) => !this.#seen.has(id)));
    this.#closeIfComplete();
  }

  /** The next completion, or null when the deadline passes or the feed is closed first. */
  async nextBefore(deadline: number): Promise<Task | null> {
    while (this.#queue.length === 0) {
      const wait = deadline - Date.now();
      if (this.#closed || wait <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
    return this.#queue.shift()!;
  }

  async next(): Promise<IteratorResult<Task | SlowSubscriberError>> {
    await yieldWhenSliceUsed();
    for (;;) {
      if (this.#overflowed) {
        const error = this.#overflowed;
        this.#overflowed = null;
        return { value: error, done: false };
      }
      const task = this.#queue.shift();
      if (task) {
        this.#closeIfComplete();
        return { value: task, done: false };
      }
      if (this.#closed) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = null;
    }
  }

  async return(): Promise<IteratorResult<Task | SlowSubscriberError>> {
    this.close();
    this.#queue.length = 0;
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Unsubscribes; queued completions are still delivered, then the iterator ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#onClose(this);
    this.#wake?.();
  }

  #push(task: Task, front: boolean): void {
    if (this.#closed || this.#seen.has(task.id)) return;
    if (this.#dedupe) this.#seen.add(task.id);
    if (this.#queue.length >= this.#maxQueued) {
      this.#queue.length = 0;
      this.#overflowed = new SlowSubscriberError(this.#maxQueued);
      this.close();
      return;
    }
    if (front) this.#queue.unshift(task);
    else this.#queue.push(task);
    this.#remaining?.delete(task.id);
    this.#wake?.();
  }

  // Only once the last expected task has been handed out, so nothing queued is lost.
  #closeIfComplete(): void {
    if (this.#remaining !== null && this.#remaining.size === 0 && this.#queue.length === 0) this.close();
  }
}

import type { CompletionBus } from "./completion-bus.js";
import type { Submission, SubmissionOptions, Task, TaskError } from "./task.js";
import { isTerminal } from "./task-state.js";
import type { AttemptOutcome, ClaimedTask, ClaimRequest, TaskStore } from "./task-store.js";
import type { CheckedUrl } from "./validate-urls.js";

/**
 * Told of committed transitions, after they are published: what metrics and logs need of the lifecycle.
 * Called on the completion path, so it must be cheap and must not throw.
 */
export interface LifecycleObserver {
  /** Tasks that reached a terminal state, as published: one call per write. */
  ended(tasks: readonly Task[]): void;
  /** Attempts that failed and will be tried again later (RUNNING → PENDING), `count` in one write. */
  retried(count: number): void;
}

/** A claim as the dispatcher asks for it: the lifecycle adds its owner and clock. */
export type ClaimOptions = Omit<ClaimRequest, "owner" | "now">;

/**
 * The one owner of task status. Each verb is a transition of task-state.ts: it performs the conditional
 * write through the store, then publishes on the completion bus exactly the rows that committed and
 * ended (persist, then publish). Nothing else writes a status or publishes a completion.
 *
 * `owner` names this instance: it takes the claims, and only it may end or requeue them.
 */
export class TaskLifecycle {
  readonly #store: TaskStore;
  readonly #bus: CompletionBus;
  readonly #clock: () => number;
  readonly #observer: LifecycleObserver | undefined;
  readonly owner: string;

  constructor(deps: { store: TaskStore; bus: CompletionBus; owner: string; clock?: () => number; observer?: LifecycleObserver }) {
    this.#store = deps.store;
    this.#bus = deps.bus;
    this.owner = deps.owner;
    this.#clock = deps.clock ?? Date.now;
    this.#observer = deps.observer;
  }

  /** Creates the submission's tasks in the initial state, owned by `ownerKeyId`, all in one transaction. */
  submit(urls: readonly CheckedUrl[], options: SubmissionOptions, ownerKeyId: number | null): Promise<Submission> {
    return this.#store.createSubmission(urls, options, this.#clock(), ownerKeyId);
  }

  /** claim: PENDING → RUNNING for the runnable tasks `admit` accepts, round-robin by host (TaskStore.claim). */
  claim(options: ClaimOptions): Promise<ClaimedTask[]> {
    return this.#store.claim({ ...options, owner: this.owner, now: this.#clock() });
  }

  /**
   * succeed, fail and retryLater for many attempts in one write (RUNNING → SUCCEEDED | FAILED | PENDING),
   * each fenced by this instance's claim. Returns the rows written; the terminal ones are published.
   */
  async finishAttempts(outcomes: readonly AttemptOutcome[]): Promise<Task[]> {
    const written = await this.#store.finishAttempts(this.owner, outcomes, this.#clock());
    if (this.#observer) {
      let retried = 0;
      for (const task of written) if (task.status === "PENDING") retried++;
      if (retried > 0) this.#observer.retried(retried);
    }
    return this.#published(written);
  }

  /** reject: PENDING → FAILED without an attempt (robots.txt disallows the URL). */
  async reject(ids: readonly number[], error: TaskError): Promise<Task[]> {
    return this.#published(await this.#store.reject(ids, error, this.#clock()));
  }

  /** cancel: PENDING → CANCELLED; null when the task is not PENDING (it is then left as it stands). */
  async cancel(id: number): Promise<Task | null> {
    const cancelled = await this.#store.cancel(id, this.#clock());
    if (cancelled) {
      const ended = [cancelled];
      this.#bus.publish(ended);
      this.#observer?.ended(ended);
    }
    return cancelled;
  }

  /** requeue: RUNNING → PENDING for this instance's claims (the given ids, or all); they run again. */
  requeue(ids?: readonly number[]): Promise<number> {
    return this.#store.requeue(this.owner, ids);
  }

  /** requeue for the claims of instances that are gone (a crashed process): they run again. */
  requeueOrphans(): Promise<number> {
    return this.#store.requeueOrphans(this.owner);
  }

  #published(written: Task[]): Task[] {
    const ended = written.filter((t) => isTerminal(t.status));
    if (ended.length > 0) {
      this.#bus.publish(ended);
      this.#observer?.ended(ended);
    }
    return written;
  }
}

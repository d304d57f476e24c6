import type { Task } from "./task.js";

/** Which completions a subscriber wants. */
export type DoneSelection =
  | { kind: "all" }
  /** Every completion of one API key's tasks. */
  | { kind: "owner"; keyId: number }
  | { kind: "ids"; ids: ReadonlySet<number> }
  | { kind: "submission"; submissionId: number };

export type CompletionListener = (task: Task) => void;

/** Told that runnable work may exist: tasks became PENDING, or a completion freed a host slot. */
export type WorkListener = () => void;

/** Ends a subscription; calling it again does nothing. */
export type Unsubscribe = () => void;

/**
 * Carries completions (tasks that reached a terminal state) from the lifecycle, which publishes only
 * what committed, to every waiter and subscriber, in this process or (for a cross-process transport) in
 * any instance.
 *
 * The waiting paths rely on one guarantee: once `subscribe` has resolved, every completion published
 * afterwards, by anyone, reaches the listener. So a waiter subscribes first, then reads the store once,
 * then de-duplicates (see DoneFeed); no completion can fall between the read and the live feed, even over
 * a transport with latency.
 */
export interface CompletionBus {
  /**
   * Publishes committed terminal rows, in commit order. Never throws: a transport failure is logged. A bus
   * whose transport announces commits itself (PostgreSQL's) delivers them from there and only keeps these rows.
   */
  publish(tasks: readonly Task[]): void;
  /** Resolves once the subscription is live (rejects with ShuttingDownError once a cross-process bus is closed). */
  subscribe(selection: DoneSelection, listener: CompletionListener): Promise<Unsubscribe>;
  /**
   * Wakes a dispatcher for work it did not cause itself: another instance submitted, retried or requeued
   * tasks, or finished one (freeing a slot of a host this instance may be holding back). A hint only, with
   * no payload and no promise of exactly once; the listener should just look for work.
   */
  onWork(listener: WorkListener): Unsubscribe;
  /** Live subscriptions in this process (for tests and diagnostics: a leak shows here). */
  subscriptionCount(): number;
  close(): Promise<void>;
}

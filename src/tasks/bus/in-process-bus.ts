import type { CompletionBus, CompletionListener, DoneSelection, Unsubscribe, WorkListener } from "../completion-bus.js";
import type { Task } from "../task.js";

/**
 * The completion bus of a single process. Subscriptions are indexed by task id, submission and owner, so a
 * completion costs one map lookup per index however many subscriptions exist and however many ids each
 * one selects; delivery is synchronous, so a subscription is live as soon as it is registered.
 */
export class InProcessCompletionBus implements CompletionBus {
  readonly #everything = new Set<CompletionListener>();
  readonly #byTask = new Map<number, Set<CompletionListener>>();
  readonly #bySubmission = new Map<number, Set<CompletionListener>>();
  readonly #byOwner = new Map<number, Set<CompletionListener>>();
  #subscriptions = 0;

  publish(tasks: readonly Task[]): void {
    for (const task of tasks) {
      for (const listener of this.#everything) listener(task);
      const byTask = this.#byTask.get(task.id);
      if (byTask) for (const listener of byTask) listener(task);
      const bySubmission = this.#bySubmission.get(task.submissionId);
      if (bySubmission) for (const listener of bySubmission) listener(task);
      const byOwner = task.ownerKeyId === null ? undefined : this.#byOwner.get(task.ownerKeyId);
      if (byOwner) for (const listener of byOwner) listener(task);
    }
  }

  async subscribe(selection: DoneSelection, listener: CompletionListener): Promise<Unsubscribe> {
    // Registered under a function of this subscription's own: the same listener subscribed twice is two
    // subscriptions, and ending one must not end the other (the index sets would otherwise share it).
    const deliver: CompletionListener = (task) => listener(task);
    const entries: Array<{ index: Map<number, Set<CompletionListener>>; key: number }> = [];
    switch (selection.kind) {
      case "all":
        this.#everything.add(deliver);
        break;
      case "submission":
        entries.push({ index: this.#bySubmission, key: selection.submissionId });
        break;
      case "owner":
        entries.push({ index: this.#byOwner, key: selection.keyId });
        break;
      case "ids":
        for (const id of selection.ids) entries.push({ index: this.#byTask, key: id });
        break;
    }
    for (const { index, key } of entries) {
      const listeners = index.get(key);
      if (listeners) listeners.add(deliver);
      else index.set(key, new Set([deliver]));
    }
    this.#subscriptions++;
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.#subscriptions--;
      if (selection.kind === "all") this.#everything.delete(deliver);
      for (const { index, key } of entries) {
        const listeners = index.get(key);
        listeners?.delete(deliver);
        if (listeners?.size === 0) index.delete(key);
      }
    };
  }

  /**
   * Never fires: in one process every source of work (a submission, a retry, a requeue, a finished attempt)
   * is in this process and wakes the dispatcher directly.
   */
  onWork(_listener: WorkListener): Unsubscribe {
    return () => {};
  }

  subscriptionCount(): number {
    return this.#subscriptions;
  }

  async close(): Promise<void> {
    this.#everything.clear();
    this.#byTask.clear();
    this.#bySubmission.clear();
    this.#byOwner.clear();
  }
}

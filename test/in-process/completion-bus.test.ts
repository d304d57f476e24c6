import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InProcessCompletionBus } from "../../src/tasks/bus/in-process-bus.js";
import type { CompletionListener, DoneSelection } from "../../src/tasks/completion-bus.js";
import type { Task } from "../../src/tasks/task.js";

function doneTask(id: number, submissionId = 1): Task {
  return {
    id,
    submissionId,
    ownerKeyId: null,
    url: `https://a.example/${id}`,
    host: "a.example",
    status: "SUCCEEDED",
    attempts: 1,
    worker: 0,
    result: null,
    error: null,
    createdAt: new Date(0),
    startedAt: new Date(0),
    finishedAt: new Date(1),
  };
}

/** A listener that records the ids it was given. */
function recorder(): CompletionListener & { ids: number[] } {
  const ids: number[] = [];
  return Object.assign((task: Task) => void ids.push(task.id), { ids });
}

const ids = (...values: number[]): DoneSelection => ({ kind: "ids", ids: new Set(values) });

describe("InProcessCompletionBus", () => {
  let bus: InProcessCompletionBus;
  beforeEach(() => {
    bus = new InProcessCompletionBus();
  });
  afterEach(async () => {
    await bus.close();
  });

  it("delivers a completion to the subscribers of its id, of its submission and of all, not to others", async () => {
    const byId = recorder();
    const bySubmission = recorder();
    const all = recorder();
    const otherId = recorder();
    const otherSubmission = recorder();
    await bus.subscribe(ids(7), byId);
    await bus.subscribe({ kind: "submission", submissionId: 3 }, bySubmission);
    await bus.subscribe({ kind: "all" }, all);
    await bus.subscribe(ids(8), otherId);
    await bus.subscribe({ kind: "submission", submissionId: 4 }, otherSubmission);
    bus.publish([doneTask(7, 3)]);
    expect(byId.ids).toEqual([7]);
    expect(bySubmission.ids).toEqual([7]);
    expect(all.ids).toEqual([7]);
    expect(otherId.ids).toEqual([]);
    expect(otherSubmission.ids).toEqual([]);
  });

  it("delivers a batch in the order it was published", async () => {
    const all = recorder();
    const submission = recorder();
    await bus.subscribe({ kind: "all" }, all);
    await bus.subscribe({ kind: "submission", submissionId: 1 }, submission);
    bus.publish([doneTask(3), doneTask(1), doneTask(2)]);
    expect(all.ids).toEqual([3, 1, 2]);
    expect(submission.ids).toEqual([3, 1, 2]);
  });

  it("gives a subscriber for many ids each of them once, and nothing else", async () => {
    const many = recorder();
    const selected = Array.from({ length: 50 }, (_, i) => i * 2);
    await bus.subscribe(ids(...selected), many);
    bus.publish(Array.from({ length: 100 }, (_, i) => doneTask(i)));
    expect(many.ids).toEqual(selected);
  });

  it("is live as soon as subscribe resolves", async () => {
    const listener = recorder();
    await bus.subscribe(ids(1), listener);
    bus.publish([doneTask(1)]);
    expect(listener.ids).toEqual([1]);
  });

  it("stops delivering once unsubscribed; unsubscribing again does nothing; nothing is left behind", async () => {
    const listeners = [recorder(), recorder(), recorder(), recorder()];
    const selections: DoneSelection[] = [{ kind: "all" }, ids(1, 2, 3), ids(2, 3, 4), { kind: "submission", submissionId: 1 }];
    const unsubscribes = await Promise.all(selections.map((s, i) => bus.subscribe(s, listeners[i]!)));
    expect(bus.subscriptionCount()).toBe(4);
    for (const unsubscribe of unsubscribes) {
      unsubscribe();
      unsubscribe();
    }
    expect(bus.subscriptionCount()).toBe(0);
    bus.publish([1, 2, 3, 4].map((id) => doneTask(id)));
    for (const listener of listeners) expect(listener.ids).toEqual([]);
  });

  it("keeps the other subscriptions on a shared id when one unsubscribes", async () => {
    const leaving = recorder();
    const staying = recorder();
    const unsubscribe = await bus.subscribe(ids(1, 2), leaving);
    await bus.subscribe(ids(2, 3), staying);
    unsubscribe();
    unsubscribe();
    expect(bus.subscriptionCount()).toBe(1);
    bus.publish([1, 2, 3].map((id) => doneTask(id)));
    expect(leaving.ids).toEqual([]);
    expect(staying.ids).toEqual([2, 3]);
  });

  it("treats the same listener subscribed twice as two subscriptions: ending one keeps the other", async () => {
    const listener = recorder();
    const first = await bus.subscribe(ids(1), listener);
    await bus.subscribe(ids(1), listener);
    const firstAll = await bus.subscribe({ kind: "all" }, listener);
    await bus.subscribe({ kind: "all" }, listener);
    first();
    firstAll();
    expect(bus.subscriptionCount()).toBe(2);
    bus.publish([doneTask(1)]);
    expect(listener.ids).toEqual([1, 1]);
  });

  it("lets a listener unsubscribe while it is being called; the others still get the completion", async () => {
    const after = recorder();
    const unsubscribes: Array<() => void> = [];
    const selfRemoving = recorder();
    unsubscribes.push(
      await bus.subscribe(ids(1), (task) => {
        selfRemoving(task);
        unsubscribes[0]!();
      }),
    );
    await bus.subscribe(ids(1), after);
    bus.publish([doneTask(1)]);
    bus.publish([doneTask(1)]);
    expect(selfRemoving.ids).toEqual([1]);
    expect(after.ids).toEqual([1, 1]);
    expect(bus.subscriptionCount()).toBe(1);
  });

  it("takes 1,000 subscribers on one task id without a MaxListenersExceededWarning, delivering to each once", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning);
    process.on("warning", onWarning);
    try {
      let delivered = 0;
      const unsubscribes = await Promise.all(
        Array.from({ length: 1000 }, () => bus.subscribe(ids(42), () => void delivered++)),
      );
      expect(bus.subscriptionCount()).toBe(1000);
      bus.publish([doneTask(42)]);
      expect(delivered).toBe(1000);
      for (const unsubscribe of unsubscribes) unsubscribe();
      expect(bus.subscriptionCount()).toBe(0);
      bus.publish([doneTask(42)]);
      expect(delivered).toBe(1000);
      // process 'warning' is emitted on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  });

  it("drops every subscription on close", async () => {
    const listener = recorder();
    await bus.subscribe({ kind: "all" }, listener);
    await bus.subscribe(ids(1), listener);
    await bus.close();
    bus.publish([doneTask(1)]);
    expect(listener.ids).toEqual([]);
  });
});

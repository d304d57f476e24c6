import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InProcessCompletionBus } from "../../src/tasks/bus/in-process-bus.js";
import type { PageResult, SubmissionOptions, Task, TaskError } from "../../src/tasks/task.js";
import { TaskLifecycle } from "../../src/tasks/task-lifecycle.js";
import {
  canTransition,
  endsTask,
  INITIAL_STATUS,
  TASK_STATUSES,
  TRANSITIONS,
  type TaskStatus,
  type TransitionName,
} from "../../src/tasks/task-state.js";
import { ALL_TASKS, type AttemptOutcome, type TaskStore } from "../../src/tasks/task-store.js";
import { useFreshSqlite } from "./fresh-sqlite.js";

const sqlite = useFreshSqlite();

const T0 = 1_750_000_000_000;
const OPTIONS: SubmissionOptions = { maxRetries: 2, perHostConcurrency: 4, hostDelayMs: 0, respectRobots: false };
const ROBOTS: TaskError = { code: "ROBOTS_DISALLOWED", message: "robots.txt of https://a.example disallows this URL" };
const HTTP_503: TaskError = { code: "HTTP_STATUS", message: "HTTP 503" };

/** The in-process bus, also recording every publish call as it was made. */
class RecordingBus extends InProcessCompletionBus {
  readonly batches: Task[][] = [];
  override publish(tasks: readonly Task[]): void {
    this.batches.push([...tasks]);
    super.publish(tasks);
  }
}

function pageFor(url: string): PageResult {
  return { httpStatus: 200, finalUrl: url, contentType: "text/html", contentLength: 10, title: "t", linkCount: 0, fetchMs: 1, parseMs: 1 };
}

const succeed = (task: Task, attempt = task.attempts): AttemptOutcome => ({ id: task.id, attempt, worker: 1, kind: "succeed", page: pageFor(task.url) });
const fail = (task: Task): AttemptOutcome => ({ id: task.id, attempt: task.attempts, worker: 1, kind: "fail", error: HTTP_503, attemptMade: true });
const retryLater = (task: Task, runAt: number): AttemptOutcome => ({ id: task.id, attempt: task.attempts, worker: 1, kind: "retryLater", error: HTTP_503, runAt });

/**
 * Each transition as the lifecycle verb that performs it on one task; resolves with how many rows it
 * changed. Typed by TransitionName, so a transition added to TRANSITIONS does not compile until it has a
 * verb here, and the matrix below then covers it from every status.
 */
const VERBS: Record<TransitionName, (lifecycle: TaskLifecycle, task: Task, now: number) => Promise<number>> = {
  claim: async (lifecycle, task) =>
    (await lifecycle.claim({ limit: 100, skipHosts: new Set(), admit: (c) => c.id === task.id })).length,
  succeed: async (lifecycle, task) => (await lifecycle.finishAttempts([succeed(task)])).length,
  fail: async (lifecycle, task) => (await lifecycle.finishAttempts([fail(task)])).length,
  retryLater: async (lifecycle, task, now) => (await lifecycle.finishAttempts([retryLater(task, now + 60_000)])).length,
  reject: async (lifecycle, task) => (await lifecycle.reject([task.id], ROBOTS)).length,
  cancel: async (lifecycle, task) => ((await lifecycle.cancel(task.id)) ? 1 : 0),
  requeue: (lifecycle, task) => lifecycle.requeue([task.id]),
};

const TRANSITION_NAMES = Object.keys(TRANSITIONS) as TransitionName[];

/** The shortest sequence of transitions from INITIAL_STATUS to each status (breadth-first over TRANSITIONS). */
function pathsFromInitial(): Map<TaskStatus, TransitionName[]> {
  const paths = new Map<TaskStatus, TransitionName[]>([[INITIAL_STATUS, []]]);
  const queue: TaskStatus[] = [INITIAL_STATUS];
  while (queue.length > 0) {
    const status = queue.shift()!;
    for (const name of TRANSITION_NAMES) {
      const to = TRANSITIONS[name].to;
      if (canTransition(name, status) && !paths.has(to)) {
        paths.set(to, [...paths.get(status)!, name]);
        queue.push(to);
      }
    }
  }
  return paths;
}
const PATHS = pathsFromInitial();

describe("TaskLifecycle", () => {
  let store: TaskStore;
  let cleanup: () => Promise<void>;
  let bus: RecordingBus;
  let now: number;
  let lifecycle: TaskLifecycle;
  beforeEach(async () => {
    ({ store, cleanup } = await sqlite.open());
    bus = new RecordingBus();
    now = T0;
    lifecycle = new TaskLifecycle({ store, bus, owner: "owner-a", clock: () => now });
  });
  afterEach(async () => {
    await bus.close();
    await cleanup();
  });

  const read = async (id: number): Promise<Task> => {
    const [task] = await store.findByIds([id], ALL_TASKS);
    if (!task) throw new Error(`task ${id} is missing`);
    return task;
  };

  const submitOne = async (url = "https://a.example/1") => (await lifecycle.submit([{ url, host: new URL(url).hostname }], OPTIONS, null)).tasks[0]!;

  /** A new task brought to `status` through the lifecycle's own verbs. */
  const taskIn = async (status: TaskStatus): Promise<Task> => {
    const path = PATHS.get(status);
    if (!path) throw new Error(`${status} cannot be reached from ${INITIAL_STATUS}`);
    let task = await submitOne();
    for (const name of path) {
      now += 10;
      expect(await VERBS[name](lifecycle, task, now), `${name} on the way to ${status}`).toBe(1);
      task = await read(task.id);
    }
    expect(task.status).toBe(status);
    return task;
  };

  it("reaches every status from INITIAL_STATUS", () => {
    expect([...PATHS.keys()].sort()).toEqual([...TASK_STATUSES].sort());
  });

  describe("every transition from every status", () => {
    const cases = TASK_STATUSES.flatMap((from) => TRANSITION_NAMES.map((name) => ({ from, name, allowed: canTransition(name, from) })));

    for (const { from, name, allowed } of cases.filter((c) => c.allowed)) {
      const published = endsTask(name) ? "published" : "not published";
      it(`${name} from ${from} → ${TRANSITIONS[name].to}: written, ${published}`, async () => {
        const task = await taskIn(from);
        const publishedBefore = bus.batches.length;
        now += 10;
        expect(await VERBS[name](lifecycle, task, now)).toBe(1);
        const after = await read(task.id);
        expect(after.status).toBe(TRANSITIONS[name].to);
        expect(bus.batches.slice(publishedBefore)).toEqual(endsTask(name) ? [[after]] : []);
      });
    }

    for (const { from, name } of cases.filter((c) => !c.allowed)) {
      it(`${name} from ${from}: refused, nothing written, nothing published`, async () => {
        const task = await taskIn(from);
        const publishedBefore = bus.batches.length;
        now += 10;
        expect(await VERBS[name](lifecycle, task, now)).toBe(0);
        expect(await read(task.id)).toEqual(task);
        expect(bus.batches.slice(publishedBefore)).toEqual([]);
      });
    }
  });

  it("submit creates the tasks in INITIAL_STATUS and publishes nothing", async () => {
    const submission = await lifecycle.submit(
      [
        { url: "https://a.example/1", host: "a.example" },
        { url: "https://b.example/2", host: "b.example" },
      ],
      OPTIONS,
      null,
    );
    expect(submission.tasks.map((t) => t.status)).toEqual([INITIAL_STATUS, INITIAL_STATUS]);
    expect(submission.tasks.map((t) => t.createdAt)).toEqual([new Date(T0), new Date(T0)]);
    expect(bus.batches).toEqual([]);
  });

  it("claims as its owner at its clock's time", async () => {
    const task = await submitOne();
    now = T0 + 1234;
    const [claimed] = await lifecycle.claim({ limit: 10, skipHosts: new Set(), admit: () => true });
    expect(claimed!.task).toMatchObject({ id: task.id, status: "RUNNING", attempts: 1, startedAt: new Date(T0 + 1234) });
    expect(claimed!.options).toEqual(OPTIONS);
    // Only this owner may end the claim.
    const other = new TaskLifecycle({ store, bus, owner: "owner-b", clock: () => now });
    expect(await other.finishAttempts([succeed(claimed!.task)])).toEqual([]);
    expect(await lifecycle.finishAttempts([succeed(claimed!.task)])).toHaveLength(1);
  });

  it("refuses a second terminal write and publishes the completion once", async () => {
    const task = await taskIn("RUNNING");
    const [done] = await lifecycle.finishAttempts([succeed(task)]);
    expect(bus.batches).toEqual([[done]]);
    now += 10;
    expect(await lifecycle.finishAttempts([succeed(task)])).toEqual([]);
    expect(await lifecycle.finishAttempts([fail(task)])).toEqual([]);
    expect(await lifecycle.cancel(task.id)).toBeNull();
    expect(await lifecycle.reject([task.id], ROBOTS)).toEqual([]);
    expect(bus.batches).toEqual([[done]]);
    expect(await read(task.id)).toEqual(done);
  });

  it("writes a retryLater but does not publish it: the task is not done", async () => {
    const task = await taskIn("RUNNING");
    const [written] = await lifecycle.finishAttempts([retryLater(task, now + 5_000)]);
    expect(written).toMatchObject({ id: task.id, status: "PENDING", error: HTTP_503 });
    expect(await read(task.id)).toEqual(written);
    expect(bus.batches).toEqual([]);
  });

  it("publishes exactly the rows that committed and ended, in the order given", async () => {
    const submission = await lifecycle.submit(
      [1, 2, 3, 4].map((n) => ({ url: `https://a.example/${n}`, host: "a.example" })),
      OPTIONS,
      null,
    );
    const claimed = (await lifecycle.claim({ limit: 10, skipHosts: new Set(), admit: () => true })).map((c) => c.task);
    const [t1, t2, t3, t4] = claimed as [Task, Task, Task, Task];
    expect(claimed.map((t) => t.id)).toEqual(submission.tasks.map((t) => t.id));
    const written = await lifecycle.finishAttempts([fail(t4), succeed(t2, t2.attempts + 1), retryLater(t3, now + 1000), succeed(t1)]);
    expect(written.map((t) => t.id)).toEqual([t4.id, t3.id, t1.id]);
    // t2's outcome was fenced out (a stale attempt) and t3 only waits for a retry: neither is published.
    expect(bus.batches).toEqual([[await read(t4.id), await read(t1.id)]]);
    expect((await read(t2.id)).status).toBe("RUNNING");
  });

  it("publishes nothing for a finish that was entirely fenced out", async () => {
    const task = await taskIn("RUNNING");
    const other = new TaskLifecycle({ store, bus, owner: "owner-b", clock: () => now });
    expect(await other.finishAttempts([succeed(task), fail(task)])).toEqual([]);
    // A claim that was requeued and claimed again: the first attempt's result is stale.
    expect(await lifecycle.requeue([task.id])).toBe(1);
    const [again] = await lifecycle.claim({ limit: 10, skipHosts: new Set(), admit: () => true });
    expect(await lifecycle.finishAttempts([succeed(task)])).toEqual([]);
    expect(bus.batches).toEqual([]);
    expect(await read(task.id)).toEqual(again!.task);
  });

  it("publishes the cancelled row; a refused cancel publishes nothing", async () => {
    const pending = await submitOne("https://a.example/pending");
    now += 5;
    const cancelled = await lifecycle.cancel(pending.id);
    expect(cancelled).toMatchObject({ id: pending.id, status: "CANCELLED", finishedAt: new Date(now) });
    expect(bus.batches).toEqual([[cancelled]]);
    const running = await taskIn("RUNNING");
    expect(await lifecycle.cancel(running.id)).toBeNull();
    expect(await lifecycle.cancel(pending.id)).toBeNull();
    expect(bus.batches).toEqual([[cancelled]]);
  });

  it("publishes only the rows reject moved", async () => {
    const running = await taskIn("RUNNING");
    const pending = await submitOne("https://a.example/pending");
    const rejected = await lifecycle.reject([running.id, pending.id], ROBOTS);
    expect(rejected.map((t) => t.id)).toEqual([pending.id]);
    expect(bus.batches).toEqual([rejected]);
    expect(rejected[0]).toMatchObject({ status: "FAILED", error: ROBOTS, attempts: 0 });
  });

  it("requeue and requeueOrphans publish nothing; an orphan's late result is fenced out", async () => {
    const dead = new TaskLifecycle({ store, bus, owner: "owner-dead", clock: () => now });
    const orphan = await submitOne("https://a.example/orphan");
    const [orphanClaim] = await dead.claim({ limit: 10, skipHosts: new Set(), admit: (c) => c.id === orphan.id });
    const mine = await taskIn("RUNNING");
    expect(await lifecycle.requeueOrphans()).toBe(1);
    expect(await lifecycle.requeue()).toBe(1);
    expect((await store.findByIds([orphan.id, mine.id], ALL_TASKS)).map((t) => t.status)).toEqual(["PENDING", "PENDING"]);
    expect(await dead.finishAttempts([succeed(orphanClaim!.task)])).toEqual([]);
    expect(bus.batches).toEqual([]);
  });

  it("publishes only after the write committed: a read started by a subscriber sees the row as published", async () => {
    const seen: Array<Promise<Task[]>> = [];
    const published: Task[] = [];
    await bus.subscribe({ kind: "all" }, (task) => {
      published.push(task);
      seen.push(store.findByIds([task.id], ALL_TASKS));
    });
    const task = await taskIn("RUNNING");
    await lifecycle.finishAttempts([succeed(task)]);
    await lifecycle.cancel((await submitOne("https://a.example/2")).id);
    await lifecycle.reject([(await submitOne("https://a.example/3")).id], ROBOTS);
    expect(published.map((t) => t.status)).toEqual(["SUCCEEDED", "CANCELLED", "FAILED"]);
    expect((await Promise.all(seen)).flat()).toEqual(published);
  });
});

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PageResult, SubmissionOptions, Task, TaskError } from "../../src/tasks/task.js";
import { INITIAL_STATUS, TASK_STATUSES } from "../../src/tasks/task-state.js";
import { ALL_TASKS, type AttemptOutcome, type ClaimCandidate, type ClaimRequest, type TaskScope, type TaskStore } from "../../src/tasks/task-store.js";
import type { CheckedUrl } from "../../src/tasks/validate-urls.js";

/** A store on an empty database, as a backend's test file opens it for the contract. */
export interface OpenedTaskStore {
  store: TaskStore;
  /** Closes the store (and every one openAnother gave) and removes the database. */
  cleanup: () => Promise<void>;
  /** Another store on the same database, as a second instance of the service would open it. */
  openAnother: () => Promise<TaskStore>;
  /** Straight to the database, past the store: what the counts must always equal, and a purge. */
  raw: RawTasks;
}

/** A backend's own SQL on the store's database (the contract asserts with it, never through it alone). */
export interface RawTasks {
  /** `SELECT status, count(*) FROM Task [WHERE ownerKeyId = …] GROUP BY status`, every status present. */
  countByStatus(scope: TaskScope): Promise<Record<string, number>>;
  /** `DELETE FROM Task WHERE id IN (…)`, as a retention purge or an operator would. */
  deleteTasks(ids: readonly number[]): Promise<void>;
}

/**
 * The behaviour every TaskStore backend must have, asserted through the interface only (no SQL), so a
 * new backend runs the same suite: `describeTaskStoreContract("postgres", open)`. `open` gives a store on
 * an empty database and the cleanup that closes and removes it; it is called once per test.
 */
export function describeTaskStoreContract(backend: string, open: () => Promise<OpenedTaskStore>): void {
  describe(`TaskStore contract: ${backend}`, () => {
    let store: TaskStore;
    let cleanup: () => Promise<void>;
    let openAnother: () => Promise<TaskStore>;
    let raw: RawTasks;
    beforeEach(async () => {
      ({ store, cleanup, openAnother, raw } = await open());
    });
    afterEach(async () => {
      await cleanup();
    });

    const submit = (urls: readonly string[], options: Partial<SubmissionOptions> = {}, now = T0) =>
      store.createSubmission(urls.map(checked), { ...DEFAULT_OPTIONS, ...options }, now, null);

    /** Claims as `owner` every runnable task admit accepts (all by default). */
    const claim = (request: Partial<ClaimRequest> = {}) =>
      store.claim({ owner: OWNER, limit: 1000, now: T0, skipHosts: new Set(), admit: () => true, ...request });

    /** Submits `urls` and claims them all as `owner`. */
    const running = async (urls: readonly string[], owner = OWNER, options: Partial<SubmissionOptions> = {}) => {
      const submission = await submit(urls, options);
      const ids = new Set(submission.tasks.map((t) => t.id));
      const claimed = await claim({ owner, admit: (c) => ids.has(c.id) });
      expect(claimed.map((c) => c.task.id)).toEqual([...ids]);
      return claimed.map((c) => c.task);
    };

    const read = async (id: number): Promise<Task> => {
      const [task] = await store.findByIds([id], ALL_TASKS);
      if (!task) throw new Error(`task ${id} is missing`);
      return task;
    };
    const readAll = (tasks: readonly Task[]) => Promise.all(tasks.map((t) => read(t.id)));

    describe("createSubmission", () => {
      it("creates every task in INITIAL_STATUS, in input order, with nothing run yet", async () => {
        const urls = ["https://a.example/1", "https://b.example/2", "https://a.example/3"];
        const submission = await submit(urls);
        expect(submission.tasks.map((t) => t.url)).toEqual(urls);
        expect(submission.tasks.map((t) => t.host)).toEqual(["a.example", "b.example", "a.example"]);
        const ids = submission.tasks.map((t) => t.id);
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
        expect(new Set(ids).size).toBe(3);
        for (const task of submission.tasks) {
          expect(task).toEqual({
            id: task.id,
            submissionId: submission.id,
            ownerKeyId: null,
            url: task.url,
            host: task.host,
            status: INITIAL_STATUS,
            attempts: 0,
            worker: null,
            result: null,
            error: null,
            createdAt: new Date(T0),
            startedAt: null,
            finishedAt: null,
          });
        }
        // What it returned is what was stored.
        expect(await store.findBySubmission(submission.id, ALL_TASKS)).toEqual(submission.tasks);
      });

      it("keeps a URL given twice as two tasks", async () => {
        const submission = await submit(["https://a.example/", "https://a.example/"]);
        expect(submission.tasks).toHaveLength(2);
        expect(submission.tasks[0]!.id).not.toBe(submission.tasks[1]!.id);
      });

      it("gives each submission its own id and tasks", async () => {
        const first = await submit(["https://a.example/1"]);
        const second = await submit(["https://a.example/2"]);
        expect(second.id).not.toBe(first.id);
        expect(second.tasks[0]!.submissionId).toBe(second.id);
        expect(second.tasks[0]!.id).toBeGreaterThan(first.tasks[0]!.id);
      });

      it("stores the options once per submission and returns them with every claimed task", async () => {
        const gentle = { maxRetries: 0, perHostConcurrency: 1, hostDelayMs: 250, respectRobots: true };
        const eager = { maxRetries: 5, perHostConcurrency: 8, hostDelayMs: 0, respectRobots: false };
        // Three hosts: the gentle options let one task of a host start at a time.
        const a = await submit(["https://a.example/1", "https://c.example/1"], gentle);
        const b = await submit(["https://b.example/1"], eager);
        const offered: ClaimCandidate[] = [];
        const claimed = await claim({ admit: (c) => (offered.push(c), true) });
        const optionsOf = (submissionId: number) => (submissionId === a.id ? gentle : eager);
        expect(claimed).toHaveLength(3);
        for (const { task, options } of claimed) expect(options).toEqual(optionsOf(task.submissionId));
        // Offered host by host: a, b, c.
        expect(offered.map((c) => c.options)).toEqual([gentle, eager, gentle]);
        expect(b.tasks[0]!.submissionId).toBe(b.id);
      });
    });

    describe("reads", () => {
      it("findByIds returns the tasks that exist and leaves unknown ids out", async () => {
        const { tasks } = await submit(["https://a.example/1", "https://a.example/2", "https://a.example/3"]);
        const unknown = Math.max(...tasks.map((t) => t.id)) + 1000;
        const found = await store.findByIds([tasks[2]!.id, unknown, tasks[0]!.id], ALL_TASKS);
        expect(found.map((t) => t.id).sort((x, y) => x - y)).toEqual([tasks[0]!.id, tasks[2]!.id]);
        expect(found.find((t) => t.id === tasks[2]!.id)).toEqual(tasks[2]);
      });

      it("findByIds of no ids, or only unknown ones, is empty", async () => {
        expect(await store.findByIds([], ALL_TASKS)).toEqual([]);
        expect(await store.findByIds([424242], ALL_TASKS)).toEqual([]);
      });

      it("findBySubmission returns the submission's tasks in id order, and only its own", async () => {
        const a = await submit(["https://a.example/1", "https://a.example/2"]);
        await submit(["https://b.example/1"]);
        const c = await submit(["https://c.example/1", "https://c.example/2", "https://c.example/3"]);
        expect(await store.findBySubmission(a.id, ALL_TASKS)).toEqual(a.tasks);
        expect(await store.findBySubmission(c.id, ALL_TASKS)).toEqual(c.tasks);
      });

      it("findBySubmission is null for an unknown submission", async () => {
        const a = await submit(["https://a.example/1"]);
        expect(await store.findBySubmission(a.id + 1000, ALL_TASKS)).toBeNull();
      });

      it("every read returns the same task, whatever state it is in", async () => {
        const [toSucceed, toFail, toRetry, stillRunning] = await running([
          "https://a.example/succeed",
          "https://a.example/fail",
          "https://a.example/retry",
          "https://a.example/running",
        ]);
        const { tasks: [toCancel, stillPending] } = await submit(["https://b.example/cancel", "https://b.example/pending"]);
        await store.finishAttempts(
          OWNER,
          [
            succeedOutcome(toSucceed!),
            failOutcome(toFail!, { code: "HTTP_STATUS", message: "HTTP 404" }),
            retryOutcome(toRetry!, T0 + 60_000),
          ],
          T0 + 10,
        );
        await store.cancel(toCancel!.id, T0 + 20);
        const all = [toSucceed, toFail, toRetry, stillRunning, toCancel, stillPending].map((t) => t!.id);
        const byId = await store.findByIds(all, ALL_TASKS);
        const bySubmission = [
          ...((await store.findBySubmission(toSucceed!.submissionId, ALL_TASKS)) ?? []),
          ...((await store.findBySubmission(toCancel!.submissionId, ALL_TASKS)) ?? []),
        ];
        const listed = await store.listTasks({ scope: ALL_TASKS, first: 100 });
        expect(bySubmission.map((t) => t.status)).toEqual(["SUCCEEDED", "FAILED", "PENDING", "RUNNING", "CANCELLED", "PENDING"]);
        expect(listed).toEqual(bySubmission);
        expect([...byId].sort((x, y) => x.id - y.id)).toEqual(bySubmission);
      });
    });

    describe("listTasks", () => {
      it("pages through every task in id order with afterId (keyset pagination)", async () => {
        const a = await submit(["https://a.example/1", "https://a.example/2", "https://a.example/3"]);
        const b = await submit(["https://b.example/1", "https://b.example/2"]);
        const everyTask = [...a.tasks, ...b.tasks];
        const pages: Task[][] = [];
        let afterId: number | undefined;
        for (;;) {
          const page = await store.listTasks({ scope: ALL_TASKS, first: 2, afterId });
          if (page.length === 0) break;
          pages.push(page);
          afterId = page.at(-1)!.id;
        }
        expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
        expect(pages.flat()).toEqual(everyTask);
      });

      it("starts after afterId even when that task is gone from the filter", async () => {
        const { tasks } = await submit(["https://a.example/1", "https://a.example/2", "https://a.example/3"]);
        await store.cancel(tasks[1]!.id, T0);
        const page = await store.listTasks({ scope: ALL_TASKS, status: "PENDING", first: 10, afterId: tasks[1]!.id });
        expect(page.map((t) => t.id)).toEqual([tasks[2]!.id]);
      });

      it("filters by status, paging within the filter", async () => {
        const { tasks } = await submit(["https://a.example/1", "https://a.example/2", "https://a.example/3", "https://a.example/4", "https://a.example/5"]);
        await store.cancel(tasks[0]!.id, T0);
        await store.cancel(tasks[2]!.id, T0);
        await store.cancel(tasks[3]!.id, T0);
        const first = await store.listTasks({ scope: ALL_TASKS, status: "CANCELLED", first: 2 });
        expect(first.map((t) => t.id)).toEqual([tasks[0]!.id, tasks[2]!.id]);
        expect(first.every((t) => t.status === "CANCELLED")).toBe(true);
        const second = await store.listTasks({ scope: ALL_TASKS, status: "CANCELLED", first: 2, afterId: tasks[2]!.id });
        expect(second.map((t) => t.id)).toEqual([tasks[3]!.id]);
        expect((await store.listTasks({ scope: ALL_TASKS, status: "PENDING", first: 10 })).map((t) => t.id)).toEqual([tasks[1]!.id, tasks[4]!.id]);
        expect(await store.listTasks({ scope: ALL_TASKS, status: "SUCCEEDED", first: 10 })).toEqual([]);
      });

      it("filters by submission, paging within it in id order, with the status filter too", async () => {
        const a = await submit(["https://a.example/1", "https://a.example/2", "https://a.example/3"]);
        const b = await submit(["https://b.example/1", "https://b.example/2"]);
        const c = await submit(["https://a.example/4"]);
        const pages: Task[][] = [];
        let afterId: number | undefined;
        for (;;) {
          const page = await store.listTasks({ scope: ALL_TASKS, submissionId: a.id, first: 2, afterId });
          if (page.length === 0) break;
          pages.push(page);
          afterId = page.at(-1)!.id;
        }
        expect(pages.map((p) => p.length)).toEqual([2, 1]);
        expect(pages.flat()).toEqual(a.tasks);
        expect(await store.listTasks({ scope: ALL_TASKS, submissionId: b.id, first: 10 })).toEqual(b.tasks);
        expect(await store.listTasks({ scope: ALL_TASKS, submissionId: c.id, first: 10, afterId: a.tasks[0]!.id })).toEqual(c.tasks);
        await store.cancel(b.tasks[1]!.id, T0);
        const cancelled = await store.listTasks({ scope: ALL_TASKS, submissionId: b.id, status: "CANCELLED", first: 10 });
        expect(cancelled.map((t) => t.id)).toEqual([b.tasks[1]!.id]);
        expect(await store.listTasks({ scope: ALL_TASKS, submissionId: c.id + 1000, first: 10 })).toEqual([]);
      });

      it("is empty after the last task and on an empty store", async () => {
        expect(await store.listTasks({ scope: ALL_TASKS, first: 10 })).toEqual([]);
        const { tasks } = await submit(["https://a.example/1"]);
        expect(await store.listTasks({ scope: ALL_TASKS, first: 10, afterId: tasks[0]!.id })).toEqual([]);
      });
    });

    describe("countByStatus", () => {
      it("counts every status, zero included", async () => {
        expect(await store.countByStatus(ALL_TASKS)).toEqual(Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])));
        const [r1, r2, r3] = await running(["https://a.example/1", "https://a.example/2", "https://a.example/3", "https://a.example/4"]);
        const { tasks } = await submit(["https://b.example/1", "https://b.example/2", "https://b.example/3"]);
        await store.finishAttempts(OWNER, [succeedOutcome(r1!), failOutcome(r2!), retryOutcome(r3!, T0 + 1000)], T0);
        await store.cancel(tasks[0]!.id, T0);
        await store.reject([tasks[1]!.id], ROBOTS, T0);
        expect(await store.countByStatus(ALL_TASKS)).toEqual({ PENDING: 2, RUNNING: 1, SUCCEEDED: 1, FAILED: 2, CANCELLED: 1 });
      });

      it("equals a GROUP BY over the tasks, in every scope, after every kind of write", async () => {
        const ALICE: TaskScope = { kind: "owner", keyId: 1 };
        const BOB: TaskScope = { kind: "owner", keyId: 2 };
        const scopes = [ALL_TASKS, ALICE, BOB, { kind: "owner", keyId: 3 } as TaskScope];
        const steps: string[] = [];
        const agrees = async (step: string) => {
          steps.push(step);
          for (const scope of scopes) {
            const counted = { step, scope, counts: await store.countByStatus(scope) };
            expect(counted).toEqual({ step, scope, counts: await raw.countByStatus(scope) });
          }
        };
        await agrees("empty");
        const urls = (host: string, n: number) => Array.from({ length: n }, (_, i) => `https://${host}.example/${i}`);
        await store.createSubmission(urls("a", 8).map(checked), DEFAULT_OPTIONS, T0, 1);
        const bob = await store.createSubmission(urls("b", 6).map(checked), DEFAULT_OPTIONS, T0, 2);
        const open = await submit(urls("c", 5));
        await agrees("submit");
        const claimed = (await claim({ limit: 12 })).map((c) => c.task);
        await agrees("claim");
        const [s1, s2, f1, f2, r1, r2, q1] = claimed;
        await store.finishAttempts(OWNER, [succeedOutcome(s1!), succeedOutcome(s2!)], T0);
        await agrees("succeed");
        await store.finishAttempts(OWNER, [failOutcome(f1!), failOutcome(f2!, ROBOTS, false)], T0);
        await agrees("fail");
        await store.finishAttempts(OWNER, [retryOutcome(r1!, T0 + 1000), succeedOutcome(r2!)], T0);
        await agrees("retry and succeed in one batch");
        // A write that lost its claim changes nothing, counts included.
        await store.finishAttempts(OTHER, [succeedOutcome(q1!)], T0);
        await agrees("fenced write");
        await store.requeue(OWNER, [q1!.id]);
        await agrees("requeue by id");
        await store.requeue(OWNER);
        await agrees("requeue every claim");
        const pending = (await store.listTasks({ scope: ALL_TASKS, status: "PENDING", first: 100 })).map((t) => t.id);
        await store.cancel(pending[0]!, T0);
        await agrees("cancel");
        await store.cancel(pending[0]!, T0);
        await agrees("cancel of a task that is no longer PENDING");
        await store.reject([pending[1]!, pending[2]!, s1!.id], ROBOTS, T0);
        await agrees("reject");
        const other = await openAnother();
        await other.claim({ owner: "gone", limit: 3, now: T0 + 2000, skipHosts: new Set(), admit: () => true });
        await agrees("claim by another store");
        expect(await store.requeueOrphans(OWNER)).toBe(3);
        await agrees("orphans requeued");
        const all = (await store.listTasks({ scope: ALL_TASKS, first: 100 })).map((t) => t.id);
        await raw.deleteTasks([all[0]!, all[5]!, ...bob.tasks.map((t) => t.id), open.tasks[4]!.id]);
        await agrees("purge");
        expect(steps).toHaveLength(15);
      });
    });

    describe("scopes (API keys)", () => {
      const ALICE: TaskScope = { kind: "owner", keyId: 1 };
      const BOB: TaskScope = { kind: "owner", keyId: 2 };
      const submitAs = (keyId: number | null, urls: readonly string[]) =>
        store.createSubmission(urls.map(checked), DEFAULT_OPTIONS, T0, keyId);

      it("stores the owner on the submission's tasks", async () => {
        const { tasks } = await submitAs(1, ["https://a.example/1"]);
        expect(tasks[0]!.ownerKeyId).toBe(1);
        expect((await read(tasks[0]!.id)).ownerKeyId).toBe(1);
        expect((await submit(["https://a.example/2"])).tasks[0]!.ownerKeyId).toBeNull();
      });

      it("a key's reads see its own tasks only; the all scope sees every task", async () => {
        const mine = await submitAs(1, ["https://a.example/1", "https://a.example/2"]);
        const theirs = await submitAs(2, ["https://b.example/1"]);
        const open = await submit(["https://c.example/1"]);
        const ids = [...mine.tasks, ...theirs.tasks, ...open.tasks].map((t) => t.id);

        expect((await store.findByIds(ids, ALICE)).map((t) => t.id).sort()).toEqual(mine.tasks.map((t) => t.id).sort());
        expect((await store.findByIds(ids, BOB)).map((t) => t.id)).toEqual(theirs.tasks.map((t) => t.id));
        expect(await store.findByIds(ids, ALL_TASKS)).toHaveLength(4);

        expect(await store.findBySubmission(mine.id, ALICE)).toEqual(mine.tasks);
        expect(await store.findBySubmission(mine.id, BOB)).toBeNull();
        expect(await store.findBySubmission(open.id, ALICE)).toBeNull();

        expect((await store.listTasks({ scope: BOB, first: 10 })).map((t) => t.id)).toEqual(theirs.tasks.map((t) => t.id));
        expect(await store.listTasks({ scope: ALICE, submissionId: mine.id, first: 10 })).toEqual(mine.tasks);
        expect(await store.listTasks({ scope: BOB, submissionId: mine.id, first: 10 })).toEqual([]);
        expect(await store.listTasks({ scope: ALICE, submissionId: open.id, first: 10 })).toEqual([]);
        expect(await store.listTasks({ scope: ALL_TASKS, submissionId: open.id, first: 10 })).toEqual(open.tasks);
        expect(await store.listTasks({ scope: ALL_TASKS, first: 10 })).toHaveLength(4);
        expect((await store.countByStatus(ALICE)).PENDING).toBe(2);
        expect((await store.countByStatus(BOB)).PENDING).toBe(1);
        expect((await store.countByStatus(ALL_TASKS)).PENDING).toBe(4);
      });
    });

    describe("claim", () => {
      it("hands slots to submissions one at a time (the older first on a tie), each taking its hosts in host order; the next claim goes on from there", async () => {
        const a = await submit(["https://a.example/1", "https://b.example/1"]);
        const b = await submit(["https://c.example/1", "https://a.example/2"]);
        const first = await claim({ limit: 3 });
        expect(first.map((c) => c.task.id)).toEqual([a.tasks[0]!, b.tasks[1]!, a.tasks[1]!].map((t) => t.id));
        const second = await claim({ limit: 3 });
        expect(second.map((c) => c.task.id)).toEqual([b.tasks[0]!.id]);
      });

      it("shares the slots max-min fair between submissions: fewest RUNNING first, counted over the whole database", async () => {
        const hosts = (tag: string, count: number, per: number) =>
          Array.from({ length: count * per }, (_, i) => `https://${tag}${i % count}.example/${i}`);
        const a = await submit(hosts("a", 30, 10));
        const b = await submit(hosts("b", 20, 3));
        const c = await submit(hosts("c", 12, 1));
        const perSubmission = async () => {
          const counts = new Map<number, number>();
          for (const t of await store.listTasks({ scope: ALL_TASKS, status: "RUNNING", first: 10_000 })) {
            counts.set(t.submissionId, (counts.get(t.submissionId) ?? 0) + 1);
          }
          return [a, b, c].map((s) => counts.get(s.id) ?? 0);
        };
        await claim({ limit: 30 });
        expect(await perSubmission()).toEqual([10, 10, 10]);
        // A's end: its next claim goes to A alone, the one with fewest running, until it is level again.
        const aRunning = await store.listTasks({ scope: ALL_TASKS, status: "RUNNING", submissionId: a.id, first: 100 });
        await store.finishAttempts(OWNER, aRunning.map((t) => succeedOutcome(t)), T0);
        expect((await claim({ limit: 10 })).every((t) => t.task.submissionId === a.id)).toBe(true);
        expect(await perSubmission()).toEqual([10, 10, 10]);
        // Another store (another instance) sees the same counts: 2 more go to the oldest, then the next.
        const other = await openAnother();
        const more = await other.claim({ owner: OTHER, limit: 2, now: T0, skipHosts: new Set(), admit: () => true });
        expect(more.map((t) => t.task.submissionId)).toEqual([a.id, b.id]);
      });

      it("a submission below its fair share keeps all it can run (its host's limit), the other takes the rest, claim after claim", async () => {
        const big = await submit(Array.from({ length: 2_000 }, (_, i) => `https://big.example/${i}`));
        const small = await submit(Array.from({ length: 50 * 20 }, (_, i) => `https://s${i % 50}.example/${i}`));
        const inFlight: Task[] = [];
        for (let round = 0; round < 25; round++) {
          const claimed = await claim({ limit: 16 - inFlight.length, hostCap: 4 });
          inFlight.push(...claimed.map((c) => c.task));
          expect(inFlight).toHaveLength(16);
          expect(inFlight.filter((t) => t.submissionId === big.id)).toHaveLength(4);
          expect(inFlight.filter((t) => t.submissionId === small.id)).toHaveLength(12);
          // A few of each end: every third task in flight, in whatever order they were claimed.
          const ending = inFlight.filter((_, i) => (i + round) % 3 === 0);
          await store.finishAttempts(OWNER, ending.map((t) => succeedOutcome(t)), T0);
          for (const t of ending) inFlight.splice(inFlight.indexOf(t), 1);
        }
      });

      it("a submission sent after a big one gets a slot in the first claim after it, as soon as one is free", async () => {
        const big = await submit(Array.from({ length: 64 * 50 }, (_, i) => `https://h${i % 64}.example/${i}`));
        const first = await claim({ limit: 64, hostCap: 4 });
        expect(first).toHaveLength(64);
        const small = await submit(Array.from({ length: 10 }, (_, i) => `https://late.example/${i}`));
        await store.finishAttempts(OWNER, [succeedOutcome(first[0]!.task)], T0);
        expect((await claim({ limit: 1, hostCap: 4 })).map((c) => c.task.submissionId)).toEqual([small.id]);
        // The small one has fewest running until it reaches its host's limit (4): the next 3 slots are its.
        await store.finishAttempts(OWNER, first.slice(1, 5).map((c) => succeedOutcome(c.task)), T0);
        const next = await claim({ limit: 4, hostCap: 4 });
        expect(next.map((c) => c.task.submissionId)).toEqual([small.id, small.id, small.id, big.id]);
      });

      it("is round-robin by host: a host's second task only once every host had a turn, each claim starting after the last one's host", async () => {
        const { tasks } = await submit(["a", "b", "c"].flatMap((h) => [1, 2, 3].map((i) => `https://${h}.example/${i}`)));
        const id = (host: string, i: number) => tasks.find((t) => t.url === `https://${host}.example/${i}`)!.id;
        const ids = (claimed: readonly { task: Task }[]) => claimed.map((c) => c.task.id);
        expect(ids(await claim({ limit: 2 }))).toEqual([id("a", 1), id("b", 1)]);
        expect(ids(await claim({ limit: 2 }))).toEqual([id("c", 1), id("a", 2)]);
        // From b on, round every host (b, c, a), then the second turn in the same order.
        expect(ids(await claim({ limit: 10 }))).toEqual([id("b", 2), id("c", 2), id("a", 3), id("b", 3), id("c", 3)]);
      });

      it("walks each host once per claim, wrapping around to where it started, however many hosts it reads at a time", async () => {
        const host = (i: number) => `h${String(i).padStart(2, "0")}.example`;
        await submit(Array.from({ length: 80 }, (_, i) => `https://${host(i % 40)}/${i}`), { perHostConcurrency: 2 });
        // One task from each of h00..h35: the next claim starts after h35.
        expect(new Set((await claim({ limit: 36 })).map((c) => c.task.host)).size).toBe(36);
        const offered: string[] = [];
        const claimed = await claim({ limit: 1, admit: (c) => (offered.push(c.host), c.host === host(30)) });
        expect(claimed.map((c) => c.task.host)).toEqual([host(30)]);
        const walked = offered.filter((h, i) => h !== offered[i - 1]);
        expect(walked).toEqual([36, 37, 38, 39, ...Array.from({ length: 31 }, (_, i) => i)].map(host));
      });

      it("on one host, runs the n-th URL of every submission before the (n+1)-th of any (then oldest first)", async () => {
        const a = await submit(["https://h.example/a0", "https://other.example/a", "https://h.example/a1", "https://h.example/a2"], { perHostConcurrency: 8 });
        const b = await submit(["https://h.example/b0", "https://h.example/b1"], { perHostConcurrency: 8 });
        const offered: string[] = [];
        await claim({ skipHosts: new Set(["other.example"]), admit: (c) => (offered.push(c.url), true) });
        expect(offered).toEqual(["a0", "b0", "a1", "b1", "a2"].map((p) => `https://h.example/${p}`));
        expect(a.tasks).toHaveLength(4);
        expect(b.tasks).toHaveLength(2);
      });

      it("a small submission on a host is not held up behind a big one sent before it", async () => {
        const many = { perHostConcurrency: 1_000 };
        const big = await submit(Array.from({ length: 1_000 }, (_, i) => `https://h.example/big/${i}`), many);
        // The big one is under way: its first 50 ran.
        const started = await claim({ limit: 50, hostCap: 1_000 });
        await store.finishAttempts(OWNER, started.map((c) => succeedOutcome(c.task)), T0);
        const small = await submit(Array.from({ length: 10 }, (_, i) => `https://h.example/small/${i}`), many);
        const next = await claim({ limit: 20, hostCap: 1_000 });
        const smallIds = small.tasks.map((t) => t.id);
        expect(next.filter((c) => smallIds.includes(c.task.id))).toHaveLength(10);
        // Neither has a task running: they take turns, the older first.
        expect(next.map((c) => c.task.submissionId)).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? big.id : small.id)));
      });

      it("claims from many small hosts at once behind a big backlog on one host, at a cost that does not depend on that backlog", async () => {
        const counts: Record<string, number>[] = [];
        for (const [round, backlog] of [1_000, 49_000].entries()) {
          // The big host's backlog grows between the two rounds, to 1,000 then 50,000 PENDING tasks, each round
          // followed by 200 hosts × 20 URLs. A store of its own each round: its walk starts at the first host.
          const claimer = round === 0 ? store : await openAnother();
          const big = await submit(Array.from({ length: backlog }, (_, i) => `https://big.example/${backlog}/${i}`));
          const small = await submit(
            Array.from({ length: 200 * 20 }, (_, i) => `https://s${String(i % 200).padStart(3, "0")}-${backlog}.example/${i}`),
          );
          const smallIds = new Set(small.tasks.map((t) => t.id));
          const before = claimer.statementCounts();
          const claimed = await claimer.claim({ owner: OWNER, limit: 64, hostCap: 4, now: T0, skipHosts: new Set(), admit: () => true });
          const after = claimer.statementCounts();
          counts.push(Object.fromEntries(["claimHosts", "claimRows"].map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)])));
          const fromSmall = claimed.filter((c) => smallIds.has(c.task.id));
          const bigHost = claimed.filter((c) => c.task.host === "big.example");
          expect(claimed).toHaveLength(64);
          // The big submission is below its fair share (32): it runs its host's limit, the small one the rest.
          expect(bigHost).toHaveLength(4);
          expect(fromSmall).toHaveLength(64 - bigHost.length);
          expect(new Set(fromSmall.map((c) => c.task.host)).size).toBeGreaterThanOrEqual(60);
          // The round's submissions leave the queue: the next round has a bigger backlog on the host and new hosts.
          await claimer.finishAttempts(OWNER, claimed.map((c) => succeedOutcome(c.task)), T0);
          const left = [...big.tasks, ...small.tasks].filter((t) => !claimed.some((c) => c.task.id === t.id));
          if (round === 0) await store.reject(left.map((t) => t.id), ROBOTS, T0);
        }
        // 61 hosts read (the big one, 60 small ones), at most hostCap (4) rows from each: the same whatever the backlog.
        expect(counts[0]).toEqual(counts[1]);
        expect(counts[0]!.claimHosts).toBe(61);
        expect(counts[0]!.claimRows).toBeLessThanOrEqual(61 * 4);
      });

      it("makes the task RUNNING, counts the attempt and records when it started", async () => {
        const { tasks } = await submit(["https://a.example/1"]);
        const [claimed] = await claim({ now: T0 + 500 });
        const expected: Task = { ...tasks[0]!, status: "RUNNING", attempts: 1, startedAt: new Date(T0 + 500) };
        expect(claimed!.task).toEqual(expected);
        expect(await read(tasks[0]!.id)).toEqual(expected);
      });

      it("offers candidates host by host, with their url, host and options", async () => {
        const options = { maxRetries: 1, perHostConcurrency: 3, hostDelayMs: 10, respectRobots: true };
        const { tasks } = await submit(["https://b.example/x", "https://a.example/y"], options);
        const offered: ClaimCandidate[] = [];
        await claim({ admit: (c) => (offered.push(c), false) });
        expect(offered).toEqual([tasks[1]!, tasks[0]!].map((t) => ({ id: t.id, url: t.url, host: t.host, options })));
      });

      it("leaves a task admit refuses PENDING, unclaimed, and offers it again next time", async () => {
        const { tasks } = await submit(["https://a.example/1", "https://b.example/1", "https://a.example/2"]);
        const claimed = await claim({ admit: (c) => c.host !== "a.example" });
        expect(claimed.map((c) => c.task.id)).toEqual([tasks[1]!.id]);
        expect(await read(tasks[0]!.id)).toEqual(tasks[0]);
        expect(await read(tasks[2]!.id)).toEqual(tasks[2]);
        const offered: number[] = [];
        await claim({ admit: (c) => (offered.push(c.id), false) });
        expect(offered).toEqual([tasks[0]!.id, tasks[2]!.id]);
      });

      it("does not offer tasks of the hosts to skip", async () => {
        const { tasks } = await submit(["https://a.example/1", "https://b.example/1", "https://c.example/1", "https://a.example/2"]);
        const offered: string[] = [];
        const claimed = await claim({ skipHosts: new Set(["a.example", "c.example"]), admit: (c) => (offered.push(c.host), true) });
        expect(offered).toEqual(["b.example"]);
        expect(claimed.map((c) => c.task.id)).toEqual([tasks[1]!.id]);
        // The next claim starts after b.example, where this one stopped: c, then a (twice).
        expect((await claim()).map((c) => c.task.id)).toEqual([tasks[2]!.id, tasks[0]!.id, tasks[3]!.id]);
      });

      it("does not offer a task waiting for its retry backoff until its runAt", async () => {
        const [task] = await running(["https://a.example/1"]);
        await store.finishAttempts(OWNER, [retryOutcome(task!, T0 + 5_000)], T0 + 100);
        const offered: number[] = [];
        expect(await claim({ now: T0 + 4_999, admit: (c) => (offered.push(c.id), true) })).toEqual([]);
        expect(offered).toEqual([]);
        const [again] = await claim({ now: T0 + 5_000 });
        expect(again!.task).toMatchObject({ id: task!.id, status: "RUNNING", attempts: 2 });
      });

      it("never claims a task twice: a second claim finds nothing left", async () => {
        await submit(["https://a.example/1", "https://a.example/2"]);
        expect(await claim({ owner: OWNER })).toHaveLength(2);
        const offered: number[] = [];
        expect(await claim({ owner: OTHER, admit: (c) => (offered.push(c.id), true) })).toEqual([]);
        expect(offered).toEqual([]);
      });

      it("two concurrent claims never return the same task", async () => {
        const { tasks } = await submit(Array.from({ length: 20 }, (_, i) => `https://h${i % 3}.example/${i}`), { perHostConcurrency: 20 });
        const claims = await Promise.all([
          claim({ owner: OWNER, limit: 6 }),
          claim({ owner: OTHER, limit: 6 }),
          claim({ owner: OWNER, limit: 6 }),
          claim({ owner: OTHER, limit: 6 }),
        ]);
        const ids = claims.flat().map((c) => c.task.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const batch of claims) expect(batch.length).toBeLessThanOrEqual(6);
        expect((await store.countByStatus(ALL_TASKS)).RUNNING).toBe(ids.length);
        // What they left is still there to claim, once.
        const rest = await claim();
        expect([...ids, ...rest.map((c) => c.task.id)].sort((a, b) => a - b)).toEqual(tasks.map((t) => t.id));
      });

      it("counts every claim of a requeued task as an attempt", async () => {
        const [task] = await running(["https://a.example/1"]);
        expect(await store.requeue(OWNER)).toBe(1);
        const [second] = await claim({ owner: OTHER });
        expect(second!.task).toMatchObject({ id: task!.id, status: "RUNNING", attempts: 2 });
      });

      it("claims nothing with a limit of 0", async () => {
        await submit(["https://a.example/1"]);
        expect(await claim({ limit: 0 })).toEqual([]);
        expect((await store.countByStatus(ALL_TASKS)).PENDING).toBe(1);
      });
    });

    describe("claim: politeness across every store on the database", () => {
      /** Tasks RUNNING per host, in the whole database. */
      const runningPerHost = async () => {
        const perHost: Record<string, number> = {};
        for (const task of await store.listTasks({ scope: ALL_TASKS, status: "RUNNING", first: 10_000 })) {
          perHost[task.host] = (perHost[task.host] ?? 0) + 1;
        }
        return perHost;
      };

      it("does not offer a task of a host that runs perHostConcurrency tasks, until one of them ends", async () => {
        const { tasks: [a1, a2, a3, b1] } = await submit(
          ["https://a.example/1", "https://a.example/2", "https://a.example/3", "https://b.example/1"],
          { perHostConcurrency: 2 },
        );
        const offered: number[] = [];
        const first = await claim({ admit: (c) => (offered.push(c.id), true) });
        expect(offered).toEqual([a1!.id, b1!.id, a2!.id]);
        expect(first.map((c) => c.task.id)).toEqual([a1!.id, b1!.id, a2!.id]);
        offered.length = 0;
        expect(await claim({ admit: (c) => (offered.push(c.id), true) })).toEqual([]);
        expect(offered).toEqual([]);
        await store.finishAttempts(OWNER, [succeedOutcome(first[0]!.task)], T0 + 10);
        expect((await claim({ now: T0 + 10 })).map((c) => c.task.id)).toEqual([a3!.id]);
      });

      it("looks past the tasks of a host it holds back, for other hosts' tasks up to the limit", async () => {
        const busy = await submit(["https://busy.example/1", "https://busy.example/2", "https://busy.example/3"], { perHostConcurrency: 1 });
        const other = await submit(["https://other.example/1", "https://other.example/2", "https://other.example/3"]);
        const offered: number[] = [];
        const claimed = await claim({ limit: 3, admit: (c) => (offered.push(c.id), true) });
        const expected = [busy.tasks[0]!.id, other.tasks[0]!.id, other.tasks[1]!.id];
        expect(offered).toEqual(expected);
        expect(claimed.map((c) => c.task.id)).toEqual(expected);
      });

      it("counts the host's RUNNING tasks of every owner and every submission", async () => {
        await running(["https://a.example/1"], OTHER);
        const { tasks: [a2, b1] } = await submit(["https://a.example/2", "https://b.example/1"], { perHostConcurrency: 1 });
        const offered: number[] = [];
        const claimed = await claim({ admit: (c) => (offered.push(c.id), true) });
        expect(offered).toEqual([b1!.id]);
        expect(claimed.map((c) => c.task.id)).toEqual([b1!.id]);
        expect(await read(a2!.id)).toEqual(a2);
      });

      it("counts only the candidates admit accepted against the host", async () => {
        const { tasks: [a1, a2] } = await submit(["https://a.example/1", "https://a.example/2"], { perHostConcurrency: 1 });
        const claimed = await claim({ admit: (c) => c.id !== a1!.id });
        expect(claimed.map((c) => c.task.id)).toEqual([a2!.id]);
      });

      it("with a host delay, starts one task of the host per batch, and the next only once the delay passed", async () => {
        const options = { hostDelayMs: 1_000 };
        const { tasks: [a1, a2, b1] } = await submit(["https://a.example/1", "https://a.example/2", "https://b.example/1"], options);
        expect((await claim({ now: T0 })).map((c) => c.task.id)).toEqual([a1!.id, b1!.id]);
        // The delay runs from the start, whether or not the task is still running.
        await store.finishAttempts(OWNER, [succeedOutcome({ ...a1!, attempts: 1 })], T0 + 100);
        const offered: number[] = [];
        expect(await claim({ now: T0 + 999, admit: (c) => (offered.push(c.id), true) })).toEqual([]);
        expect(offered).toEqual([]);
        expect((await claim({ now: T0 + 1_000 })).map((c) => c.task.id)).toEqual([a2!.id]);
      });

      it("a host delay counts from the latest start on the host, whoever made it", async () => {
        await running(["https://a.example/1"], OTHER);
        const { tasks: [a2] } = await submit(["https://a.example/2"], { hostDelayMs: 500 });
        expect(await claim({ now: T0 + 499 })).toEqual([]);
        expect((await claim({ now: T0 + 500 })).map((c) => c.task.id)).toEqual([a2!.id]);
      });

      it("holds a host to a delay the instance knows beyond the submission's (Crawl-delay), from anyone's latest start", async () => {
        await running(["https://a.example/1"], OTHER);
        const { tasks: [a2, b1] } = await submit(["https://a.example/2", "https://b.example/1"]);
        const crawlDelay = (c: ClaimCandidate) => (c.host === "a.example" ? 300 : 0);
        expect((await claim({ now: T0 + 299, knownHostDelayMs: crawlDelay })).map((c) => c.task.id)).toEqual([b1!.id]);
        expect((await claim({ now: T0 + 300, knownHostDelayMs: crawlDelay })).map((c) => c.task.id)).toEqual([a2!.id]);
      });

      it("holds every host's limit and delay exactly with thousands of hosts, claim after claim", async () => {
        // 2,000 hosts × 5 tasks: on the l* hosts at most 2 at once, on the d* hosts one start per 50 ms.
        const perKind = 1_000;
        const limited = await submit(Array.from({ length: perKind * 5 }, (_, i) => `https://l${i % perKind}.example/${i}`), { perHostConcurrency: 2 });
        const delayed = await submit(Array.from({ length: perKind * 5 }, (_, i) => `https://d${i % perKind}.example/${i}`), { hostDelayMs: 50 });
        const total = limited.tasks.length + delayed.tasks.length;
        const runningNow = new Map<number, Task>();
        const perHost = new Map<string, number>();
        const lastStart = new Map<string, number>();
        const started = new Set<number>();
        let round = 0;
        for (let now = T0; started.size < total; now += 10, round++) {
          expect(round, "rounds to start every task").toBeLessThan(200);
          for (const { task } of await claim({ now, limit: 500, hostCap: 4 })) {
            expect(started.has(task.id)).toBe(false);
            started.add(task.id);
            runningNow.set(task.id, task);
            const n = (perHost.get(task.host) ?? 0) + 1;
            perHost.set(task.host, n);
            if (task.host.startsWith("l")) expect(n, task.host).toBeLessThanOrEqual(2);
            else {
              expect(n, task.host).toBeLessThanOrEqual(4);
              const last = lastStart.get(task.host);
              if (last !== undefined) expect(now - last, task.host).toBeGreaterThanOrEqual(50);
              lastStart.set(task.host, now);
            }
          }
          if (round % 10 === 0) {
            for (const [host, n] of Object.entries(await runningPerHost())) expect(n).toBe(perHost.get(host));
          }
          // Tasks end 20 ms after their start (the fake clock's), so hosts free up for later claims.
          const ending = [...runningNow.values()].filter((t) => t.startedAt!.getTime() <= now - 20);
          await store.finishAttempts(OWNER, ending.map((t) => succeedOutcome(t)), now);
          for (const task of ending) {
            runningNow.delete(task.id);
            perHost.set(task.host, perHost.get(task.host)! - 1);
          }
        }
      });

      it("two stores on one database claiming at once never exceed a host's limit, nor start a delayed host twice", async () => {
        const other = await openAnother();
        const limited = await submit(Array.from({ length: 30 }, (_, i) => `https://h${i % 2}.example/${i}`), { perHostConcurrency: 3 });
        const delayed = await submit(Array.from({ length: 5 }, (_, i) => `https://slow.example/${i}`), { hostDelayMs: 60_000 });
        const stores = [
          { store, owner: OWNER },
          { store: other, owner: OTHER },
        ];
        const claimedIds: number[] = [];
        for (let round = 0; round < 12; round++) {
          const now = T0 + round;
          const batches = await Promise.all(
            stores.flatMap(({ store: s, owner }) =>
              [0, 1, 2].map(async () => ({
                owner,
                s,
                claimed: await s.claim({ owner, limit: 4, now, skipHosts: new Set(), admit: () => true }),
              })),
            ),
          );
          const perHost = await runningPerHost();
          expect(perHost["h0.example"] ?? 0).toBeLessThanOrEqual(3);
          expect(perHost["h1.example"] ?? 0).toBeLessThanOrEqual(3);
          expect(perHost["slow.example"] ?? 0).toBeLessThanOrEqual(1);
          // Each ends what it claimed, so the hosts free up for the next round.
          for (const { owner, s, claimed } of batches) {
            claimedIds.push(...claimed.map((c) => c.task.id));
            const finishing = claimed.filter((c) => c.task.host !== "slow.example").map((c) => succeedOutcome(c.task));
            await s.finishAttempts(owner, finishing, now);
          }
        }
        expect(new Set(claimedIds).size).toBe(claimedIds.length);
        const slowStarted = claimedIds.filter((id) => delayed.tasks.some((t) => t.id === id));
        expect(slowStarted).toHaveLength(1);
        // Three a round per limited host: 30 tasks in 5 rounds, the rest of the rounds find nothing.
        expect(claimedIds.filter((id) => limited.tasks.some((t) => t.id === id)).sort((x, y) => x - y)).toEqual(
          limited.tasks.map((t) => t.id),
        );
      });
    });

    describe("finishAttempts", () => {
      it("succeed writes the page, the worker and finishedAt; the attempt stays counted", async () => {
        const [task] = await running(["https://a.example/1"]);
        const page = pageFor(task!.url);
        const written = await store.finishAttempts(OWNER, [succeedOutcome(task!, page, 3)], T0 + 50);
        const expected: Task = { ...task!, status: "SUCCEEDED", worker: 3, result: page, error: null, finishedAt: new Date(T0 + 50) };
        expect(written).toEqual([expected]);
        expect(await read(task!.id)).toEqual(expected);
      });

      it("succeed after a failed attempt clears the earlier error", async () => {
        const [task] = await running(["https://a.example/1"]);
        await store.finishAttempts(OWNER, [retryOutcome(task!, T0)], T0);
        const [again] = await claim();
        const [written] = await store.finishAttempts(OWNER, [succeedOutcome(again!.task)], T0 + 1);
        expect(written).toMatchObject({ status: "SUCCEEDED", error: null, attempts: 2 });
      });

      it("fail writes the error, the worker and finishedAt; the attempt stays counted", async () => {
        const [task] = await running(["https://a.example/1"]);
        const error = { code: "TIMEOUT", message: "no answer within 5000 ms" };
        const written = await store.finishAttempts(OWNER, [failOutcome(task!, error, true, 2)], T0 + 50);
        const expected: Task = { ...task!, status: "FAILED", worker: 2, error, result: null, attempts: 1, finishedAt: new Date(T0 + 50) };
        expect(written).toEqual([expected]);
        expect(await read(task!.id)).toEqual(expected);
      });

      it("fail with attemptMade false does not count the attempt", async () => {
        const [task] = await running(["https://a.example/1"]);
        const error = { code: "BLOCKED_ADDRESS", message: "private address" };
        const [written] = await store.finishAttempts(OWNER, [failOutcome(task!, error, false)], T0 + 50);
        expect(written).toMatchObject({ status: "FAILED", attempts: 0, error });
        expect(await read(task!.id)).toMatchObject({ status: "FAILED", attempts: 0 });
      });

      it("retryLater puts the task back PENDING with the error, runnable again at runAt", async () => {
        const [task] = await running(["https://a.example/1"]);
        const error = { code: "HTTP_STATUS", message: "HTTP 503" };
        const [written] = await store.finishAttempts(OWNER, [retryOutcome(task!, T0 + 2_000, error)], T0 + 50);
        expect(written).toMatchObject({ id: task!.id, status: "PENDING", attempts: 1, error, result: null, finishedAt: null });
        expect(await read(task!.id)).toEqual(written);
        expect(await store.nextRunAt(T0 + 50)).toBe(T0 + 2_000);
        expect(await claim({ now: T0 + 1_999 })).toEqual([]);
        expect(await claim({ now: T0 + 2_000 })).toHaveLength(1);
      });

      it("is fenced by the owner: another owner's outcome writes and returns nothing", async () => {
        const [task] = await running(["https://a.example/1"]);
        for (const outcome of [succeedOutcome(task!), failOutcome(task!), retryOutcome(task!, T0 + 1000)]) {
          expect(await store.finishAttempts(OTHER, [outcome], T0 + 50)).toEqual([]);
        }
        expect(await read(task!.id)).toEqual(task);
      });

      it("is fenced by the attempt: the outcome of a claim that was requeued and claimed again writes nothing", async () => {
        const [task] = await running(["https://a.example/1"]);
        await store.requeue(OWNER);
        const [again] = await claim();
        expect(again!.task.attempts).toBe(2);
        const stale = { ...succeedOutcome(task!), attempt: 1 };
        expect(await store.finishAttempts(OWNER, [stale], T0 + 50)).toEqual([]);
        expect(await read(task!.id)).toEqual(again!.task);
        // The current attempt still writes.
        expect(await store.finishAttempts(OWNER, [succeedOutcome(again!.task)], T0 + 60)).toHaveLength(1);
      });

      it("refuses a second terminal write: returns nothing, changes nothing", async () => {
        const [task] = await running(["https://a.example/1"]);
        const [done] = await store.finishAttempts(OWNER, [succeedOutcome(task!)], T0 + 50);
        for (const outcome of [succeedOutcome(task!, pageFor("https://other.example/")), failOutcome(task!), retryOutcome(task!, T0 + 1000)]) {
          expect(await store.finishAttempts(OWNER, [outcome], T0 + 99)).toEqual([]);
        }
        expect(await read(task!.id)).toEqual(done);
      });

      it("refuses to end a task that is not RUNNING", async () => {
        const { tasks: [pending, cancelled] } = await submit(["https://a.example/1", "https://a.example/2"]);
        await store.cancel(cancelled!.id, T0);
        const cancelledRow = await read(cancelled!.id);
        expect(await store.finishAttempts(OWNER, [succeedOutcome(pending!), succeedOutcome(cancelled!)], T0)).toEqual([]);
        expect(await read(pending!.id)).toEqual(pending);
        expect(await read(cancelled!.id)).toEqual(cancelledRow);
      });

      it("writes a batch in one call and returns the written rows in the order given, without the refused ones", async () => {
        const tasks = await running(["https://a.example/1", "https://a.example/2", "https://a.example/3", "https://a.example/4"]);
        const [t1, t2, t3, t4] = tasks as [Task, Task, Task, Task];
        const written = await store.finishAttempts(
          OWNER,
          [retryOutcome(t4, T0 + 1000), { ...succeedOutcome(t2), attempt: 7 }, failOutcome(t3), succeedOutcome(t1)],
          T0 + 50,
        );
        expect(written.map((t) => [t.id, t.status])).toEqual([
          [t4.id, "PENDING"],
          [t3.id, "FAILED"],
          [t1.id, "SUCCEEDED"],
        ]);
        expect((await read(t2.id)).status).toBe("RUNNING");
      });

      it("of no outcomes writes nothing", async () => {
        expect(await store.finishAttempts(OWNER, [], T0)).toEqual([]);
      });
    });

    describe("reject", () => {
      it("moves PENDING tasks to FAILED with the error, without an attempt", async () => {
        const { tasks } = await submit(["https://a.example/1", "https://a.example/2"]);
        const written = await store.reject(tasks.map((t) => t.id), ROBOTS, T0 + 5);
        const expected = tasks.map((t): Task => ({ ...t, status: "FAILED", error: ROBOTS, finishedAt: new Date(T0 + 5) }));
        expect(written).toEqual(expected);
        expect(await readAll(tasks)).toEqual(expected);
      });

      it("refuses tasks that are not PENDING and leaves them as they are", async () => {
        const [runningTask, succeeded] = await running(["https://a.example/1", "https://a.example/2"]);
        await store.finishAttempts(OWNER, [succeedOutcome(succeeded!)], T0);
        const { tasks: [cancelled, pending] } = await submit(["https://b.example/1", "https://b.example/2"]);
        await store.cancel(cancelled!.id, T0);
        const before = await readAll([runningTask!, succeeded!, cancelled!]);
        const written = await store.reject([runningTask!.id, succeeded!.id, cancelled!.id, pending!.id], ROBOTS, T0 + 5);
        expect(written.map((t) => t.id)).toEqual([pending!.id]);
        expect(await readAll([runningTask!, succeeded!, cancelled!])).toEqual(before);
        // Once rejected, a second reject is refused too.
        expect(await store.reject([pending!.id], ROBOTS, T0 + 6)).toEqual([]);
      });
    });

    describe("cancel", () => {
      it("cancels a PENDING task", async () => {
        const { tasks } = await submit(["https://a.example/1"]);
        const cancelled = await store.cancel(tasks[0]!.id, T0 + 7);
        const expected: Task = { ...tasks[0]!, status: "CANCELLED", finishedAt: new Date(T0 + 7) };
        expect(cancelled).toEqual(expected);
        expect(await read(tasks[0]!.id)).toEqual(expected);
        expect(await claim()).toEqual([]);
      });

      it("cancels a task waiting for its retry", async () => {
        const [task] = await running(["https://a.example/1"]);
        await store.finishAttempts(OWNER, [retryOutcome(task!, T0 + 1000)], T0);
        expect(await store.cancel(task!.id, T0 + 1)).toMatchObject({ status: "CANCELLED", attempts: 1 });
        expect(await store.nextRunAt(T0 + 1)).toBeNull();
      });

      it("returns null for a task that is not PENDING and leaves it as it is", async () => {
        const [runningTask, succeeded] = await running(["https://a.example/1", "https://a.example/2"]);
        await store.finishAttempts(OWNER, [succeedOutcome(succeeded!)], T0);
        const { tasks: [cancelled] } = await submit(["https://b.example/1"]);
        await store.cancel(cancelled!.id, T0);
        for (const task of [runningTask!, succeeded!, cancelled!]) {
          const before = await read(task.id);
          expect(await store.cancel(task.id, T0 + 9)).toBeNull();
          expect(await read(task.id)).toEqual(before);
        }
      });

      it("returns null for an unknown task", async () => {
        expect(await store.cancel(424242, T0)).toBeNull();
      });
    });

    describe("requeue", () => {
      it("puts every RUNNING claim of the owner back to PENDING and says how many", async () => {
        const mine = await running(["https://a.example/1", "https://a.example/2"]);
        expect(await store.requeue(OWNER)).toBe(2);
        for (const task of await readAll(mine)) expect(task).toMatchObject({ status: "PENDING", attempts: 1 });
        // They run again.
        expect((await claim()).map((c) => c.task.id)).toEqual(mine.map((t) => t.id));
      });

      it("puts back only the given ids", async () => {
        const [t1, t2, t3] = await running(["https://a.example/1", "https://a.example/2", "https://a.example/3"]);
        expect(await store.requeue(OWNER, [t1!.id, t3!.id])).toBe(2);
        expect((await readAll([t1!, t2!, t3!])).map((t) => t.status)).toEqual(["PENDING", "RUNNING", "PENDING"]);
      });

      it("leaves other owners' claims, PENDING tasks and finished tasks alone", async () => {
        const [theirs] = await running(["https://b.example/1"], OTHER);
        const [mineDone, mineRunning] = await running(["https://a.example/1", "https://a.example/2"]);
        await store.finishAttempts(OWNER, [succeedOutcome(mineDone!)], T0);
        const { tasks: [pending] } = await submit(["https://c.example/1"]);
        const before = await readAll([theirs!, mineDone!, pending!]);
        expect(await store.requeue(OWNER, [theirs!.id, mineDone!.id, pending!.id])).toBe(0);
        expect(await store.requeue(OWNER)).toBe(1);
        expect(await readAll([theirs!, mineDone!, pending!])).toEqual(before);
        expect((await read(mineRunning!.id)).status).toBe("PENDING");
      });

      it("of an empty id list changes nothing", async () => {
        const [task] = await running(["https://a.example/1"]);
        expect(await store.requeue(OWNER, [])).toBe(0);
        expect((await read(task!.id)).status).toBe("RUNNING");
      });
    });

    describe("requeueOrphans", () => {
      it("requeues the claims of every other owner, not the live owner's", async () => {
        const [orphan1] = await running(["https://a.example/1"], OTHER);
        const [orphan2] = await running(["https://b.example/1"], "owner-c");
        const [live] = await running(["https://c.example/1"], OWNER);
        expect(await store.requeueOrphans(OWNER)).toBe(2);
        expect((await readAll([orphan1!, orphan2!, live!])).map((t) => t.status)).toEqual(["PENDING", "PENDING", "RUNNING"]);
        // The orphans' owners can no longer end them; the next claim can.
        expect(await store.finishAttempts(OTHER, [succeedOutcome(orphan1!)], T0)).toEqual([]);
        const again = await claim();
        expect(again.map((c) => [c.task.id, c.task.attempts])).toEqual([
          [orphan1!.id, 2],
          [orphan2!.id, 2],
        ]);
      });

      it("leaves PENDING and finished tasks alone", async () => {
        const [done] = await running(["https://a.example/1"], OTHER);
        await store.finishAttempts(OTHER, [succeedOutcome(done!)], T0);
        const { tasks: [pending] } = await submit(["https://b.example/1"]);
        const before = await readAll([done!, pending!]);
        expect(await store.requeueOrphans(OWNER)).toBe(0);
        expect(await readAll([done!, pending!])).toEqual(before);
      });
    });

    describe("listFinishedSince", () => {
      it("lists the tasks that reached a terminal state at or after `since`, in (finishedAt, id) order, up to the limit", async () => {
        const [succeeded, failed, retried, stillRunning] = await running(["https://a.example/1", "https://a.example/2", "https://a.example/3", "https://a.example/4"]);
        const { tasks: [cancelled, rejected, pending] } = await submit(["https://b.example/1", "https://b.example/2", "https://b.example/3"]);
        await store.finishAttempts(OWNER, [succeedOutcome(succeeded!)], T0 + 30);
        await store.finishAttempts(OWNER, [failOutcome(failed!), retryOutcome(retried!, T0 + 5_000)], T0 + 10);
        await store.reject([rejected!.id], ROBOTS, T0 + 20);
        await store.cancel(cancelled!.id, T0 + 20);
        const ids = (tasks: readonly Task[]) => tasks.map((t) => t.id);
        expect(ids(await store.listFinishedSince(T0, 10))).toEqual([failed!.id, cancelled!.id, rejected!.id, succeeded!.id]);
        expect(ids(await store.listFinishedSince(T0 + 20, 10))).toEqual([cancelled!.id, rejected!.id, succeeded!.id]);
        expect(ids(await store.listFinishedSince(T0 + 11, 2))).toEqual([cancelled!.id, rejected!.id]);
        expect(await store.listFinishedSince(T0 + 31, 10)).toEqual([]);
        const [row] = await store.listFinishedSince(T0 + 30, 1);
        expect(row).toEqual(await read(succeeded!.id));
        expect([stillRunning, pending, retried].map((t) => t!.id)).not.toContain(row!.id);
      });
    });

    describe("nextRunAt", () => {
      it("is null when no task waits for a retry backoff", async () => {
        expect(await store.nextRunAt(T0)).toBeNull();
        await submit(["https://a.example/1"]);
        expect(await store.nextRunAt(T0)).toBeNull();
      });

      it("is the earliest runAt still in the future of a PENDING task", async () => {
        const [soon, later, due, cancelled] = await running(["https://a.example/1", "https://a.example/2", "https://a.example/3", "https://a.example/4"]);
        await store.finishAttempts(
          OWNER,
          [retryOutcome(later!, T0 + 3_000), retryOutcome(soon!, T0 + 2_000), retryOutcome(due!, T0 + 500), retryOutcome(cancelled!, T0 + 1_000)],
          T0,
        );
        await store.cancel(cancelled!.id, T0);
        expect(await store.nextRunAt(T0 + 100)).toBe(T0 + 500);
        expect(await store.nextRunAt(T0 + 500)).toBe(T0 + 2_000);
        expect(await store.nextRunAt(T0 + 2_500)).toBe(T0 + 3_000);
        expect(await store.nextRunAt(T0 + 3_000)).toBeNull();
      });
    });

    describe("ping", () => {
      it("resolves while the database answers", async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });

    describe("statementCounts", () => {
      it("counts each operation under its name, and the ids findByIds read", async () => {
        const before = store.statementCounts();
        const count = (counts: Record<string, number>, name: string) => counts[name] ?? 0;
        const { id, tasks } = await submit(["https://a.example/1", "https://a.example/2", "https://a.example/3"]);
        await store.findByIds(tasks.map((t) => t.id), ALL_TASKS);
        await store.findBySubmission(id, ALL_TASKS);
        await store.listTasks({ scope: ALL_TASKS, first: 10 });
        await store.countByStatus(ALL_TASKS);
        await store.nextRunAt(T0);
        const [claimed] = await claim({ limit: 1 });
        await store.finishAttempts(OWNER, [succeedOutcome(claimed!.task)], T0);
        await store.reject([tasks[1]!.id], ROBOTS, T0);
        await store.cancel(tasks[2]!.id, T0);
        await store.requeue(OWNER);
        await store.requeueOrphans(OWNER);
        const after = store.statementCounts();
        for (const operation of [
          "createSubmission", "findByIds", "findBySubmission", "listTasks", "countByStatus", "nextRunAt", "claim",
          "finishAttempts", "reject", "cancel", "requeue", "requeueOrphans",
        ]) {
          expect(count(after, operation), operation).toBeGreaterThan(count(before, operation));
        }
        expect(count(after, "findByIdsRows") - count(before, "findByIdsRows")).toBe(3);
        for (const value of Object.values(after)) expect(Number.isInteger(value) && value >= 0).toBe(true);
      });

      it("returns a snapshot that later operations do not change", async () => {
        const snapshot = store.statementCounts();
        const copy = { ...snapshot };
        await submit(["https://a.example/1"]);
        expect(snapshot).toEqual(copy);
      });
    });
  });
}

/** A fixed clock: every write says when it happened, so the tests can tell which write a row shows. */
const T0 = 1_750_000_000_000;
const OWNER = "owner-a";
const OTHER = "owner-b";
const ROBOTS: TaskError = { code: "ROBOTS_DISALLOWED", message: "robots.txt of https://a.example disallows this URL" };
const DEFAULT_OPTIONS: SubmissionOptions = { maxRetries: 2, perHostConcurrency: 4, hostDelayMs: 0, respectRobots: false };

function checked(url: string): CheckedUrl {
  return { url, host: new URL(url).hostname };
}

function pageFor(url: string): PageResult {
  return { httpStatus: 200, finalUrl: url, contentType: "text/html; charset=utf-8", contentLength: 1234, title: `Title of ${url}`, linkCount: 7, fetchMs: 12.5, parseMs: 0.75 };
}

function succeedOutcome(task: Task, page: PageResult = pageFor(task.url), worker = 1): AttemptOutcome {
  return { id: task.id, attempt: task.attempts, worker, kind: "succeed", page };
}

function failOutcome(task: Task, error: TaskError = { code: "HTTP_STATUS", message: "HTTP 500" }, attemptMade = true, worker = 1): AttemptOutcome {
  return { id: task.id, attempt: task.attempts, worker, kind: "fail", error, attemptMade };
}

function retryOutcome(task: Task, runAt: number, error: TaskError = { code: "HTTP_STATUS", message: "HTTP 503" }): AttemptOutcome {
  return { id: task.id, attempt: task.attempts, worker: 1, kind: "retryLater", error, runAt };
}

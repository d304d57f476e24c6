import { createServer, connect, type Socket } from "node:net";
import pg from "pg";
import { pino } from "pino";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { InProcessCompletionBus } from "../../src/tasks/bus/in-process-bus.js";
import { PostgresCompletionBus, type PostgresBusTiming } from "../../src/tasks/bus/postgres-bus.js";
import type { CompletionBus, CompletionListener, DoneSelection } from "../../src/tasks/completion-bus.js";
import type { Task } from "../../src/tasks/task.js";
import { finishTasks, inTransaction, insertTasks, sqlReader, testPool } from "../helpers/pg-completions.js";
import { dropTemplate, freshPostgres, type FreshPostgres } from "../helpers/postgres.js";

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

/** A bus under test and a way to make the completions it carries. */
interface BusFixture {
  bus: CompletionBus;
  /**
   * Commits these completions one after the other, publishes them as the lifecycle does, and resolves once
   * the bus has delivered them to its subscribers (at once when the bus is closed).
   */
  complete(tasks: readonly Task[]): Promise<void>;
  close(): Promise<void>;
}

/** What every CompletionBus does, run against the buses `fixture` makes. */
function describeCompletionBus(name: string, fixture: () => Promise<BusFixture>): void {
  describe(name, () => {
    let bus: CompletionBus;
    let complete: BusFixture["complete"];
    let close: BusFixture["close"];
    beforeEach(async () => {
      ({ bus, complete, close } = await fixture());
    });
    afterEach(async () => {
      await close();
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
      await complete([doneTask(7, 3)]);
      expect(byId.ids).toEqual([7]);
      expect(bySubmission.ids).toEqual([7]);
      expect(all.ids).toEqual([7]);
      expect(otherId.ids).toEqual([]);
      expect(otherSubmission.ids).toEqual([]);
    });

    it("delivers completions in the order they were committed", async () => {
      const all = recorder();
      const submission = recorder();
      await bus.subscribe({ kind: "all" }, all);
      await bus.subscribe({ kind: "submission", submissionId: 1 }, submission);
      await complete([doneTask(3), doneTask(1), doneTask(2)]);
      expect(all.ids).toEqual([3, 1, 2]);
      expect(submission.ids).toEqual([3, 1, 2]);
    });

    it("gives a subscriber for many ids each of them once, and nothing else", async () => {
      const many = recorder();
      const selected = Array.from({ length: 50 }, (_, i) => 1 + i * 2);
      await bus.subscribe(ids(...selected), many);
      await complete(Array.from({ length: 100 }, (_, i) => doneTask(1 + i)));
      expect(many.ids).toEqual(selected);
    });

    it("is live as soon as subscribe resolves", async () => {
      const listener = recorder();
      await bus.subscribe(ids(1), listener);
      await complete([doneTask(1)]);
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
      await complete([1, 2, 3, 4].map((id) => doneTask(id)));
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
      await complete([1, 2, 3].map((id) => doneTask(id)));
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
      await complete([doneTask(1)]);
      expect(listener.ids).toEqual([1, 1]);
    });

    it("lets a listener unsubscribe while it is being called; the others still get the completions", async () => {
      const after = recorder();
      const unsubscribes: Array<() => void> = [];
      const selfRemoving = recorder();
      unsubscribes.push(
        await bus.subscribe(ids(1, 2), (task) => {
          selfRemoving(task);
          unsubscribes[0]!();
        }),
      );
      await bus.subscribe(ids(1, 2), after);
      await complete([doneTask(1), doneTask(2)]);
      expect(selfRemoving.ids).toEqual([1]);
      expect(after.ids).toEqual([1, 2]);
      expect(bus.subscriptionCount()).toBe(1);
    });

    it("takes 1,000 subscribers on one task id without a MaxListenersExceededWarning, delivering to each once", async () => {
      const warnings: Error[] = [];
      const onWarning = (warning: Error) => void warnings.push(warning);
      process.on("warning", onWarning);
      try {
        let delivered = 0;
        const unsubscribes = await Promise.all(
          Array.from({ length: 1000 }, () => bus.subscribe(ids(42, 43), () => void delivered++)),
        );
        expect(bus.subscriptionCount()).toBe(1000);
        await complete([doneTask(42)]);
        expect(delivered).toBe(1000);
        for (const unsubscribe of unsubscribes) unsubscribe();
        expect(bus.subscriptionCount()).toBe(0);
        await complete([doneTask(43)]);
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
      await complete([doneTask(1)]);
      expect(listener.ids).toEqual([]);
    });
  });
}

describeCompletionBus("InProcessCompletionBus", async () => {
  const bus = new InProcessCompletionBus();
  return { bus, complete: async (tasks) => bus.publish(tasks), close: () => bus.close() };
});

const silent = pino({ level: "silent" });
// Short enough that a reconnect takes a moment in a test, long enough to subscribe during the outage.
const TEST_TIMING: Partial<PostgresBusTiming> = { reconnectMinMs: 200, reconnectMaxMs: 1_000, keepaliveMs: 1_000 };

/** Resolves once `listener` (subscribed to `selection` on `bus`) has seen `count` completions. */
async function waitFor(bus: CompletionBus, selection: DoneSelection, count: number): Promise<() => Promise<void>> {
  let seen = 0;
  let done!: () => void;
  const arrived = new Promise<void>((resolve) => (done = resolve));
  const unsubscribe = await bus.subscribe(selection, () => {
    if (++seen === count) done();
  });
  return async () => {
    await arrived;
    unsubscribe();
  };
}

describeCompletionBus("PostgresCompletionBus", async () => {
  const database = await freshPostgres();
  const db = testPool(database.url);
  const bus = await PostgresCompletionBus.start({ databaseUrl: database.url, reader: sqlReader(db), logger: silent, timing: TEST_TIMING });
  return {
    bus,
    async complete(tasks) {
      await insertTasks(db, tasks);
      const delivered = await waitFor(bus, ids(...tasks.map((t) => t.id)), tasks.length).catch(() => null);
      const rows = await inTransaction(db, async (tx) => {
        const written: Task[] = [];
        for (const task of tasks) written.push(...(await finishTasks(tx, [task.id])));
        return written;
      });
      bus.publish(rows);
      await delivered?.();
    },
    async close() {
      await bus.close();
      await db.end();
      await database.drop();
    },
  };
});

/**
 * A TCP proxy to the test PostgreSQL server whose open connections can be frozen: bytes stop flowing both
 * ways while both sockets stay open, as when a network path dies silently. New connections flow.
 */
async function freezableProxy(target: string): Promise<{ url: string; freeze(): void; close(): void }> {
  const upstreamUrl = new URL(target);
  const pairs: Array<[Socket, Socket]> = [];
  const server = createServer((client) => {
    const upstream = connect(Number(upstreamUrl.port || 5432), upstreamUrl.hostname);
    client.pipe(upstream).pipe(client);
    for (const socket of [client, upstream]) {
      socket.on("error", () => {});
      socket.on("close", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    pairs.push([client, upstream]);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(target);
  url.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: url.toString(),
    freeze() {
      for (const [client, upstream] of pairs.splice(0)) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close() {
      server.close();
      for (const pair of pairs) for (const socket of pair) socket.destroy();
    },
  };
}

describe("PostgresCompletionBus across instances", () => {
  let database: FreshPostgres;
  let db: pg.Pool;
  const buses: PostgresCompletionBus[] = [];
  let instances = 0;

  async function startBus(
    options: { logger?: typeof silent; databaseUrl?: string; timing?: Partial<PostgresBusTiming> } = {},
  ): Promise<{ bus: PostgresCompletionBus; applicationName: string }> {
    const applicationName = `crawlq-bus-test-${++instances}`;
    const bus = await PostgresCompletionBus.start({
      databaseUrl: options.databaseUrl ?? database.url,
      reader: sqlReader(db),
      logger: options.logger ?? silent,
      timing: { ...TEST_TIMING, ...options.timing },
      applicationName,
    });
    buses.push(bus);
    return { bus, applicationName };
  }

  beforeEach(async () => {
    database = await freshPostgres();
    db = testPool(database.url);
  });
  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.close();
    await db.end();
    await database.drop();
  });
  afterAll(async () => {
    await dropTemplate();
  });

  it("delivers a completion committed by another connection to every instance", async () => {
    const [{ bus: a }, { bus: b }] = [await startBus(), await startBus()];
    await insertTasks(db, [{ id: 1 }]);
    const seen = { a: recorder(), b: recorder() };
    await a.subscribe({ kind: "all" }, seen.a);
    await b.subscribe(ids(1), seen.b);
    const both = Promise.all([waitFor(a, ids(1), 1), waitFor(b, ids(1), 1)]);
    const waits = await both;
    await finishTasks(db, [1]);
    await Promise.all(waits.map((wait) => wait()));
    expect(seen.a.ids).toEqual([1]);
    expect(seen.b.ids).toEqual([1]);
  });

  it("delivers nothing for a write that was rolled back", async () => {
    const { bus } = await startBus();
    await insertTasks(db, [{ id: 1 }, { id: 2 }]);
    const all = recorder();
    await bus.subscribe({ kind: "all" }, all);
    await expect(
      inTransaction(db, async (tx) => {
        await finishTasks(tx, [1]);
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    const second = await waitFor(bus, ids(2), 1);
    await finishTasks(db, [2]);
    await second();
    expect(all.ids).toEqual([2]);
  });

  it("delivers 2,000 completions of many statements exactly once, in commit order, to each instance", async () => {
    const [{ bus: a }, { bus: b }] = [await startBus(), await startBus()];
    const total = 2_000;
    const taskIds = Array.from({ length: total }, (_, i) => i + 1);
    await insertTasks(db, [...taskIds, total + 1].map((id) => ({ id })));
    // Statements of 1 to 40 tasks in a shuffled order, and one of 600 (two notifications); a few statements
    // share a transaction. Half the written rows are published as an instance would publish its own.
    const shuffled = [...taskIds].sort(() => Math.random() - 0.5);
    const statements: number[][] = [shuffled.splice(0, 600)];
    while (shuffled.length > 0) statements.push(shuffled.splice(0, 1 + Math.floor(Math.random() * 40)));
    const expected = statements.flatMap((s) => [...s].sort((x, y) => x - y));
    const seen = { a: recorder(), b: recorder() };
    await a.subscribe({ kind: "all" }, seen.a);
    await b.subscribe({ kind: "all" }, seen.b);
    const arrived = await Promise.all([waitFor(a, { kind: "all" }, total), waitFor(b, { kind: "all" }, total)]);
    for (let i = 0; i < statements.length; i += 3) {
      const rows = await inTransaction(db, async (tx) => {
        const written: Task[] = [];
        for (const statement of statements.slice(i, i + 3)) written.push(...(await finishTasks(tx, statement)));
        return written;
      });
      if (i % 2 === 0) a.publish(rows);
    }
    await Promise.all(arrived.map((wait) => wait()));
    // A duplicate would come before a completion committed after all of them.
    const sentinel = await Promise.all([waitFor(a, ids(total + 1), 1), waitFor(b, ids(total + 1), 1)]);
    await finishTasks(db, [total + 1]);
    await Promise.all(sentinel.map((wait) => wait()));
    seen.a.ids.pop();
    seen.b.ids.pop();
    expect(seen.a.ids).toEqual(expected);
    expect(seen.b.ids).toEqual(expected);
  });

  it("loses and repeats nothing when its listening connection is killed mid-run; subscribe waits for the reconnect", async () => {
    const lines: string[] = [];
    let noticeDrop!: () => void;
    const dropNoticed = new Promise<void>((resolve) => (noticeDrop = resolve));
    const logger = pino({ level: "warn" }, {
      write: (line: string) => {
        lines.push(line);
        if (line.includes("dropped")) noticeDrop();
      },
    });
    const { bus, applicationName } = await startBus({ logger });
    const other = (await startBus()).bus;
    const total = 1_500;
    const taskIds = Array.from({ length: total }, (_, i) => i + 1);
    await insertTasks(db, taskIds.map((id) => ({ id })));
    const seen = recorder();
    const otherSeen = recorder();
    await bus.subscribe({ kind: "all" }, seen);
    await other.subscribe({ kind: "all" }, otherSeen);
    const arrived = await Promise.all([waitFor(bus, { kind: "all" }, total), waitFor(other, { kind: "all" }, total)]);
    const someArrived = await waitFor(bus, { kind: "all" }, 300);

    const writer = (async () => {
      for (let i = 0; i < total; i += 5) await finishTasks(db, taskIds.slice(i, i + 5));
    })();
    const late = recorder();
    let lateSubscribed = false;
    const killer = (async () => {
      await someArrived();
      const { rows } = await db.query(`SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1`, [
        applicationName,
      ]);
      expect(rows).toEqual([{ killed: true }]);
      await dropNoticed;
      const subscribing = bus.subscribe({ kind: "all" }, late).then(() => (lateSubscribed = true));
      await new Promise((resolve) => setImmediate(resolve));
      expect(lateSubscribed).toBe(false);
      await subscribing;
    })();
    await Promise.all([writer, killer]);
    await Promise.all(arrived.map((wait) => wait()));
    expect(otherSeen.ids).toHaveLength(total);
    expect(new Set(otherSeen.ids).size).toBe(total);
    expect(seen.ids).toEqual(otherSeen.ids);
    expect(lines.filter((l) => l.includes("listening again"))).toHaveLength(1);
    // What the late subscriber got is a tail of the same sequence.
    expect(late.ids).toEqual(seen.ids.slice(total - late.ids.length));
  });

  it("notices a listening connection that went silent by its keepalive, reconnects and catches up", async () => {
    const proxy = await freezableProxy(database.url);
    try {
      const lines: string[] = [];
      const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
      const { bus } = await startBus({ logger, databaseUrl: proxy.url, timing: { keepaliveMs: 100, keepaliveTimeoutMs: 300 } });
      await insertTasks(db, [1, 2, 3].map((id) => ({ id })));
      const all = recorder();
      await bus.subscribe({ kind: "all" }, all);
      const arrived = await waitFor(bus, { kind: "all" }, 3);
      await finishTasks(db, [1]);
      proxy.freeze();
      await finishTasks(db, [2]);
      await finishTasks(db, [3]);
      await arrived();
      expect(all.ids).toEqual([1, 2, 3]);
      expect(lines.some((l) => l.includes("dropped") && l.includes("keepalive"))).toBe(true);
    } finally {
      proxy.close();
    }
  });

  it("calls onWork listeners when tasks become PENDING anywhere, and when completions arrive", async () => {
    const { bus } = await startBus();
    let woken = 0;
    let wake!: () => void;
    let next = new Promise<void>((resolve) => (wake = resolve));
    const stop = bus.onWork(() => {
      woken++;
      wake();
    });
    await insertTasks(db, [{ id: 1 }]);
    await next;
    expect(woken).toBe(1);
    next = new Promise<void>((resolve) => (wake = resolve));
    await finishTasks(db, [1]);
    await next;
    expect(woken).toBe(2);
    stop();
    const delivered = await waitFor(bus, ids(2), 1);
    await insertTasks(db, [{ id: 2 }]);
    await finishTasks(db, [2]);
    await delivered();
    expect(woken).toBe(2);
  });
});

import { withPgClient } from "../../testkit/postgres.js";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { PostgresTaskStore } from "../../src/tasks/store/postgres/postgres-task-store.js";
import { TASK_STATUSES } from "../../src/tasks/task-state.js";
import { ALL_TASKS, type TaskScope } from "../../src/tasks/task-store.js";
import { dropTemplate, freshPostgres } from "../helpers/postgres.js";
import { describeTaskStoreContract, type OpenedTaskStore, type RawTasks } from "./store-contract.js";

// Each test gets a migrated database of its own (a copy of a template migrated once per process). No
// PostgreSQL: every test fails at its first connection, none is skipped.
afterAll(() => dropTemplate());

/** The database straight, for the contract's GROUP BY and purge. */
function rawPostgres(url: string): RawTasks {
  return {
    async countByStatus(scope: TaskScope) {
      const { rows } = await withPgClient(url, (c) =>
        c.query<{ status: string; n: number }>(
          `SELECT status, count(*)::int AS n FROM "Task" WHERE $1::int IS NULL OR "ownerKeyId" = $1 GROUP BY status`,
          [scope.kind === "all" ? null : scope.keyId],
        ),
      );
      return { ...Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])), ...Object.fromEntries(rows.map((r) => [r.status, r.n])) };
    },
    async deleteTasks(ids) {
      await withPgClient(url, (c) => c.query(`DELETE FROM "Task" WHERE id = ANY($1::int[])`, [ids]));
    },
  };
}

/** A store on a fresh database, and more stores on the same database (the other instances). */
async function openPostgresStore(): Promise<OpenedTaskStore & { url: string }> {
  const database = await freshPostgres();
  const stores = [await PostgresTaskStore.open(database.url)];
  return {
    store: stores[0]!,
    url: database.url,
    raw: rawPostgres(database.url),
    async openAnother() {
      const other = await PostgresTaskStore.open(database.url);
      stores.push(other);
      return other;
    },
    async cleanup() {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      await database.drop();
    },
  };
}

describeTaskStoreContract("PostgreSQL", openPostgresStore);

describe("PostgresTaskStore.requeueOrphans: instance leases", () => {
  let opened: Awaited<ReturnType<typeof openPostgresStore>>;
  beforeEach(async () => {
    opened = await openPostgresStore();
  });
  afterEach(() => opened.cleanup());

  /** Registers an instance whose lease ends `leaseMs` from now (negative: already expired). */
  const instance = (id: string, leaseMs: number) =>
    withPgClient(opened.url, (client) =>
      client.query(
        `INSERT INTO "Instance" (id, "hostName", pid, threads, "startedAt", "heartbeatAt", "leaseExpiresAt")
         VALUES ($1, 'test', 1, 1, now(), now(), now() + make_interval(secs => $2::float8 / 1000))`,
        [id, leaseMs],
      ),
    );

  it("requeues the claims of instances whose lease expired or that never registered, not those of live instances", async () => {
    const { store } = opened;
    await instance("live", 60_000);
    await instance("expired", -1_000);
    const { tasks } = await store.createSubmission(
      ["https://a.example/", "https://b.example/", "https://c.example/", "https://d.example/"].map((url) => ({ url, host: new URL(url).hostname })),
      { maxRetries: 2, perHostConcurrency: 4, hostDelayMs: 0, respectRobots: false },
      Date.now(),
      null,
    );
    const owners = ["me", "live", "expired", "unknown"];
    for (const [i, owner] of owners.entries()) {
      const id = tasks[i]!.id;
      await store.claim({ owner, limit: 1, now: Date.now(), skipHosts: new Set(), admit: (c) => c.id === id });
    }
    expect(await store.requeueOrphans("me")).toBe(2);
    const rows = await store.findByIds(tasks.map((t) => t.id), ALL_TASKS);
    const statusOf = (i: number) => rows.find((t) => t.id === tasks[i]!.id)!.status;
    expect(owners.map((_, i) => statusOf(i))).toEqual(["RUNNING", "RUNNING", "PENDING", "PENDING"]);
  });
});

describe("PostgresTaskStore.claim: round trips", () => {
  let opened: Awaited<ReturnType<typeof openPostgresStore>>;
  beforeEach(async () => {
    opened = await openPostgresStore();
  });
  afterEach(() => opened.cleanup());

  it("reads the submissions, then the hosts in one statement when they fit one batch, even when the walk wraps around to where it started", async () => {
    const { store } = opened;
    const options = { maxRetries: 2, perHostConcurrency: 1, hostDelayMs: 0, respectRobots: false };
    const urls = ["https://a.example/1", "https://b.example/1", "https://b.example/2", "https://c.example/1"];
    await store.createSubmission(urls.map((url) => ({ url, host: new URL(url).hostname })), options, Date.now(), null);
    const reads = async (limit: number) => {
      const before = store.statementCounts().claimReads ?? 0;
      const claimed = await store.claim({ owner: "me", limit, now: Date.now(), skipHosts: new Set(), admit: () => true });
      return { hosts: claimed.map((c) => c.task.host), reads: (store.statementCounts().claimReads ?? 0) - before };
    };
    expect(await reads(1)).toEqual({ hosts: ["a.example"], reads: 2 });
    // From after a.example: b, c, then (lap 1) a again, which runs its limit: all in the first hosts statement.
    expect(await reads(10)).toEqual({ hosts: ["b.example", "c.example"], reads: 2 });
  });
});

describe("PostgresTaskStore: task counts sharded by connection", () => {
  let opened: Awaited<ReturnType<typeof openPostgresStore>>;
  beforeEach(async () => {
    opened = await openPostgresStore();
  });
  afterEach(() => opened.cleanup());

  const shards = () =>
    withPgClient(opened.url, async (c) => (await c.query<{ shard: number }>(`SELECT DISTINCT shard FROM "TaskCount" ORDER BY shard`)).rows.map((r) => r.shard));

  it("writers of several stores at once keep the counts exact; a fold moves closed connections' rows to shard 0, sums unchanged", async () => {
    // The other two are closed by the test itself.
    const stores = [opened.store, await PostgresTaskStore.open(opened.url), await PostgresTaskStore.open(opened.url)];
    const options = { maxRetries: 2, perHostConcurrency: 100, hostDelayMs: 0, respectRobots: false };
    const urls = Array.from({ length: 30 }, (_, i) => ({ url: `https://h${i % 5}.example/${i}`, host: `h${i % 5}.example` }));
    // Every store submits, claims and finishes at once, many times over: no deadlock, no lost update.
    await Promise.all(
      stores.map(async (store, k) => {
        for (let round = 0; round < 5; round++) {
          await store.createSubmission(urls, options, Date.now(), k === 0 ? null : k);
          const claimed = await store.claim({ owner: `o${k}`, limit: 20, now: Date.now(), skipHosts: new Set(), admit: () => true });
          await store.finishAttempts(
            `o${k}`,
            claimed.map(({ task }) => ({ id: task.id, attempt: task.attempts, worker: 1, kind: "fail", attemptMade: true, error: { code: "X", message: "x" } })),
            Date.now(),
          );
        }
      }),
    );
    const exact = await rawPostgres(opened.url).countByStatus(ALL_TASKS);
    expect(await opened.store.countByStatus(ALL_TASKS)).toEqual(exact);
    expect((await shards()).length).toBeGreaterThan(1);
    // The other stores' connections close; their rows fold into shard 0 once their backends are gone.
    await Promise.all(stores.slice(1).map((s) => s.close()));
    let left: number[] = [];
    for (let i = 0; i < 50; i++) {
      await withPgClient(opened.url, (c) => c.query(`SELECT "crawlq_fold_task_counts"()`));
      const live = await withPgClient(opened.url, async (c) => (await c.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity`)).rows.map((r) => r.pid));
      left = (await shards()).filter((s) => s !== 0 && !live.includes(s));
      if (left.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(left).toEqual([]);
    expect((await shards())[0]).toBe(0);
    expect(await opened.store.countByStatus(ALL_TASKS)).toEqual(exact);
    expect(await opened.store.countByStatus({ kind: "owner", keyId: 2 })).toEqual(await rawPostgres(opened.url).countByStatus({ kind: "owner", keyId: 2 }));
  });
});

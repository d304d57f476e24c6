import { withPgClient } from "../../testkit/postgres.js";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { PostgresTaskStore } from "../../src/tasks/store/postgres/postgres-task-store.js";
import { ALL_TASKS } from "../../src/tasks/task-store.js";
import { dropTemplate, freshPostgres } from "../helpers/postgres.js";
import { describeTaskStoreContract, type OpenedTaskStore } from "./store-contract.js";

// Each test gets a migrated database of its own (a copy of a template migrated once per process). No
// PostgreSQL: every test fails at its first connection, none is skipped.
afterAll(() => dropTemplate());

/** A store on a fresh database, and more stores on the same database (the other instances). */
async function openPostgresStore(): Promise<OpenedTaskStore & { url: string }> {
  const database = await freshPostgres();
  const stores = [await PostgresTaskStore.open(database.url)];
  return {
    store: stores[0]!,
    url: database.url,
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

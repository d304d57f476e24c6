import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { gqlData, subscribeWs, wsClient } from "../../testkit/graphql-client.js";
import { POSTGRES, type TestDatabase } from "../helpers/backends.js";
import { startGatedSite, type GatedSite } from "../helpers/gated-site.js";
import { Batch, Pool, Result, TaskDone } from "../../src/client/operations.js";
import { SUBMIT, type TaskView } from "../helpers/queries.js";
import { startService, type RunningService } from "../helpers/service.js";

/**
 * Several instances of the real service on one PostgreSQL database: claims, leases, completions and
 * politeness across processes. Each test has a database of its own.
 */

/** Short leases so a killed instance's tasks come back within a couple of seconds. */
const CLUSTER_ENV = { CRAWLQ_HEARTBEAT_MS: "200", CRAWLQ_LEASE_MS: "1500", CRAWLQ_RETRY_BASE_MS: "50" };

let db: TestDatabase;
let sql: pg.Pool;
const services: RunningService[] = [];

async function startInstances(count: number, env: Record<string, string> = {}): Promise<RunningService[]> {
  const started = await Promise.all(Array.from({ length: count }, () => startService(db.url, { ...CLUSTER_ENV, ...env })));
  services.push(...started);
  return started;
}

/** The instance id a service registered (its claims carry it). */
async function instanceId(service: RunningService): Promise<string> {
  const { rows } = await sql.query<{ id: string }>(`SELECT id FROM "Instance" WHERE pid = $1`, [service.process.pid]);
  if (!rows[0]) throw new Error(`instance of pid ${service.process.pid} is not registered`);
  return rows[0].id;
}

/** RUNNING task ids by the instance holding them. */
async function claimsByInstance(): Promise<Map<string, number[]>> {
  const { rows } = await sql.query<{ claimedBy: string; id: number }>(
    `SELECT "claimedBy", id FROM "Task" WHERE status = 'RUNNING' ORDER BY id`,
  );
  const claims = new Map<string, number[]>();
  for (const r of rows) claims.set(r.claimedBy, [...(claims.get(r.claimedBy) ?? []), r.id]);
  return claims;
}

/** Resolves once `check` holds, polling the database (the state under test lives there, not in an event). */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  db = await POSTGRES.database();
  sql = new pg.Pool({ connectionString: db.url, max: 2 });
});

afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  await sql.query(`TRUNCATE "Task", "Submission", "Instance" RESTART IDENTITY CASCADE`);
});

afterAll(async () => {
  await sql?.end();
  await db?.remove();
});

describe("three instances, one killed with SIGKILL mid-run", () => {
  let site: FixtureSite;
  beforeAll(async () => {
    // Slow enough pages that every instance always holds some.
    site = await startFixtureSite({ latencyMs: 20 });
  });
  afterAll(() => site?.close());

  it("ends every one of 5,000 tasks exactly once, and a subscriber on a survivor sees each once", async () => {
    const COUNT = 5000;
    const [a, b, c] = await startInstances(3, { CRAWLQ_PER_HOST_CONCURRENCY: "64" });
    const victim = await instanceId(c!);
    const urls = Array.from({ length: COUNT }, (_, i) => site.url(`/page/${i + 1}`));
    const client = wsClient(b!.url);
    try {
      const { submitCrawl } = await gqlData(a!.url, SUBMIT, { urls: urls.slice(0, 1) });
      // Subscribed (on B) to a second submission before any of its tasks can finish: submitted on A after.
      const big = await gqlData(a!.url, SUBMIT, { urls });
      const stream = subscribeWs(client, TaskDone, "taskDone", { submissionId: big.submitCrawl.id });
      expect(submitCrawl.id).not.toBe(big.submitCrawl.id);

      // Kill C while it holds claims. SIGSTOP first: a frozen C can finish nothing, so what the database says
      // it holds is what it held when it died (read well within its lease, so nobody has taken them back).
      await stream.waitFor(500);
      let heldByVictim: number[] = [];
      while (heldByVictim.length === 0) {
        await until(async () => ((await claimsByInstance()).get(victim)?.length ?? 0) > 0, "C holds claims");
        c!.process.kill("SIGSTOP");
        heldByVictim = (await claimsByInstance()).get(victim) ?? [];
        // It finished them all just before it froze: let it go on and try again.
        if (heldByVictim.length === 0) c!.process.kill("SIGCONT");
      }
      c!.process.kill("SIGKILL");
      await c!.exited;
      console.log(`SIGKILL with ${heldByVictim.length} tasks RUNNING on C, ${stream.items.length} done`);
      expect(heldByVictim.length).toBeGreaterThan(0);

      await stream.completed;
      expect(stream.errors).toEqual([]);
      const ids = stream.items.map((t) => t.id);
      expect(ids).toHaveLength(COUNT);
      expect(new Set(ids).size).toBe(COUNT);

      // What the stream said is what the database holds: no terminal state changed after it was read.
      const { batch } = await gqlData(a!.url, Batch, { submissionId: big.submitCrawl.id, timeoutMs: 0 });
      expect(batch).toMatchObject({ complete: true, done: COUNT, notDone: 0 });
      const streamed = new Map(stream.items.map((t) => [t.id, t]));
      for (const task of batch.tasks) expect(streamed.get(task.id)).toEqual(task);
      expect(batch.tasks.every((t) => t.status === "SUCCEEDED")).toBe(true);
      // The killed instance's claims ran again elsewhere.
      const victimTasks = new Set(heldByVictim.map(String));
      expect(batch.tasks.filter((t) => victimTasks.has(t.id)).every((t) => t.status === "SUCCEEDED")).toBe(true);
      expect((await claimsByInstance()).size).toBe(0);
    } finally {
      await client.dispose();
    }
  }, 120_000);
});

describe("completions cross instances", () => {
  let gated: GatedSite;
  beforeAll(async () => {
    gated = await startGatedSite();
  });
  afterAll(() => gated?.close());

  it("a subscriber on A receives the tasks B ran, and a blocked result(id) on A wakes when B finishes", async () => {
    const [a, b] = await startInstances(2, { CRAWLQ_PER_HOST_CONCURRENCY: "64" });
    const ids = { a: await instanceId(a!), b: await instanceId(b!) };
    // 24 tasks, 16 in flight at most per instance (TEST_ENV): each instance holds some.
    const keys = Array.from({ length: 24 }, (_, i) => `cross-${i}`);
    const { submitCrawl } = await gqlData(a!.url, SUBMIT, { urls: keys.map((k) => gated.url(k)) });
    await Promise.all(keys.map((k) => gated.arrived(k)));
    const claims = await claimsByInstance();
    const ranByB = claims.get(ids.b) ?? [];
    expect(ranByB.length).toBeGreaterThan(0);
    expect(ranByB.length + (claims.get(ids.a)?.length ?? 0)).toBe(keys.length);
    // Either instance's pool sums both, and lists them (the other's in flight as of its next heartbeat).
    await until(async () => (await gqlData(b!.url, Pool)).pool.inFlight === keys.length, "B's pool counts A's in flight");
    const { pool } = await gqlData(b!.url, Pool);
    expect(pool).toMatchObject({ threads: 4, running: keys.length, inFlight: keys.length });
    expect(pool.instances.map((i) => i.id).sort()).toEqual([ids.a, ids.b].sort());

    const client = wsClient(a!.url);
    try {
      const stream = subscribeWs(client, TaskDone, "taskDone", { submissionId: submitCrawl.id });
      const waited = gqlData(a!.url, Result, { id: String(ranByB[0]), timeoutMs: 20_000 });
      // Whether or not the two are live yet when the gates open, each reads the database after subscribing.
      for (const k of keys) gated.release(k);
      const { result } = await waited;
      expect(result).toMatchObject({ id: String(ranByB[0]), status: "SUCCEEDED", done: true });
      await stream.completed;
      expect(stream.errors).toEqual([]);
      expect(new Set(stream.items.map((t) => t.id)).size).toBe(keys.length);
      expect(stream.items).toHaveLength(keys.length);
      const seen = new Set(stream.items.map((t) => Number(t.id)));
      for (const id of ranByB) expect(seen.has(id)).toBe(true);
    } finally {
      await client.dispose();
    }
  });

  it("loses and repeats no completion when the listening connection is killed mid-run", async () => {
    const site = await startFixtureSite({ latencyMs: 2 });
    try {
      const [a, b] = await startInstances(2, { CRAWLQ_PER_HOST_CONCURRENCY: "64" });
      const COUNT = 2000;
      const urls = Array.from({ length: COUNT }, (_, i) => site.url(`/page/${i + 1}`));
      const { submitCrawl } = await gqlData(b!.url, SUBMIT, { urls });
      const client = wsClient(a!.url);
      try {
        const stream = subscribeWs(client, TaskDone, "taskDone", { submissionId: submitCrawl.id });
        await stream.waitFor(200);
        // A's LISTEN connection: the bus names it after its process.
        const { rows } = await sql.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
          [`crawlq-events-${a!.process.pid}`],
        );
        expect(rows).toHaveLength(1);
        await sql.query(`SELECT pg_terminate_backend($1)`, [rows[0]!.pid]);
        await stream.completed;
        expect(stream.errors).toEqual([]);
        expect(stream.items).toHaveLength(COUNT);
        expect(new Set(stream.items.map((t) => t.id)).size).toBe(COUNT);
        await a!.waitForOutput(/listening connection dropped/);
      } finally {
        await client.dispose();
      }
    } finally {
      await site.close();
    }
  }, 60_000);
});

describe("politeness holds for the cluster", () => {
  it("keeps per-host concurrency 4 across three instances", async () => {
    const site = await startFixtureSite({ latencyMs: 40 });
    try {
      const [a] = await startInstances(3);
      const urls = Array.from({ length: 120 }, (_, i) => site.url(`/page/${i + 1}`));
      const client = wsClient(a!.url);
      try {
        const { submitCrawl } = await gqlData(a!.url, SUBMIT, { urls });
        const stream = subscribeWs(client, TaskDone, "taskDone", { submissionId: submitCrawl.id });
        await stream.completed;
        expect(stream.items).toHaveLength(urls.length);
      } finally {
        await client.dispose();
      }
      // Page requests only: each instance also fetches robots.txt once (its own cache), outside the limit.
      const pages = site.requestLog.filter((r) => r.path.startsWith("/page/"));
      const edges = pages.flatMap((r) => [{ at: r.start, d: 1 }, { at: r.end ?? Infinity, d: -1 }]);
      edges.sort((x, y) => x.at - y.at || x.d - y.d);
      let open = 0;
      let most = 0;
      for (const e of edges) most = Math.max(most, (open += e.d));
      console.log(`per-host concurrency across 3 instances: at most ${most} page requests at once (limit 4)`);
      expect(pages).toHaveLength(urls.length);
      expect(most).toBe(4);
    } finally {
      await site.close();
    }
  }, 60_000);

  /** Crawls 8 pages of `site` through three instances; the gaps between the tasks' starts (claims). */
  async function startGapsAcrossThree(site: FixtureSite, options: Record<string, unknown>): Promise<number[]> {
    const [a] = await startInstances(3);
    const urls = Array.from({ length: 8 }, (_, i) => site.url(`/page/${i + 1}`));
    const client = wsClient(a!.url);
    try {
      const { submitCrawl } = await gqlData(a!.url, SUBMIT, { urls, options });
      const stream = subscribeWs(client, TaskDone, "taskDone", { submissionId: submitCrawl.id });
      await stream.completed;
    } finally {
      await client.dispose();
    }
    expect(site.requestCount("/page/")).toBe(8);
    // The cluster's guarantee is on starts (claims), read from the rows: the requests then reach the site
    // with each instance's own few milliseconds of dispatch, which a loaded machine stretches.
    const { rows } = await sql.query<{ startedAt: Date }>(`SELECT "startedAt" FROM "Task" ORDER BY "startedAt"`);
    const starts = rows.map((r) => r.startedAt.getTime());
    expect(starts).toHaveLength(8);
    return starts.slice(1).map((s, i) => s - starts[i]!);
  }

  it("keeps a host delay across instances", async () => {
    const site = await startFixtureSite();
    try {
      const gaps = await startGapsAcrossThree(site, { hostDelayMs: 150 });
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(150);
    } finally {
      await site.close();
    }
  }, 60_000);

  it("keeps a robots.txt Crawl-delay across instances, though each instance reads robots.txt itself", async () => {
    const site = await startFixtureSite({ robots: "User-agent: *\nCrawl-delay: 0.15\n" });
    try {
      const gaps = await startGapsAcrossThree(site, { respectRobots: true });
      expect(site.requestCount("/robots.txt")).toBeLessThanOrEqual(3);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(150);
    } finally {
      await site.close();
    }
  }, 60_000);
});

describe("SIGTERM on one of two instances", () => {
  it("requeues its claims at once, and the other instance finishes them", async () => {
    const gated = await startGatedSite();
    try {
      // A lease far longer than the test: only the release at shutdown can hand the claims over in time.
      const [a, b] = await startInstances(2, { CRAWLQ_LEASE_MS: "120000", CRAWLQ_SHUTDOWN_GRACE_MS: "200", CRAWLQ_PER_HOST_CONCURRENCY: "64" });
      const ids = { a: await instanceId(a!), b: await instanceId(b!) };
      const keys = Array.from({ length: 30 }, (_, i) => `term-${i}`);
      const { submitCrawl } = await gqlData(a!.url, SUBMIT, { urls: keys.map((k) => gated.url(k)) });
      await Promise.all(keys.map((k) => gated.arrived(k)));
      const heldByB = (await claimsByInstance()).get(ids.b) ?? [];
      expect(heldByB.length).toBeGreaterThan(0);

      const stoppedAt = Date.now();
      expect(await b!.stop()).toBe(0);
      // B's lease is gone with it, and none of its claims is left behind.
      const { rows } = await sql.query(`SELECT id FROM "Instance" WHERE id = $1`, [ids.b]);
      expect(rows).toHaveLength(0);
      expect((await claimsByInstance()).get(ids.b)).toBeUndefined();
      // A claims them again (new requests arrive for those gates) and finishes everything.
      for (const k of keys) gated.release(k);
      const { batch } = await gqlData(a!.url, Batch, { submissionId: submitCrawl.id, timeoutMs: 20_000 });
      expect(batch).toMatchObject({ complete: true, done: keys.length });
      expect(batch.tasks.every((t) => t.status === "SUCCEEDED")).toBe(true);
      expect(Date.now() - stoppedAt).toBeLessThan(20_000);
    } finally {
      await gated.close();
    }
  }, 60_000);
});

/**
 * million (issue 11, Must 3): a backlog of `--million-tasks` PENDING tasks (1,000,000) over
 * `--million-hosts` host names (10,000), on a service of its own, once per backend named by `--database`:
 *
 *   rate, small   completions/s over `--drain-seconds` while about `--million-small` (1,000) tasks are
 *                 pending: URLs submitted through GraphQL in mutations of half that, topped up whenever
 *                 fewer than that are outstanding (after `--warmup` pages, untimed, on the same hosts)
 *   fill          the service is stopped and the backlog is inserted straight into its database (one
 *                 INSERT … SELECT per 100,000 rows: a recursive CTE on SQLite, generate_series on
 *                 PostgreSQL) — through GraphQL, 1,000,000 URLs would take 100 mutations and most of the
 *                 run; on PostgreSQL the count triggers count these inserts like any other, on SQLite
 *                 the fill adds its count as the store does (see the migration 20261126191000_task_counts)
 *   restart       spawn → `listening on`, and spawn → first 200 from /readyz, with the backlog in place
 *   rate, million completions/s over `--drain-seconds` with the backlog pending, after `--warmup`
 *                 completions (untimed, as before the small rate: the restart left the JIT and the
 *                 connections cold)
 *   pool          `{ pool { … } }` answered while the backlog drains (sequential queries, 20 a second):
 *                 p50, p99, max; /metrics likewise (its task gauges read the same counts)
 *   RSS           the process's peak (VmHWM) over its start and the drain
 *   crash restart SIGKILL during the drain (its claims left RUNNING), then spawn → ready again: the
 *                 orphans are requeued at start
 *   counts        `pool`'s counts against a GROUP BY over the table, and how long that GROUP BY takes
 *
 * Hosts are `mK.crawlq.test`, all resolved to the fixture on 127.0.0.1 through CRAWLQ_RESOLVE in a `.env`
 * of the service's working directory (10,000 entries do not fit in one environment variable). Task i is
 * on host i mod hosts, so every window of the claim spans many hosts. The per-host limit is the service's
 * default (4); robots.txt is off (CRAWLQ_RESPECT_ROBOTS=0) so both rates crawl the same pages the same
 * way: a restart forgets the robots cache, which would charge 10,000 robots.txt fetches to the second rate.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { request } from "undici";
import { withPgClient } from "../../testkit/postgres.js";
import { gql } from "../../testkit/graphql-client.js";
import { CompletionWatcher, submit } from "../completions.js";
import type { Fixture } from "../fixture.js";
import { latencyStats, round, sleep } from "../measure.js";
import { createBenchDatabase } from "../postgres.js";
import { startBenchService, type BenchService } from "../service.js";

export interface MillionOptions {
  backend: "sqlite" | "postgres";
  tasks: number;
  hosts: number;
  /** Pending tasks kept during the small-backlog rate. */
  small: number;
  warmup: number;
  drainSeconds: number;
  fixture: Fixture;
  /** The 0 ms fixture site, e.g. http://127.0.0.1:PORT. */
  origin: string;
  /** The main run's service environment; the database, the per-host limit and robots are replaced. */
  baseEnv: Record<string, string>;
  adminUrl: string;
  nodeArgs: string[];
  logFile: string | null;
  log: (line: string) => void;
}

const POOL_QUERY = `{ pool { threads inFlight running pending succeeded failed cancelled } }`;
const FILL_CHUNK = 100_000;
/** First /bench page number of the filled backlog, clear of the pages the small phase submits. */
const FILL_FIRST_PAGE = 10_000_000;

const hostName = (k: number) => `m${k}.crawlq.test`;

/** A promise and its resolve (Promise.withResolvers is Node 22+). */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Where the backlog lives: filled straight, and counted straight (the GROUP BY `pool` no longer runs). */
interface BacklogDatabase {
  url: string;
  fill(tasks: number, hosts: number, port: string, log: (line: string) => void): Promise<{ submissionId: number }>;
  groupBy(): Promise<Record<string, number>>;
  /** What the TaskCount rows say, by status, every owner. */
  counts(): Promise<Record<string, number>>;
  drop(): Promise<void>;
}

function sqliteDatabase(): BacklogDatabase {
  const dir = mkdtempSync(path.join(os.tmpdir(), "crawlq-million-"));
  const file = path.join(dir, "crawlq.db");
  return {
    url: `file:${file}`,
    async fill(tasks, hosts, port, log) {
      const db = new Database(file);
      try {
        db.pragma("journal_mode = WAL");
        const now = Date.now();
        const submissionId = Number(
          db.prepare(`INSERT INTO Submission (createdAt, maxRetries, perHostConcurrency, hostDelayMs, respectRobots, ownerKeyId)
                      VALUES (?, 2, 4, 0, 0, NULL)`).run(now).lastInsertRowid,
        );
        const insert = db.prepare(
          `WITH RECURSIVE seq(i) AS (SELECT @from UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < @to)
           INSERT INTO Task (submissionId, url, host, status, attempts, runAt, createdAt, ownerKeyId)
           SELECT @submissionId, 'http://m' || (i % @hosts) || '.crawlq.test:' || @port || '/bench/' || (@first + i),
                  'm' || (i % @hosts) || '.crawlq.test', 'PENDING', 0, @now, @now, NULL
             FROM seq`,
        );
        const countInserted = db.prepare(
          `INSERT INTO TaskCount (ownerKey, status, n) VALUES (0, 'PENDING', ?) ON CONFLICT (ownerKey, status) DO UPDATE SET n = n + excluded.n`,
        );
        for (let from = 0; from < tasks; from += FILL_CHUNK) {
          const to = Math.min(tasks, from + FILL_CHUNK);
          // BigInt: better-sqlite3 binds other numbers as REAL, and 7 would print as "7.0" in a URL.
          const int = BigInt;
          // Inserts are counted by whoever inserts on SQLite (see the migration 20261126191000_task_counts).
          db.transaction(() => {
            insert.run({ from: int(from), to: int(to), submissionId, hosts: int(hosts), port, first: int(FILL_FIRST_PAGE), now });
            countInserted.run(int(to - from));
          })();
          if ((to / FILL_CHUNK) % 2 === 0 || to === tasks) log(`  filled ${to} tasks`);
        }
        db.pragma("wal_checkpoint(TRUNCATE)");
        return { submissionId };
      } finally {
        db.close();
      }
    },
    async groupBy() {
      const db = new Database(file, { readonly: true });
      try {
        const rows = db.prepare<[], { status: string; n: number }>(`SELECT status, COUNT(*) AS n FROM Task GROUP BY status`).all();
        return Object.fromEntries(rows.map((r) => [r.status, r.n]));
      } finally {
        db.close();
      }
    },
    async counts() {
      const db = new Database(file, { readonly: true });
      try {
        const rows = db.prepare<[], { status: string; n: number }>(`SELECT status, SUM(n) AS n FROM TaskCount GROUP BY status`).all();
        return Object.fromEntries(rows.filter((r) => r.n !== 0).map((r) => [r.status, r.n]));
      } finally {
        db.close();
      }
    },
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresDatabase(adminUrl: string): Promise<BacklogDatabase> {
  const database = await createBenchDatabase(adminUrl, "million");
  return {
    url: database.url,
    async fill(tasks, hosts, port, log) {
      return withPgClient(database.url, async (c) => {
        const { rows } = await c.query<{ id: number }>(
          `INSERT INTO "Submission" ("createdAt", "maxRetries", "perHostConcurrency", "hostDelayMs", "respectRobots", "ownerKeyId")
           VALUES (now(), 2, 4, 0, false, NULL) RETURNING id`,
        );
        const submissionId = rows[0]!.id;
        for (let from = 0; from < tasks; from += FILL_CHUNK) {
          const to = Math.min(tasks, from + FILL_CHUNK);
          await c.query(
            `INSERT INTO "Task" ("submissionId", url, host, status, attempts, "runAt", "createdAt", "ownerKeyId")
             SELECT $1, 'http://m' || (i % $2) || '.crawlq.test:' || $3 || '/bench/' || ($4 + i),
                    'm' || (i % $2) || '.crawlq.test', 'PENDING', 0, now(), now(), NULL
               FROM generate_series($5::int, $6::int - 1) AS i ORDER BY i`,
            [submissionId, hosts, port, FILL_FIRST_PAGE, from, to],
          );
          if ((to / FILL_CHUNK) % 2 === 0 || to === tasks) log(`  filled ${to} tasks`);
        }
        await c.query(`VACUUM ANALYZE "Task"`);
        return { submissionId };
      });
    },
    async groupBy() {
      const { rows } = await withPgClient(database.url, (c) =>
        c.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM "Task" GROUP BY status`),
      );
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    },
    async counts() {
      const { rows } = await withPgClient(database.url, (c) =>
        c.query<{ status: string; n: number }>(`SELECT status, sum(n)::int AS n FROM "TaskCount" GROUP BY status HAVING sum(n) <> 0`),
      );
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    },
    drop: () => database.drop(),
  };
}

/** Spawn → `listening on` and spawn → first 200 from /readyz. */
async function timedStart(start: () => Promise<BenchService>): Promise<{ service: BenchService; listeningMs: number; readyMs: number }> {
  const t0 = performance.now();
  const service = await start();
  const listeningMs = performance.now() - t0;
  const readyz = service.url.replace(/\/graphql$/, "/readyz");
  for (;;) {
    const response = await request(readyz).catch(() => null);
    await response?.body.dump();
    if (response?.statusCode === 200) break;
    if (performance.now() - t0 > 120_000) throw new Error("the service was not ready within 120 s");
    await sleep(10);
  }
  return { service, listeningMs, readyMs: performance.now() - t0 };
}

/** Sequential `pool` queries and /metrics scrapes every 50 ms until `stop` resolves: their latencies. */
async function probe(service: BenchService, stop: Promise<void>) {
  const pool: number[] = [];
  const metrics: number[] = [];
  let last: Record<string, number> | null = null;
  let done = false;
  void stop.then(() => (done = true));
  const metricsUrl = service.url.replace(/\/graphql$/, "/metrics");
  for (let i = 0; !done; i++) {
    const t0 = performance.now();
    if (i % 4 === 3) {
      const response = await request(metricsUrl);
      await response.body.text();
      metrics.push(round(performance.now() - t0));
    } else {
      const result = await gql<{ pool: Record<string, number> }>(service.url, POOL_QUERY);
      pool.push(round(performance.now() - t0));
      if (result.errors?.length) throw new Error(`pool: ${JSON.stringify(result.errors)}`);
      last = result.data!.pool;
    }
    await sleep(50);
  }
  return { pool: latencyStats(pool), metrics: latencyStats(metrics), lastPool: last };
}

/** The main thread's process.memoryUsage() in MB. */
function memoryMb(memory: NodeJS.MemoryUsage | null): Record<string, number> | null {
  return memory && Object.fromEntries(Object.entries(memory).map(([k, v]) => [k, round(v / 2 ** 20)]));
}

/** Completions of the watcher's submissions received in [from, to) (performance.now()). */
function completedBetween(watcher: CompletionWatcher, ids: readonly string[], from: number, to: number) {
  let n = 0;
  let wrong = 0;
  for (const id of ids) {
    for (const r of watcher.received(id)) {
      if (r.perf < from || r.perf >= to) continue;
      n++;
      if (r.event.status !== "SUCCEEDED") wrong++;
    }
  }
  return { n, wrong };
}

/**
 * The small-backlog rate: about `small` tasks pending, topped up through GraphQL in mutations of small/2;
 * `warmup` completions untimed first, then completions/s over `seconds`.
 */
async function smallBacklogRate(service: BenchService, watcher: CompletionWatcher, o: MillionOptions, port: string) {
  const half = Math.max(1, Math.floor(o.small / 2));
  const ids: string[] = [];
  let submitted = 0;
  let page = 0;
  const completed = () => ids.reduce((sum, id) => sum + watcher.received(id).length, 0);
  const topUp = async () => {
    while (submitted - completed() < o.small) {
      const urls = Array.from({ length: half }, () => {
        const n = page++;
        return `http://${hostName(n % o.hosts)}:${port}/bench/${n}`;
      });
      ids.push((await submit(service.url, urls)).id);
      submitted += urls.length;
    }
  };
  const warmUntil = o.warmup;
  while (completed() < warmUntil) {
    await topUp();
    await sleep(5);
  }
  const t0 = performance.now();
  const cpu0 = service.cpuMs();
  const main0 = service.mainThreadCpuMs();
  const end = t0 + o.drainSeconds * 1000;
  let pendingSum = 0;
  let samples = 0;
  while (performance.now() < end) {
    await topUp();
    pendingSum += submitted - completed();
    samples++;
    await sleep(5);
  }
  const { n, wrong } = completedBetween(watcher, ids, t0, end);
  const cpuMs = service.cpuMs() - cpu0;
  const mainMs = service.mainThreadCpuMs() - main0;
  // Let the rest finish, so the backlog starts from a quiet database.
  await watcher.waitFor(ids, submitted, 120_000);
  for (const id of ids) watcher.forget(id);
  return {
    pagesPerSecond: n / o.drainSeconds,
    completed: n,
    wrong,
    meanOutstanding: Math.round(pendingSum / Math.max(1, samples)),
    cpuMsPerPage: { service: round(cpuMs / n, 3), main: round(mainMs / n, 3) },
  };
}

export async function millionRun(o: MillionOptions) {
  const { log } = o;
  const port = new URL(o.origin).port;
  const database = o.backend === "sqlite" ? sqliteDatabase() : await postgresDatabase(o.adminUrl);
  const cwd = mkdtempSync(path.join(os.tmpdir(), "crawlq-million-cwd-"));
  // 10,000 names are ~280 KB: over Linux's 128 KB limit for one environment string, fine in a .env file.
  writeFileSync(
    path.join(cwd, ".env"),
    `CRAWLQ_RESOLVE=${Array.from({ length: o.hosts }, (_, k) => `${hostName(k)}=127.0.0.1`).join(",")}\n`,
  );
  const { CRAWLQ_PER_HOST_CONCURRENCY: _perHost, ...base } = o.baseEnv;
  const env = { ...base, DATABASE_URL: database.url, CRAWLQ_RESPECT_ROBOTS: "0" };
  const start = () => startBenchService(env, o.nodeArgs, o.logFile, cwd);
  const result: Record<string, any> = { backend: o.backend, tasks: o.tasks, hosts: o.hosts };
  let service: BenchService | null = null;
  let watcher: CompletionWatcher | null = null;
  try {
    // 1. About `small` pending.
    log(`million (${o.backend}): ${o.small} pending, ${o.warmup} pages warm-up, then ${o.drainSeconds} s`);
    service = await start();
    watcher = new CompletionWatcher(service.url);
    await watcher.open();
    const smallProbeStop = deferred();
    const smallProbe = probe(service, smallProbeStop.promise);
    result.small = await smallBacklogRate(service, watcher, o, port);
    smallProbeStop.resolve();
    result.small.probe = await smallProbe;
    result.small.rssMb = round(service.memory().peakMb);
    await service.counters();
    result.small.mainMemoryMb = memoryMb(service.mainMemory());
    log(`  ${round(result.small.pagesPerSecond)} pages/s (${result.small.meanOutstanding} outstanding on average), pool p99 ${result.small.probe.pool.p99} ms, peak RSS ${result.small.rssMb} MB`);
    await watcher.close();
    watcher = null;
    await service.stop(60_000);
    service = null;
    await o.fixture.resetStats();

    // 2. The backlog, straight into the database.
    log(`million (${o.backend}): filling ${o.tasks} tasks over ${o.hosts} hosts`);
    const fillStart = performance.now();
    const { submissionId } = await database.fill(o.tasks, o.hosts, port, log);
    result.fill = { seconds: round((performance.now() - fillStart) / 1000), submissionId };
    log(`  ${result.fill.seconds} s`);

    // 3. Restart with the backlog; the drain rate, pool and /metrics while it drains.
    const restart = await timedStart(start);
    service = restart.service;
    result.restart = { listeningMs: round(restart.listeningMs), readyMs: round(restart.readyMs) };
    log(`  restart: listening after ${result.restart.listeningMs} ms, ready after ${result.restart.readyMs} ms`);
    watcher = new CompletionWatcher(service.url);
    await watcher.open();
    const ids = [String(submissionId)];
    // Warm as the small rate was (JIT, connections to the hosts): `warmup` completions first, untimed.
    await watcher.waitFor(ids, o.warmup, 300_000);
    const probeStop = deferred();
    const drainProbe = probe(service, probeStop.promise);
    const t0 = performance.now();
    const cpu0 = service.cpuMs();
    const main0 = service.mainThreadCpuMs();
    await sleep(o.drainSeconds * 1000);
    const end = performance.now();
    const cpuMs = service.cpuMs() - cpu0;
    const mainMs = service.mainThreadCpuMs() - main0;
    probeStop.resolve();
    const probed = await drainProbe;
    const { n, wrong } = completedBetween(watcher, ids, t0, end);
    result.million = {
      pagesPerSecond: n / ((end - t0) / 1000),
      completed: n,
      wrong,
      cpuMsPerPage: { service: round(cpuMs / n, 3), main: round(mainMs / n, 3) },
      probe: probed,
      rssMb: { now: round(service.memory().rssMb), peak: round(service.memory().peakMb) },
      statements: await service.counters(),
      mainMemoryMb: memoryMb(service.mainMemory()),
    };
    log(
      `  ${round(result.million.pagesPerSecond)} pages/s with the backlog, pool p50 ${probed.pool.p50} ms p99 ${probed.pool.p99} ms, ` +
        `/metrics p99 ${probed.metrics.p99} ms, peak RSS ${result.million.rssMb.peak} MB, pending ${probed.lastPool?.pending}`,
    );

    // 4. A crash with claims in flight, and a restart that requeues them.
    const running = probed.lastPool?.running ?? null;
    process.kill(service.pid, "SIGKILL");
    await service.stop(10_000);
    service = null;
    await watcher.close().catch(() => {});
    watcher = null;
    const crash = await timedStart(start);
    service = crash.service;
    const afterCrash = await gql<{ pool: Record<string, number> }>(service.url, POOL_QUERY);
    result.crashRestart = {
      listeningMs: round(crash.listeningMs),
      readyMs: round(crash.readyMs),
      runningBeforeKill: running,
      pool: afterCrash.data?.pool,
      peakRssMb: round(service.memory().peakMb),
    };
    log(`  restart after SIGKILL: listening after ${result.crashRestart.listeningMs} ms, ready after ${result.crashRestart.readyMs} ms`);

    // 5. The counts against the table once the service is stopped (its last claims requeued), and what a
    // GROUP BY costs at this size.
    const pool = (await gql<{ pool: Record<string, number> }>(service.url, POOL_QUERY)).data!.pool;
    await service.stop(60_000);
    service = null;
    const c0 = performance.now();
    const counted = await database.counts();
    const countsMs = performance.now() - c0;
    const g0 = performance.now();
    const grouped = await database.groupBy();
    const groupByMs = performance.now() - g0;
    const exact = JSON.stringify(Object.entries(counted).sort()) === JSON.stringify(Object.entries(grouped).sort());
    result.counts = { poolBeforeStop: pool, taskCount: counted, groupBy: grouped, exact, taskCountMs: round(countsMs, 2), groupByMs: round(groupByMs) };
    log(`  counts exact: ${exact} ${JSON.stringify(counted)} (a GROUP BY over the table takes ${result.counts.groupByMs} ms)`);
  } finally {
    await watcher?.close().catch(() => {});
    if (service) result.serviceExit = await service.stop(60_000);
    await database.drop();
    rmSync(cwd, { recursive: true, force: true });
  }
  return result;
}

/** The report's rows for one backend's run: [figure, measured, target, status]. */
export function millionRows(r: Record<string, any>): Array<[string, string, string, string]> {
  const status = (ok: boolean) => (ok ? "met" : "MISSED");
  const db = r.backend === "postgres" ? "pg " : "";
  const rows: Array<[string, string, string, string]> = [];
  const ratio = r.million && r.small ? r.million.pagesPerSecond / r.small.pagesPerSecond : NaN;
  if (r.small) {
    rows.push([
      `${db}million: small`,
      `${round(r.small.pagesPerSecond)} pages/s with ~${r.small.meanOutstanding} outstanding (${r.small.wrong} wrong); cpu ${r.small.cpuMsPerPage.service} ms/page (main ${r.small.cpuMsPerPage.main}); pool p99 ${r.small.probe.pool.p99} ms`,
      "reference",
      "",
    ]);
  }
  if (r.million) {
    const m = r.million;
    rows.push([
      `${db}million: rate`,
      `${round(m.pagesPerSecond)} pages/s with ${r.tasks} pending over ${r.hosts} hosts = ${round(ratio, 2)}× small (${m.wrong} wrong); cpu ${m.cpuMsPerPage.service} ms/page (main ${m.cpuMsPerPage.main})`,
      "≥ 0.9× small",
      status(ratio >= 0.9),
    ]);
    rows.push([
      `${db}million: pool`,
      `p50 ${m.probe.pool.p50} ms, p99 ${m.probe.pool.p99} ms, max ${m.probe.pool.max} ms (${m.probe.pool.n} queries); /metrics p50 ${m.probe.metrics.p50} ms, p99 ${m.probe.metrics.p99} ms`,
      "< 50 ms",
      status(m.probe.pool.p99 < 50),
    ]);
    const heap = m.mainMemoryMb ? `; main thread heap ${m.mainMemoryMb.heapUsed}/${m.mainMemoryMb.heapTotal} MB` : "";
    rows.push([
      `${db}million: RSS`,
      `peak ${m.rssMb.peak} MB (now ${m.rssMb.now} MB${heap}); with ~${r.small?.meanOutstanding} outstanding: peak ${r.small?.rssMb} MB`,
      "≤ 300 MB",
      status(m.rssMb.peak <= 300),
    ]);
  }
  if (r.restart) {
    rows.push([
      `${db}million: restart`,
      `listening after ${r.restart.listeningMs} ms, ready after ${r.restart.readyMs} ms (backlog filled in ${r.fill.seconds} s)`,
      "ready < 5 s",
      status(r.restart.readyMs < 5000),
    ]);
  }
  if (r.crashRestart) {
    const c = r.crashRestart;
    rows.push([
      `${db}million: crash restart`,
      `after SIGKILL with ${c.runningBeforeKill} running: listening after ${c.listeningMs} ms, ready after ${c.readyMs} ms; peak RSS ${c.peakRssMb} MB`,
      "ready < 5 s",
      status(c.readyMs < 5000),
    ]);
  }
  if (r.counts) {
    rows.push([
      `${db}million: counts`,
      `TaskCount ${r.counts.exact ? "equal to" : "DIFFERS from"} a GROUP BY over the table after the run (${JSON.stringify(r.counts.taskCount)}; reading TaskCount takes ${r.counts.taskCountMs} ms, the GROUP BY ${r.counts.groupByMs} ms, each on a connection of its own)`,
      "exact",
      status(r.counts.exact),
    ]);
  }
  return rows;
}

/**
 * `npm run bench`: crawlq end to end against a bare fetch loop, on this machine, in one run (issue 4).
 *
 *   baseline-0ms / baseline-50ms  a bare fetch loop (Node's fetch, reading each ~30 KB body, counting `<a`)
 *                                 with the service's total in-flight limit as its concurrency: the ceiling
 *   e2e-0ms / e2e-50ms            N pages through the real service: first submitCrawl → last taskDone
 *                                 received by a graphql-ws subscriber that subscribed before submitting
 *   notify                        subscriber receipt − task finishedAt, during e2e-0ms
 *   submit                        10,000 URLs in one mutation, until acknowledged (rows committed)
 *   waiters                       1 and 1,000 concurrent result(id) calls on PENDING tasks: all correct,
 *                                 wake-up latency (response receipt − finishedAt), statements issued
 *   backlog                       100,000 PENDING tasks (10 mutations of 10,000): peak RSS of the
 *                                 service, throughput while it drains vs e2e-0ms
 *   hosts                         1 host × 20,000 pages, then 500 hosts × 20, at --latency, default
 *                                 politeness and in flight, a service of its own: the small hosts' and the
 *                                 big host's pages/s while the big one's backlog is pending (scenarios/hosts.ts);
 *                                 also on PostgreSQL with `--database postgres`
 *   million                       1,000,000 PENDING tasks over 10,000 hosts, on each --database
 *                                 (scenarios/million.ts): rate vs 1,000 pending, pool latency, RSS, restart
 *
 * With `--database postgres` (issue 10), after all of the above on SQLite (the reference, same run): for
 * each `--instances` count, a fresh PostgreSQL database and that many services on it, measuring e2e-0ms,
 * notify split by the instance that ran each task, and submit (scenarios/cluster.ts).
 *
 * Everything runs on loopback; every wait has a deadline; the run stops by itself.
 * Flags: see `--help`.
 *
 * This file is the runner: flags, the run's order, the table and the JSON line. Each measurement is a
 * module of scenarios/ (submit is the backlog's first mutation); completions.ts submits pages and
 * receives their taskDone events; measure.ts holds percentiles, medians and CPU sampling; fixture.ts
 * and service.ts start the processes under test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { nonNegativeInt } from "./cli.js";
import { CompletionWatcher } from "./completions.js";
import { startFixture } from "./fixture.js";
import { cpuMeter, medianOf, round } from "./measure.js";
import { formatTable } from "./report.js";
import type { Run, Settings } from "./run.js";
import { backlog } from "./scenarios/backlog.js";
import { baseline, warmBaseline } from "./scenarios/baseline.js";
import { e2e, warmService } from "./scenarios/e2e.js";
import { waiters } from "./scenarios/waiters.js";
import { startBenchService, startCommand } from "./service.js";
import { clusterRun } from "./scenarios/cluster.js";
import { adaptiveRows, adaptiveRun, type AdaptiveOptions } from "./scenarios/adaptive.js";
import { millionRows, millionRun } from "./scenarios/million.js";
import { DEFAULT_POSTGRES_URL, describeServer } from "./postgres.js";
import { hosts } from "./scenarios/hosts.js";

const HELP = `npm run bench -- [flags]
  --pages N                  pages per e2e run (5000)
  --warmup N                 pages (0 ms site) crawled, untimed, by the baseline loop and by the service before their
                             timed runs, so both are measured JIT-warm, as a long-running process is (10000)
  --latency MS               added latency of the second pair of runs (50)
  --repeat N                 timed runs of each baseline and e2e measurement; the median is reported, with all runs (3)
  --threads N                CRAWLQ_THREADS (machine's cores)
  --concurrency-per-thread N CRAWLQ_CONCURRENCY_PER_THREAD (32)
  --in-flight N              CRAWLQ_MAX_IN_FLIGHT, the baseline's concurrency and the per-host limit (threads × per-thread)
  --submit N                 URLs in the submit mutation, also the backlog's mutation size (10000)
  --waiters N                concurrent result(id) calls (1000)
  --backlog N                PENDING tasks for the backlog run (100000)
  --drain-seconds S          how long the backlog's drain rate is measured (12)
  --waiters-site MS          which fixture site (added latency) the waiters' tasks fetch: 0 or --latency (0)
  --fixture child|inproc     fixture site in a child process (default) or in this process
  --synchronous FULL|NORMAL  CRAWLQ_SQLITE_SYNCHRONOUS for the service (service default)
  --cpu-prof DIR             run the service with --cpu-prof, profiles written to DIR at exit
  --only LIST                comma-separated subset of: baseline,e2e,waiters,backlog,hosts,adaptive,million (on
                             PostgreSQL: e2e gives e2e-0ms and notify; backlog, or submit, gives submit; hosts,
                             adaptive and million run on each --database); all of them by default
  --million-tasks N          PENDING tasks of the million run's backlog (1000000)
  --million-hosts N          host names they are spread over (10000)
  --million-small N          tasks kept pending for the million run's reference rate (1000)
  --env K=V                  extra service environment (repeatable)
  --node-arg ARG             extra node option for the service process, e.g. --node-arg=--max-semi-space-size=8 (repeatable)
  --service-log FILE          append the service's stdout to FILE
  --database LIST            sqlite, postgres or sqlite,postgres (sqlite). Naming postgres adds, after the SQLite
                             figures (always measured: the reference), e2e-0ms, notify and submit on PostgreSQL
  --instances LIST           instance counts on PostgreSQL, e.g. 1,2 (1); with N instances each runs threads/N
                             threads and in-flight/N slots, so the cluster has as many as the one-instance run
  --postgres-url URL         server (and an existing database to connect to) where each PostgreSQL configuration
                             creates, then drops, a database of its own (CRAWLQ_TEST_POSTGRES_URL or
                             postgresql://postgres@127.0.0.1:5432/test)
  --help`;

const { values: flags } = parseArgs({
  options: {
    pages: { type: "string", default: "5000" },
    warmup: { type: "string", default: "10000" },
    latency: { type: "string", default: "50" },
    repeat: { type: "string", default: "3" },
    threads: { type: "string", default: String(os.availableParallelism()) },
    "concurrency-per-thread": { type: "string", default: "32" },
    "in-flight": { type: "string" },
    submit: { type: "string", default: "10000" },
    waiters: { type: "string", default: "1000" },
    backlog: { type: "string", default: "100000" },
    "million-tasks": { type: "string", default: "1000000" },
    "million-hosts": { type: "string", default: "10000" },
    "million-small": { type: "string", default: "1000" },
    "drain-seconds": { type: "string", default: "12" },
    fixture: { type: "string", default: "child" },
    "waiters-site": { type: "string", default: "0" },
    synchronous: { type: "string" },
    "cpu-prof": { type: "string" },
    only: { type: "string", default: "baseline,e2e,waiters,backlog,hosts,adaptive,million" },
    env: { type: "string", multiple: true, default: [] },
    "node-arg": { type: "string", multiple: true, default: [] },
    "service-log": { type: "string" },
    database: { type: "string", default: "sqlite" },
    instances: { type: "string", default: "1" },
    "postgres-url": { type: "string", default: DEFAULT_POSTGRES_URL },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(HELP);
  process.exit(0);
}

const positive = nonNegativeInt;
const threads = positive("threads", flags.threads);
const perThread = positive("concurrency-per-thread", flags["concurrency-per-thread"]);
const settings: Settings = {
  pages: positive("pages", flags.pages),
  warmup: positive("warmup", flags.warmup),
  latencyMs: positive("latency", flags.latency),
  repeat: Math.max(1, positive("repeat", flags.repeat)),
  threads,
  concurrencyPerThread: perThread,
  inFlight: flags["in-flight"] === undefined ? threads * perThread : positive("in-flight", flags["in-flight"]),
  submitUrls: positive("submit", flags.submit),
  waiters: positive("waiters", flags.waiters),
  backlog: positive("backlog", flags.backlog),
  drainSeconds: positive("drain-seconds", flags["drain-seconds"]),
  fixture: flags.fixture === "inproc" ? ("inproc" as const) : ("child" as const),
  synchronous: flags.synchronous ?? "(service default)",
  cpuProf: flags["cpu-prof"] ?? null,
  nodeArgs: flags["node-arg"],
  only: new Set(flags.only.split(",").map((s) => s.trim())),
};

const databases = new Set(flags.database.split(",").map((s) => s.trim()));
for (const d of databases) if (d !== "sqlite" && d !== "postgres") throw new Error(`--database: sqlite or postgres, got ${d}`);
const postgres = databases.has("postgres");
const instanceCounts = flags.instances.split(",").map((s) => positive("instances", s.trim())).filter((n) => n > 0);
const postgresUrl = flags["postgres-url"];

const dbDir = mkdtempSync(path.join(os.tmpdir(), "crawlq-bench-"));
const serviceEnv: Record<string, string> = {
  PORT: "0",
  HOST: "127.0.0.1",
  DATABASE_URL: `file:${path.join(dbDir, "crawlq.db")}`,
  CRAWLQ_THREADS: String(settings.threads),
  CRAWLQ_CONCURRENCY_PER_THREAD: String(settings.concurrencyPerThread),
  CRAWLQ_MAX_IN_FLIGHT: String(settings.inFlight),
  // The fixture is one host on loopback: the operator raises the politeness limit to the pool's size.
  CRAWLQ_PER_HOST_CONCURRENCY: String(settings.inFlight),
  CRAWLQ_ALLOW_PRIVATE: "1",
  // robots.txt stays on: the fixture answers 404 (allow all), fetched once per origin.
  CRAWLQ_DEBUG_COUNTERS: "1",
  LOG_LEVEL: "warn",
  ...(flags.synchronous ? { CRAWLQ_SQLITE_SYNCHRONOUS: flags.synchronous } : {}),
  ...Object.fromEntries(flags.env.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])),
};

// ---------------------------------------------------------------------------------------------- main

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function main() {
  const runStarted = performance.now();
  console.log("crawlq benchmark — settings");
  console.log(
    JSON.stringify(
      {
        machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGb: round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
        ...settings,
        only: [...settings.only],
        serviceCommand: ["node", ...flags["node-arg"], ...startCommand()].join(" "),
        serviceEnv: Object.fromEntries(Object.entries(serviceEnv).filter(([k]) => k !== "DATABASE_URL")),
        ...(postgres
          ? {
              postgres: {
                instances: instanceCounts,
                server: await describeServer(postgresUrl),
                perInstance: Object.fromEntries(
                  instanceCounts.map((n) => [n, { CRAWLQ_THREADS: Math.max(1, Math.floor(settings.threads / n)), CRAWLQ_MAX_IN_FLIGHT: Math.max(1, Math.floor(settings.inFlight / n)) }]),
                ),
              },
            }
          : {}),
      },
      null,
      2,
    ),
  );

  const adaptiveOptions = (run: Run, database: AdaptiveOptions["database"]): AdaptiveOptions => ({
    settings,
    fixture: run.fixture,
    origin0: run.fixture.origins.sites[0]!,
    originL: run.fixture.origins.sites[settings.latencyMs]!,
    baseEnv: serviceEnv,
    database,
    adminUrl: postgresUrl,
    nodeArgs: [...flags["node-arg"], ...(settings.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${settings.cpuProf}`] : [])],
    logFile: flags["service-log"] ?? null,
    log,
  });
  // The machine's 1-minute load average, sampled through the run (other sessions share the machine).
  const loadSamples: number[] = [os.loadavg()[0]!];
  const loadSampler = setInterval(() => loadSamples.push(os.loadavg()[0]!), 5_000);
  const fixture = await startFixture(settings.fixture, [0, settings.latencyMs]);
  const origin0 = fixture.origins.sites[0]!;
  const originL = fixture.origins.sites[settings.latencyMs]!;
  const nodeArgs = [...flags["node-arg"], ...(settings.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${settings.cpuProf}`] : [])];
  const service = await startBenchService(serviceEnv, nodeArgs, flags["service-log"] ?? null);
  const watcher = new CompletionWatcher(service.url);
  const run: Run = { settings, service, fixture, watcher, cpu: cpuMeter(service, fixture, settings.fixture === "child") };
  const results: Record<string, any> = {};
  /**
   * Warms up, then takes the median of `--repeat` timed runs on the 0 ms site and on the `--latency` site;
   * `describe` gives the log lines of each (0: the 0 ms run, 1: the other).
   */
  const warmThenBothSites = async <T extends { pagesPerSecond: number }>(
    name: string,
    warm: () => Promise<void>,
    measure: (origin: string) => Promise<T>,
    describe: (result: T & { runs: number[] }, which: 0 | 1) => string[],
  ) => {
    log(`${name} warm-up: ${settings.warmup} pages`);
    await warm();
    const both: Array<T & { runs: number[] }> = [];
    for (const which of [0, 1] as const) {
      log(`${name} ${which === 0 ? 0 : settings.latencyMs} ms`);
      const result = await medianOf(settings.repeat, () => measure(which === 0 ? origin0 : originL));
      for (const line of describe(result, which)) log(line);
      both.push(result);
    }
    await fixture.resetStats();
    return both;
  };
  try {
    await watcher.open();
    if (settings.only.has("baseline")) {
      [results.baseline0, results.baselineL] = await warmThenBothSites(
        "baseline",
        () => warmBaseline(run, origin0),
        (origin) => baseline(run, origin),
        (r) => [`  ${round(r.pagesPerSecond)} pages/s, cpu ${JSON.stringify(r.cpu)}`],
      );
    }
    if (settings.only.has("e2e")) {
      [results.e2e0, results.e2eL] = await warmThenBothSites(
        "e2e",
        () => warmService(run, origin0),
        (origin) => e2e(run, origin),
        (r, which) =>
          which === 0
            ? [
                `  ${round(r.pagesPerSecond)} pages/s, notify p99 ${r.notify.p99} ms, slots ${JSON.stringify(r.slots)}, statements ${JSON.stringify(r.statements)}, cpu ${JSON.stringify(r.cpu)}, threads ${JSON.stringify(r.threads)}`,
                `  main thread's memory after e2e-0ms (MB): ${JSON.stringify(r.memory)}`,
              ]
            : [`  ${round(r.pagesPerSecond)} pages/s, slots ${JSON.stringify(r.slots)}, statements ${JSON.stringify(r.statements)}, cpu ${JSON.stringify(r.cpu)}`],
      );
    }
    if (settings.only.has("waiters")) {
      log("waiters: 1");
      const waitersOrigin = flags["waiters-site"] === "0" ? origin0 : originL;
      results.waiters1 = await waiters(run, waitersOrigin, 1);
      log(`waiters: ${settings.waiters}`);
      results.waitersN = await waiters(run, waitersOrigin, settings.waiters);
      log(`  p99 ${results.waitersN.wake.p99} ms, ${round(results.waitersN.secondsAfterRelease, 2)} s after release, cpu ${JSON.stringify(results.waitersN.cpu)}`);
      await fixture.resetStats();
    }
    if (settings.only.has("backlog")) {
      log(`backlog: ${settings.backlog} tasks`);
      results.backlog = await backlog(run, origin0);
      log(`  peak RSS ${round(results.backlog.rssMb.processPeak)} MB, drain ${round(results.backlog.drain.pagesPerSecond)} pages/s, cpu ${JSON.stringify(results.backlog.drain.cpu)}`);
    }
    if (settings.only.has("adaptive")) {
      // Services of its own (default in-flight settings, and the fixed limit of before); the main one idles.
      results.adaptive = [await adaptiveRun(adaptiveOptions(run, "sqlite"))];
    }
  } finally {
    const beforeStop = service.memory();
    results.serviceRssAtEndMb = beforeStop;
    await watcher.close().catch(() => {});
    results.serviceExit = await service.stop(60_000);
    rmSync(dbDir, { recursive: true, force: true });
  }
  // The fixture serves the million and PostgreSQL runs too (the hosts run starts its own).
  try {
    if (settings.only.has("million")) {
      results.million = [];
      for (const backend of ["sqlite", "postgres"] as const) {
        if (!databases.has(backend)) continue;
        results.million.push(
          await millionRun({
            backend,
            tasks: positive("million-tasks", flags["million-tasks"]),
            hosts: Math.max(1, positive("million-hosts", flags["million-hosts"])),
            small: Math.max(2, positive("million-small", flags["million-small"])),
            warmup: settings.warmup,
            drainSeconds: settings.drainSeconds,
            fixture,
            origin: origin0,
            baseEnv: serviceEnv,
            adminUrl: postgresUrl,
            nodeArgs,
            logFile: flags["service-log"] ?? null,
            log,
          }),
        );
      }
    }
    if (postgres) {
      results.postgres = [];
      if (settings.only.has("adaptive")) results.adaptive.push(await adaptiveRun({ ...adaptiveOptions(run, "postgres"), loop: results.adaptive[0].loopL }));
      const clusterScenarios = settings.only.has("e2e") || settings.only.has("backlog") || settings.only.has("submit");
      for (const instances of clusterScenarios ? instanceCounts : []) {
        log(`postgres: ${instances} instance(s)`);
        results.postgres.push(
          await clusterRun({
            settings,
            fixture,
            origin: origin0,
            baseEnv: serviceEnv,
            adminUrl: postgresUrl,
            instances,
            nodeArgs,
            logFile: flags["service-log"] ?? null,
            log,
            e2e: settings.only.has("e2e"),
            submit: settings.only.has("backlog") || settings.only.has("submit"),
          }),
        );
      }
    }
  } finally {
    await fixture.close();
  }
  if (watcher.errors.length > 0) results.subscriptionErrors = watcher.errors.slice(0, 3).map(String);
  if (settings.only.has("hosts")) {
    for (const backend of postgres ? (["sqlite", "postgres"] as const) : (["sqlite"] as const)) {
      results[backend === "sqlite" ? "hosts" : "hostsPostgres"] = await hosts({
        settings,
        backend,
        baseEnv: serviceEnv,
        extraEnv: Object.fromEntries(flags.env.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])),
        fixedInFlight: flags["in-flight"] !== undefined,
        adminUrl: postgresUrl,
        nodeArgs,
        logFile: flags["service-log"] ?? null,
        log,
      });
    }
  }
  clearInterval(loadSampler);
  loadSamples.push(os.loadavg()[0]!);
  results.loadAverage = {
    start: round(loadSamples[0]!, 2),
    mean: round(loadSamples.reduce((a, b) => a + b, 0) / loadSamples.length, 2),
    max: round(Math.max(...loadSamples), 2),
    end: round(loadSamples.at(-1)!, 2),
  };
  report(results, (performance.now() - runStarted) / 1000);
}

function report(r: Record<string, any>, seconds: number) {
  const rows: Array<[string, string, string, string]> = [];
  const status = (ok: boolean) => (ok ? "met" : "MISSED");
  const L = settings.latencyMs;
  const range = (x: { runs?: number[] }) => (x.runs && x.runs.length > 1 ? ` [runs ${x.runs.join(", ")}]` : "");
  if (r.baseline0) rows.push(["baseline-0ms", `${round(r.baseline0.pagesPerSecond)} pages/s (${settings.inFlight} in flight)${range(r.baseline0)}`, "ceiling", ""]);
  if (r.baselineL) rows.push([`baseline-${L}ms`, `${round(r.baselineL.pagesPerSecond)} pages/s (${settings.inFlight} in flight)${range(r.baselineL)}`, "ceiling", ""]);
  const ratio0 = r.e2e0 && r.baseline0 ? r.e2e0.pagesPerSecond / r.baseline0.pagesPerSecond : NaN;
  const ratioL = r.e2eL && r.baselineL ? r.e2eL.pagesPerSecond / r.baselineL.pagesPerSecond : NaN;
  if (r.e2e0) rows.push(["e2e-0ms", `${round(r.e2e0.pagesPerSecond)} pages/s = ${round(ratio0, 2)}× baseline; ${r.e2e0.wrong} wrong${range(r.e2e0)}`, "≥ 0.65×", status(ratio0 >= 0.65)]);
  if (r.e2eL) rows.push([`e2e-${L}ms`, `${round(r.e2eL.pagesPerSecond)} pages/s = ${round(ratioL, 2)}× baseline; ${r.e2eL.wrong} wrong${range(r.e2eL)}`, "≥ 0.8×", status(ratioL >= 0.8)]);
  if (r.e2e0) {
    const n = r.e2e0.notify;
    rows.push(["notify (e2e-0ms)", `p50 ${n.p50} ms, p99 ${n.p99} ms, max ${n.max} ms (median run)`, "p99 ≤ 25 ms", status(n.p99 <= 25)]);
  }
  const submitUps = r.backlog ? settings.submitUrls / (r.backlog.submitMs.first / 1000) : NaN;
  if (r.backlog) {
    rows.push([
      "submit",
      `${settings.submitUrls} URLs in ${round(r.backlog.submitMs.first)} ms = ${Math.round(submitUps)} URLs/s (median of ${r.backlog.mutations} under load: ${round(r.backlog.submitMs.median)} ms)`,
      "≥ 25,000 URLs/s",
      status(submitUps >= 25_000),
    ]);
  }
  for (const key of ["waiters1", "waitersN"]) {
    const w = r[key];
    if (!w) continue;
    rows.push([
      `waiters (${w.waiters})`,
      `${w.correct}/${w.waiters} correct; wake p50 ${w.wake.p50} ms, p99 ${w.wake.p99} ms, max ${w.wake.max} ms; ` +
        `reads: ${w.statementsAtCall} at call (coalesced), ${w.statementsWhileWaiting} while waiting`,
      key === "waitersN" ? "p99 ≤ 25 ms; reads flat" : "",
      key === "waitersN" ? status(w.wake.p99 <= 25 && w.correct === w.waiters && w.statementsWhileWaiting <= (r.waiters1?.statementsWhileWaiting ?? 0)) : "",
    ]);
  }
  if (r.backlog) {
    const b = r.backlog;
    const vs = r.e2e0 ? b.drain.pagesPerSecond / r.e2e0.pagesPerSecond : NaN;
    rows.push(["backlog RSS", `peak ${round(b.rssMb.processPeak)} MB (sampled during backlog ${round(b.rssMb.peakSampled)} MB; before ${round(b.rssMb.before)} MB)`, "≤ 300 MB", status(b.rssMb.processPeak <= 300)]);
    rows.push([
      "backlog drain",
      `${round(b.drain.pagesPerSecond)} pages/s (halves ${round(b.drain.firstHalf)} / ${round(b.drain.secondHalf)}) = ${round(vs, 2)}× e2e-0ms, ${b.tasks - b.done} still pending`,
      "≈ e2e-0ms",
      status(vs >= 0.9),
    ]);
  }
  for (const a of r.adaptive ?? []) rows.push(...adaptiveRows(a, L));
  for (const p of (r.postgres ?? []) as Array<Record<string, any>>) {
    const shape = `${p.instances} instance${p.instances > 1 ? "s" : ""} × ${p.threadsPerInstance} thread${p.threadsPerInstance > 1 ? "s" : ""}`;
    if (p.e2e0) {
      const e = p.e2e0;
      const vsBaseline = r.baseline0 ? e.pagesPerSecond / r.baseline0.pagesPerSecond : NaN;
      const vsSqlite = r.e2e0 ? e.pagesPerSecond / r.e2e0.pagesPerSecond : NaN;
      rows.push([
        `pg e2e-0ms (${shape})`,
        `${round(e.pagesPerSecond)} pages/s = ${round(vsBaseline, 2)}× baseline, ${round(vsSqlite, 2)}× SQLite; ${e.wrong} wrong${range(e)}; postgres ${e.postgresCpu.msPerPage} ms/page`,
        "≥ 0.8× SQLite",
        status(vsSqlite >= 0.8),
      ]);
      const split = e.notifySplit;
      const stats = (x: { n: number; p50: number; p99: number; max: number }) => `p50 ${x.p50} ms, p99 ${x.p99} ms, max ${x.max} ms (${x.n} tasks)`;
      rows.push([`pg notify, same instance (${shape})`, stats(split.sameInstance), "", ""]);
      if (p.instances > 1) {
        rows.push([
          `pg notify, other instance (${shape})`,
          stats(split.otherInstance) + (split.unknown ? `; ${split.unknown} tasks not attributed` : ""),
          "p99 ≤ 50 ms",
          status(split.otherInstance.n > 0 && split.otherInstance.p99 <= 50),
        ]);
      }
    }
    if (p.submit) {
      rows.push([
        `pg submit (${shape})`,
        `${p.submit.urls} URLs in ${p.submit.ms} ms = ${p.submit.urlsPerSecond} URLs/s (median, idle) [runs ${p.submit.runs.join(", ")}]`,
        "≥ 25,000 URLs/s",
        status(p.submit.urlsPerSecond >= 25_000),
      ]);
    }
  }
  for (const [key, label] of [["hosts", "hosts"], ["hostsPostgres", "pg hosts"]] as const) {
    const h = r[key];
    if (!h) continue;
    const caveat = h.valid ? "" : h.timedOut ? "; TIMED OUT" : "; big host no longer pending at the end";
    rows.push([
      `${label}: small hosts`,
      `${h.small.pagesPerSecond} pages/s = ${h.small.ratio}× ideal (${h.inFlight} − ${h.perHost}) / ${h.latencyMs} ms = ${h.small.ideal}; ` +
        `first page ${h.small.firstPageAfterAckMs === null ? "never" : `${h.small.firstPageAfterAckMs} ms`} after submit; ${h.window.seconds} s window${caveat}`,
      "≥ 0.8×",
      status(h.valid && h.small.ratio >= 0.8),
    ]);
    rows.push([
      `${label}: big host`,
      `${h.big.pagesPerSecond} pages/s = ${h.big.ratio}× ideal ${h.perHost} / ${h.latencyMs} ms = ${h.big.ideal}; ` +
        `most in flight per host ${h.perHostMaxConcurrent.big} (big), ${h.perHostMaxConcurrent.small} (small); ${h.wrong} wrong`,
      "≥ 0.9×",
      status(h.valid && h.big.ratio >= 0.9),
    ]);
    rows.push([`${label}: per-host limit`, `most page requests in flight at the fixture on one host: ${Math.max(h.perHostMaxConcurrent.big, h.perHostMaxConcurrent.small)}`, `≤ ${h.perHost}`, status(h.perHostMaxConcurrent.hostsOverLimit.length === 0)]);
  }
  for (const m of (r.million ?? []) as Array<Record<string, any>>) rows.push(...millionRows(m));
  console.log("");
  console.log(formatTable(["figure", "measured", "target", "status"], rows));
  // On PostgreSQL the database's backends are outside the run's processes: their share is taken off.
  const pgPhases = (r.postgres ?? []).map((p: any) => p.e2e0 && { cpu: { otherCoresBusy: round(Math.max(0, p.e2e0.cpu.otherCoresBusy - p.e2e0.postgresCpu.coresBusy), 2) } });
  const adaptivePhases = (r.adaptive ?? []).flatMap((a: Record<string, any>) => [a.adaptiveL, a.adaptive0, a.fixed0]);
  const others = [r.baseline0, r.baselineL, r.e2e0, r.e2eL, r.waitersN, r.backlog?.drain, ...pgPhases, ...adaptivePhases]
    .map((x) => x?.cpu?.otherCoresBusy)
    .filter((x): x is number => typeof x === "number");
  const otherLoad = others.length > 0 ? Math.max(...others) : 0;
  console.log(`(run took ${round(seconds)} s; service exit ${r.serviceExit}; CPU used by processes outside the run: up to ${otherLoad} cores${otherLoad > 0.1 ? " — the machine was not idle, figures are disturbed" : ""})`);
  const load = r.loadAverage;
  console.log(`(load average, 1 min, sampled every 5 s: start ${load.start}, mean ${load.mean}, max ${load.max}, end ${load.end}; ${os.availableParallelism()} cores)`);
  console.log(
    JSON.stringify({
      bench: "crawlq",
      settings: { ...settings, only: [...settings.only] },
      baseline0PagesPerSecond: r.baseline0 && round(r.baseline0.pagesPerSecond),
      baseline0Runs: r.baseline0?.runs,
      baselineLatencyPagesPerSecond: r.baselineL && round(r.baselineL.pagesPerSecond),
      baselineLatencyRuns: r.baselineL?.runs,
      baselineCpu: r.baseline0 && { "0ms": r.baseline0.cpu, latency: r.baselineL?.cpu },
      e2e0: r.e2e0 && { pagesPerSecond: round(r.e2e0.pagesPerSecond), ratio: round(ratio0, 3), runs: r.e2e0.runs, wrong: r.e2e0.wrong, problems: r.e2e0.problems, statements: r.e2e0.statements, cpu: r.e2e0.cpu, slots: r.e2e0.slots, mainMemoryMb: r.e2e0.memory },
      e2eLatency: r.e2eL && { pagesPerSecond: round(r.e2eL.pagesPerSecond), ratio: round(ratioL, 3), runs: r.e2eL.runs, wrong: r.e2eL.wrong, problems: r.e2eL.problems, statements: r.e2eL.statements, cpu: r.e2eL.cpu, slots: r.e2eL.slots },
      notifyMs: r.e2e0?.notify,
      submit: r.backlog && { urls: settings.submitUrls, ms: round(r.backlog.submitMs.first), urlsPerSecond: Math.round(submitUps), medianUnderLoadMs: round(r.backlog.submitMs.median) },
      waiters1: r.waiters1,
      waiters: r.waitersN,
      backlog: r.backlog,
      serviceRssAtEndMb: r.serviceRssAtEndMb,
      subscriptionErrors: r.subscriptionErrors,
      postgres: r.postgres?.map((p: Record<string, any>) => ({
        ...p,
        e2e0: p.e2e0 && {
          pagesPerSecond: round(p.e2e0.pagesPerSecond),
          ratioToBaseline: r.baseline0 ? round(p.e2e0.pagesPerSecond / r.baseline0.pagesPerSecond, 3) : null,
          ratioToSqlite: r.e2e0 ? round(p.e2e0.pagesPerSecond / r.e2e0.pagesPerSecond, 3) : null,
          runs: p.e2e0.runs, wrong: p.e2e0.wrong, problems: p.e2e0.problems, statements: p.e2e0.statements, cpu: p.e2e0.cpu, postgresCpu: p.e2e0.postgresCpu, threads: p.e2e0.threads, slots: p.e2e0.slots,
          notifyMs: p.e2e0.notify, notifySplit: p.e2e0.notifySplit,
        },
      })),
      hosts: r.hosts,
      hostsPostgres: r.hostsPostgres,
      adaptive: r.adaptive?.map((a: Record<string, any>) => ({
        database: a.database,
        loopPagesPerSecond: round(a.loopL.pagesPerSecond),
        ...Object.fromEntries(
          (["adaptiveL", "adaptive0", "fixed0"] as const).map((k) => [k, { pagesPerSecond: round(a[k].pagesPerSecond), runs: a[k].runs, limit: a[k].limit, wrong: a[k].wrong }]),
        ),
        fixedInFlight: a.fixedInFlight,
      })),
      million: r.million,
      loadAverage: r.loadAverage,
      seconds: round(seconds),
    }),
  );
}

await main();
process.exit(0);

/**
 * PostgreSQL with one or several instances (`--database postgres --instances 1,2`): for each instance
 * count, a fresh database of its own, N services on it (started one after the other, as `npm start`
 * starts them; each migrates at start), then:
 *
 *   e2e-0ms   pages submitted to instance 1, the graphql-ws subscriber on instance 1, every instance
 *             claiming: first submitCrawl → last taskDone received (scenarios/e2e.ts, unchanged)
 *   notify    subscriber receipt − finishedAt, split by the instance that ran each task. Each instance
 *             fetches with a User-Agent of its own (`crawlq-bench/instance-K`) and the fixture logs the
 *             agent of every /bench/:n request, so a page's agent names the instance that ran its task
 *             (Task."claimedBy" is cleared by the terminal write, and `worker` is a thread id that
 *             repeats across processes). Tasks run by instance 2..N reached the subscriber on instance 1
 *             through PostgreSQL (NOTIFY, then a read of the rows): that is the cross-instance figure.
 *   submit    `--submit` URLs in one mutation to instance 1 while the cluster is idle, until acknowledged
 *             (rows committed); the median of `--repeat`, each drained before the next.
 *
 * The machine's threads are shared out: with N instances each gets CRAWLQ_THREADS = threads / N (at least
 * 1) and CRAWLQ_MAX_IN_FLIGHT = in-flight / N, so the cluster runs as many threads and slots as the
 * one-instance run. CRAWLQ_PER_HOST_CONCURRENCY (cluster-wide on PostgreSQL) stays the total in flight.
 */
import { CompletionWatcher, benchUrls, submit } from "../completions.js";
import type { Fixture } from "../fixture.js";
import { cpuMeter, latencyStats, medianOf, round } from "../measure.js";
import { backendCpuMs, backendCpuUsed, createBenchDatabase } from "../postgres.js";
import type { Run, Settings } from "../run.js";
import { startBenchService, type BenchService } from "../service.js";
import { e2e, warmService } from "./e2e.js";

export const instanceAgent = (k: number) => `crawlq-bench/instance-${k}`;

export interface ClusterOptions {
  settings: Settings;
  fixture: Fixture;
  origin: string;
  /** The SQLite run's service environment; DATABASE_URL, threads, in flight and the agent are replaced. */
  baseEnv: Record<string, string>;
  adminUrl: string;
  instances: number;
  nodeArgs: string[];
  logFile: string | null;
  log: (line: string) => void;
  /** Which measurements: e2e (with notify), submit. */
  e2e: boolean;
  submit: boolean;
}

/** The instances seen as one service: instance 1's URL, counters and CPU summed over all of them. */
function combined(services: BenchService[]): BenchService {
  const first = services[0]!;
  return {
    url: first.url,
    pid: first.pid,
    async counters() {
      const all = await Promise.all(services.map((s) => s.counters()));
      const sum: Record<string, number> = {};
      for (const counts of all) for (const [k, v] of Object.entries(counts)) sum[k] = (sum[k] ?? 0) + v;
      return sum;
    },
    mainMemory: () => first.mainMemory(),
    memory: () => {
      const each = services.map((s) => s.memory());
      return { rssMb: each.reduce((a, m) => a + m.rssMb, 0), peakMb: each.reduce((a, m) => a + m.peakMb, 0) };
    },
    cpuMs: () => services.reduce((sum, s) => sum + s.cpuMs(), 0),
    // Instance 1's threads under their tids (its main thread is "main"), the others' as "iK:main" / "iK:tid".
    threadCpuMs: () =>
      Object.fromEntries(
        services.flatMap((s, k) =>
          Object.entries(s.threadCpuMs()).map(([tid, ms]) => [k === 0 ? tid : `i${k + 1}:${tid === String(s.pid) ? "main" : tid}`, ms]),
        ),
      ),
    mainThreadCpuMs: () => services.reduce((sum, s) => sum + s.mainThreadCpuMs(), 0),
    diagnostics: () => first.diagnostics(),
    openFds: () => services.reduce((sum, s) => sum + s.openFds(), 0),
    async stop(timeoutMs) {
      const codes = await Promise.all(services.map((s) => s.stop(timeoutMs)));
      return codes.every((c) => c === codes[0]) ? codes[0]! : codes.join(",");
    },
  };
}

/** Notify latencies of one e2e run split by the instance that fetched each page. */
function notifyByInstance(notifyByPage: ReadonlyArray<readonly [number, number]>, byAgent: Record<string, number[]>, instances: number) {
  const instanceOf = new Map<number, number>();
  for (let k = 1; k <= instances; k++) for (const n of byAgent[instanceAgent(k)] ?? []) instanceOf.set(n, k);
  const same: number[] = [];
  const other: number[] = [];
  const tasks: Record<string, number> = {};
  let unknown = 0;
  for (const [n, ms] of notifyByPage) {
    const k = instanceOf.get(n);
    if (k === undefined) {
      unknown++;
      continue;
    }
    tasks[`instance${k}`] = (tasks[`instance${k}`] ?? 0) + 1;
    (k === 1 ? same : other).push(ms);
  }
  return { tasksByInstance: tasks, unknown, sameInstance: latencyStats(same), otherInstance: latencyStats(other) };
}

export async function clusterRun(o: ClusterOptions) {
  const { settings, fixture, log } = o;
  const n = o.instances;
  const threadsEach = Math.max(1, Math.floor(settings.threads / n));
  const inFlightEach = Math.max(1, Math.floor(settings.inFlight / n));
  const database = await createBenchDatabase(o.adminUrl, `i${n}`);
  const services: BenchService[] = [];
  let watcher: CompletionWatcher | null = null;
  const result: Record<string, any> = { instances: n, threadsPerInstance: threadsEach, inFlightPerInstance: inFlightEach, database: database.name };
  try {
    for (let k = 1; k <= n; k++) {
      const env = {
        ...o.baseEnv,
        DATABASE_URL: database.url,
        CRAWLQ_THREADS: String(threadsEach),
        CRAWLQ_MAX_IN_FLIGHT: String(inFlightEach),
        CRAWLQ_PER_HOST_CONCURRENCY: String(inFlightEach * n),
        CRAWLQ_USER_AGENT: instanceAgent(k),
      };
      services.push(await startBenchService(env, o.nodeArgs, o.logFile));
    }
    const service = combined(services);
    watcher = new CompletionWatcher(service.url);
    await watcher.open();
    const run: Run = {
      settings: { ...settings, inFlight: inFlightEach * n },
      service,
      fixture,
      watcher,
      cpu: cpuMeter(service, fixture, settings.fixture === "child"),
    };
    if (o.e2e) {
      log(`postgres ×${n} e2e warm-up: ${settings.warmup} pages`);
      await warmService(run, o.origin);
      log(`postgres ×${n} e2e 0 ms`);
      result.e2e0 = await medianOf(settings.repeat, async () => {
        await fixture.resetStats();
        const pgBefore = await backendCpuMs(o.adminUrl, database.name);
        const r = await e2e(run, o.origin);
        const pgMs = backendCpuUsed(pgBefore, await backendCpuMs(o.adminUrl, database.name));
        const split = notifyByInstance(r.notifyByPage, await fixture.benchPagesByAgent(), n);
        // The database's CPU is outside the run's processes: it shows in otherCoresBusy, so it is given here.
        const postgresCpu = { msPerPage: round(pgMs / settings.pages, 3), coresBusy: round(pgMs / 1000 / r.seconds, 2) };
        return { ...r, notifyByPage: undefined, notifySplit: split, postgresCpu };
      });
      const r = result.e2e0;
      log(`  ${round(r.pagesPerSecond)} pages/s [runs ${r.runs.join(", ")}], notify ${JSON.stringify(r.notifySplit)}`);
      log(`  statements ${JSON.stringify(r.statements)}, cpu ${JSON.stringify(r.cpu)}, postgres backends ${JSON.stringify(r.postgresCpu)}, threads ${JSON.stringify(r.threads)}, slots ${JSON.stringify(r.slots)}`);
      await fixture.resetStats();
    }
    if (o.submit) {
      log(`postgres ×${n} submit: ${settings.submitUrls} URLs, ${settings.repeat}×`);
      const submits = await medianOf(settings.repeat, async () => {
        const urls = benchUrls(o.origin, settings.submitUrls).map((p) => p.url);
        const s = await submit(service.url, urls);
        await watcher!.waitFor([s.id], urls.length, Math.max(120_000, urls.length * 20));
        watcher!.forget(s.id);
        await fixture.resetStats();
        return { pagesPerSecond: urls.length / (s.ms / 1000), ms: s.ms };
      });
      result.submit = { urls: settings.submitUrls, ms: round(submits.ms), urlsPerSecond: Math.round(submits.pagesPerSecond), runs: submits.runs.map(Math.round) };
      log(`  ${result.submit.urlsPerSecond} URLs/s [runs ${result.submit.runs.join(", ")}]`);
    }
    result.rssMb = services.map((s) => round(s.memory().rssMb));
  } finally {
    await watcher?.close().catch(() => {});
    result.serviceExit = await Promise.all(services.map((s) => s.stop(60_000)));
    if (watcher && watcher.errors.length > 0) result.subscriptionErrors = watcher.errors.slice(0, 3).map(String);
    await database.drop();
  }
  return result;
}

/**
 * hosts (issue 11): a scheduler's figure on a crawl of many hosts, with the service's default settings.
 *
 * One fixture site with `--latency` ms added (50) under 1 + 500 host names, all mapped to 127.0.0.1 with
 * CRAWLQ_RESOLVE, each a politeness host of its own. A service of its own (a fresh SQLite file, or a fresh
 * PostgreSQL database), with the defaults the run's other services override: per-host concurrency (4)
 * and the in-flight limit (unless `--in-flight` is given). After a warm-up on 64 other host names of the
 * 0 ms site (`--warmup` pages, untimed), the run
 *   1. submits 20,000 pages of one big host (two mutations of 10,000), then at once
 *   2. 500 small hosts × 20 pages in one mutation of 10,000, host after host (small-0's 20, then
 *      small-1's...: a claim that walks the queue in id order meets them grouped, as a crawl list is),
 * and receives every taskDone on a graphql-ws subscriber opened before submitting.
 *
 * The window is from the first small-host completion to the last one, both as received by the
 * subscriber; the big host must still have pending tasks at its end (20,000 pages at 4 / 50 ms take 250 s,
 * the small hosts 8 s at ideal on two cores), else the window is not "while the backlog is pending" and
 * the run says so. When the small pages are not all done within the deadline (at least 120 s), the window
 * ends there (and starts at the acknowledgement if no small page came), and the figures are marked
 * TIMED OUT. Over that window:
 *   small hosts' pages/s  (completions after the first) / window, against the ideal (in-flight − 4) / latency:
 *                         every slot but the big host's 4 busy with small hosts' pages. In-flight is the
 *                         service's own limit as `pool` reports it: an adaptive `inFlightLimit` averaged over
 *                         the window's once-a-second samples (else threads × concurrencyPerThread, or
 *                         CRAWLQ_MAX_IN_FLIGHT when set).
 *                         Target ≥ 0.8×.
 *   big host's pages/s    its completions inside the same window / window, against 4 / latency. Target ≥ 0.9×.
 * Also: how long after the small submission was acknowledged its first page completed (a scheduler
 * that scans past the big host's backlog starts them late), the small hosts' rate between their 10th
 * and 90th percentile completions (no ramp or tail), the big host's rate from its first completion to the
 * window's end, `pool { inFlight }` sampled through the window, the most page requests each host had in
 * flight at the fixture (must never exceed 4), and every result checked against the page served.
 *
 * The remaining big-host tasks are not waited for: the service is stopped and its database deleted.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gql } from "../../testkit/graphql-client.js";
import { CompletionWatcher, benchUrls, checkPages, submit, submitAll, type Received } from "../completions.js";
import { startFixture } from "../fixture.js";
import { cpuMeter, round, sleep } from "../measure.js";
import { withPgClient } from "../../testkit/postgres.js";
import { backendCpuMs, backendCpuUsed, createBenchDatabase } from "../postgres.js";
import type { Settings } from "../run.js";
import { startBenchService } from "../service.js";

export const BIG_PAGES = 20_000;
export const SMALL_HOSTS = 500;
export const SMALL_PAGES = 20;
const WARM_HOSTS = 64;
/** The service's default CRAWLQ_PER_HOST_CONCURRENCY. */
const DEFAULT_PER_HOST = 4;

const DOMAIN = "hosts.crawlq.test";
const bigName = `big.${DOMAIN}`;
const smallNames = Array.from({ length: SMALL_HOSTS }, (_, i) => `small-${i}.${DOMAIN}`);
const warmNames = Array.from({ length: WARM_HOSTS }, (_, i) => `warm-${i}.${DOMAIN}`);

export interface HostsOptions {
  settings: Settings;
  backend: "sqlite" | "postgres";
  /** The run's service environment; per-host concurrency, in flight and the database are replaced. */
  baseEnv: Record<string, string>;
  /** `--env` as given, applied last (so it may set what the scenario leaves at the default). */
  extraEnv: Record<string, string>;
  /** Whether `--in-flight` was given: then CRAWLQ_MAX_IN_FLIGHT stays fixed at it. */
  fixedInFlight: boolean;
  /** PostgreSQL server where the run's database is created (backend postgres). */
  adminUrl: string;
  nodeArgs: string[];
  logFile: string | null;
  log: (line: string) => void;
}

/** The service's in-flight limit as `pool` reports it: `inFlightLimit` if this build has it. */
async function inFlightLimit(url: string, env: Record<string, string>): Promise<{ value: number; source: string }> {
  const adaptive = await gql<{ pool: { inFlightLimit: number } }>(url, "{ pool { inFlightLimit } }");
  if (!adaptive.errors?.length && typeof adaptive.data?.pool.inFlightLimit === "number") {
    return { value: adaptive.data.pool.inFlightLimit, source: "pool.inFlightLimit" };
  }
  if (env.CRAWLQ_MAX_IN_FLIGHT !== undefined) return { value: Number(env.CRAWLQ_MAX_IN_FLIGHT), source: "CRAWLQ_MAX_IN_FLIGHT" };
  const fixed = await gql<{ pool: { threads: number; concurrencyPerThread: number } }>(url, "{ pool { threads concurrencyPerThread } }");
  if (fixed.errors?.length || !fixed.data) throw new Error(`pool: ${JSON.stringify(fixed.errors)}`);
  return { value: fixed.data.pool.threads * fixed.data.pool.concurrencyPerThread, source: "pool.threads × pool.concurrencyPerThread" };
}

/** The scenario's service environment: the run's, with the politeness and in-flight defaults restored. */
function hostsEnv(o: HostsOptions, databaseUrl: string): Record<string, string> {
  const env: Record<string, string> = { ...o.baseEnv };
  delete env.CRAWLQ_PER_HOST_CONCURRENCY;
  delete env.CRAWLQ_CONCURRENCY_PER_THREAD;
  if (!o.fixedInFlight) delete env.CRAWLQ_MAX_IN_FLIGHT;
  const names = [bigName, ...smallNames, ...warmNames];
  return {
    ...env,
    DATABASE_URL: databaseUrl,
    CRAWLQ_RESOLVE: names.map((name) => `${name}=127.0.0.1`).join(","),
    ...o.extraEnv,
  };
}

/** The fixture site's origin under each host name: http://NAME:PORT. */
const originsOn = (origin: string, names: readonly string[]) => names.map((name) => `http://${name}:${new URL(origin).port}`);

/** Completions per second between two receipt times (performance.now()), counting those after `from`. */
const rateBetween = (received: readonly Received[], from: number, to: number) => {
  const n = received.filter((r) => r.perf > from && r.perf <= to).length;
  return to > from ? n / ((to - from) / 1000) : NaN;
};

/** Receipts per 5 s bucket between two performance.now() times. */
function buckets(received: readonly Received[], from: number, to: number): number[] {
  const counts = new Array<number>(Math.max(1, Math.ceil((to - from) / 5000))).fill(0);
  for (const r of received) {
    const i = Math.floor((r.perf - from) / 5000);
    if (i >= 0 && i < counts.length) counts[i]!++;
  }
  return counts;
}

export async function hosts(o: HostsOptions) {
  const { settings, log } = o;
  const latencyMs = settings.latencyMs;
  const fixture = await startFixture(settings.fixture, [0, latencyMs]);
  const origin0 = fixture.origins.sites[0]!;
  const originL = fixture.origins.sites[latencyMs]!;
  const dbDir = o.backend === "sqlite" ? mkdtempSync(path.join(os.tmpdir(), "crawlq-bench-hosts-")) : null;
  const database = o.backend === "postgres" ? await createBenchDatabase(o.adminUrl, "hosts") : null;
  const env = hostsEnv(o, database ? database.url : `file:${path.join(dbDir!, "crawlq.db")}`);
  const perHost = Number(env.CRAWLQ_PER_HOST_CONCURRENCY ?? DEFAULT_PER_HOST);
  const result: Record<string, any> = { backend: o.backend, latencyMs, bigPages: BIG_PAGES, smallHosts: SMALL_HOSTS, smallPagesEach: SMALL_PAGES, perHost };
  let service: Awaited<ReturnType<typeof startBenchService>> | null = null;
  let watcher: CompletionWatcher | null = null;
  let sampling = false;
  try {
    service = await startBenchService(env, o.nodeArgs, o.logFile);
    watcher = new CompletionWatcher(service.url);
    await watcher.open();
    const limit = await inFlightLimit(service.url, env);
    result.inFlight = limit.value;
    result.inFlightSource = limit.source;

    if (settings.warmup > 0) {
      log(`hosts (${o.backend}) warm-up: ${settings.warmup} pages on ${WARM_HOSTS} hosts, 0 ms`);
      const warm = benchUrls(originsOn(origin0, warmNames), settings.warmup).map((p) => p.url);
      const w = await submitAll(service.url, warm);
      await watcher.waitFor(w.ids, warm.length, Math.max(120_000, warm.length * 20));
      for (const id of w.ids) watcher.forget(id);
    }
    await fixture.resetStats();

    const bigPages = benchUrls(originsOn(originL, [bigName]), BIG_PAGES);
    const smallPages = originsOn(originL, smallNames).flatMap((origin) => benchUrls(origin, SMALL_PAGES));
    log(`hosts (${o.backend}): ${BIG_PAGES} pages on 1 host, then ${SMALL_HOSTS} hosts × ${SMALL_PAGES}, ${latencyMs} ms, in flight ${limit.value} (${limit.source}), per host ${perHost}`);

    const cpu = cpuMeter(service, fixture, settings.fixture === "child");
    const cpuBefore = await cpu.snapshot();
    // On PostgreSQL the claim's queries run in the server's backends, outside the run's processes.
    const pgBefore = database ? await backendCpuMs(o.adminUrl, database.name) : null;
    const big = await submitAll(service.url, bigPages.map((p) => p.url));
    // pool { inFlight } each second from here on: how full the scheduler keeps the pool, before and in the
    // window (each answer also counts the tasks by status: a read the service does not otherwise make, so not often).
    // With an adaptive limit, its value too: the ideal is taken at the limit the service had in the window.
    const inFlightSamples: Array<{ perf: number; inFlight: number; limit: number }> = [];
    const adaptiveLimit = limit.source === "pool.inFlightLimit";
    sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const query = adaptiveLimit ? "{ pool { inFlight inFlightLimit } }" : "{ pool { inFlight } }";
        const r = await gql<{ pool: { inFlight: number; inFlightLimit?: number } }>(service!.url, query).catch(() => null);
        if (r?.data) inFlightSamples.push({ perf: performance.now(), inFlight: r.data.pool.inFlight, limit: r.data.pool.inFlightLimit ?? limit.value });
        await sleep(1000);
      }
    })();
    const small = await submit(service.url, smallPages.map((p) => p.url));
    const smallAcked = small.started + small.ms;
    const smallAckedEpoch = Date.now() - (performance.now() - smallAcked);
    const smallTotal = SMALL_HOSTS * SMALL_PAGES;
    const deadlineMs = Math.round(Math.max(120_000, (smallTotal / Math.max(1, limit.value - perHost)) * latencyMs * 20));
    let timedOut = false;
    await watcher.waitFor([small.id], smallTotal, deadlineMs).catch((error: Error) => {
      timedOut = true;
      log(`  ${error.message}`);
    });
    const cpuAfter = await cpu.snapshot();
    const stoppedWaiting = performance.now();
    const pgMs = database && pgBefore ? backendCpuUsed(pgBefore, await backendCpuMs(o.adminUrl, database.name)) : null;
    // On PostgreSQL, the tasks by host kind and status when the wait ended: never claimed, or stuck running?
    const statusAtEnd = database
      ? await withPgClient(database.url, async (c) => {
          const rows = await c.query<{ kind: string; status: string; n: number }>(
            `SELECT CASE WHEN host LIKE 'small-%' THEN 'small' WHEN host LIKE 'big.%' THEN 'big' ELSE 'other' END AS kind, status, count(*)::int AS n
               FROM "Task" GROUP BY 1, 2 ORDER BY 1, 2`,
          );
          return Object.fromEntries(rows.rows.map((r) => [`${r.kind} ${r.status}`, r.n]));
        })
      : undefined;
    const cpuSeconds = (stoppedWaiting - big.started) / 1000;
    sampling = false;
    await sampler;

    const smallReceived = [...watcher.received(small.id)].sort((a, b) => a.perf - b.perf);
    const bigReceived = big.ids.flatMap((id) => watcher!.received(id)).sort((a, b) => a.perf - b.perf);
    const byHost = await fixture.benchPagesByHost();
    const requests = await fixture.requests();
    // Timed out: the window runs from the first small page (or the acknowledgement, if none came) to the deadline.
    const start = smallReceived[0]?.perf ?? smallAcked;
    const end = timedOut ? stoppedWaiting : (smallReceived.at(-1)?.perf ?? NaN);
    const windowS = (end - start) / 1000;
    const bigDoneAtEnd = bigReceived.filter((r) => r.perf <= end).length;

    const limitsInWindow = inFlightSamples.filter((x) => x.perf >= start && x.perf <= end).map((x) => x.limit);
    const limitInWindow = limitsInWindow.length ? limitsInWindow.reduce((a, b) => a + b, 0) / limitsInWindow.length : limit.value;
    result.inFlight = round(limitInWindow);
    result.inFlightAtStart = limit.value;
    const idealSmall = (limitInWindow - perHost) / (latencyMs / 1000);
    const idealBig = perHost / (latencyMs / 1000);
    const smallRate = rateBetween(smallReceived, start, end);
    const bigRate = rateBetween(bigReceived, start, end);
    const at = (q: number) => smallReceived[Math.min(smallReceived.length - 1, Math.floor(q * (smallReceived.length - 1)))]?.perf ?? NaN;
    const idToPage = new Map([...big.taskIds.map((id, i) => [id, bigPages[i]!.n] as const), ...small.ids.map((id, i) => [id, smallPages[i]!.n] as const)]);
    const problems = checkPages([...smallReceived, ...bigReceived], idToPage);
    const hostName = (host: string) => host.replace(/:\d+$/, "");
    const smallMax = Math.max(0, ...Object.entries(byHost).filter(([h]) => hostName(h).startsWith("small-")).map(([, v]) => v.maxConcurrent));
    const bigMax = Object.entries(byHost).find(([h]) => hostName(h) === bigName)?.[1].maxConcurrent ?? 0;
    const inFlightStats = (from: number, to: number) => {
      const xs = inFlightSamples.filter((x) => x.perf >= from && x.perf <= to).map((x) => x.inFlight);
      return xs.length ? { samples: xs.length, mean: round(xs.reduce((a, b) => a + b, 0) / xs.length), min: Math.min(...xs), max: Math.max(...xs) } : null;
    };
    // How long a claimed task took (startedAt → finishedAt): 50 ms plus fetch and parse when threads keep up.
    const attemptMs = (received: readonly Received[]) => {
      const xs = received.map((r) => Date.parse(r.event.finishedAt) - Date.parse(r.event.startedAt ?? r.event.finishedAt)).sort((a, b) => a - b);
      return { p50: xs[Math.floor(xs.length / 2)] ?? NaN, p90: xs[Math.floor(xs.length * 0.9)] ?? NaN };
    };
    const bigInWindow = bigReceived.filter((r) => r.perf > start && r.perf <= end);
    const firstSmallClaim = Math.min(...smallReceived.map((r) => Date.parse(r.event.startedAt ?? r.event.finishedAt)));
    const overLimit = Object.entries(byHost).filter(([, v]) => v.maxConcurrent > perHost).map(([h, v]) => `${hostName(h)}: ${v.maxConcurrent}`);
    Object.assign(result, {
      valid: !timedOut && bigDoneAtEnd < BIG_PAGES,
      timedOut,
      // Completions per 5 s from the big submission on: how the run went.
      timeline: {
        bucketSeconds: 5,
        smallAckedAtS: round((smallAcked - big.started) / 1000, 2),
        big: buckets(bigReceived, big.started, stoppedWaiting),
        small: buckets(smallReceived, big.started, stoppedWaiting),
      },
      window: {
        from: smallReceived.length > 0 ? "first small-host completion" : "small submission acknowledged",
        to: timedOut ? "deadline" : "last small-host completion",
        seconds: round(windowS, 2),
      },
      small: {
        pagesPerSecond: round(smallRate),
        ideal: round(idealSmall),
        ratio: round(smallRate / idealSmall, 3),
        completed: smallReceived.length,
        firstPageAfterAckMs: smallReceived.length > 0 ? round(start - smallAcked) : null,
        firstClaimAfterAckMs: smallReceived.length > 0 ? round(firstSmallClaim - smallAckedEpoch) : null,
        attemptMs: attemptMs(smallReceived),
        middle80PagesPerSecond: round(rateBetween(smallReceived, at(0.1), at(0.9))),
      },
      big: {
        pagesPerSecond: round(bigRate),
        ideal: round(idealBig),
        ratio: round(bigRate / idealBig, 3),
        completedAtWindowEnd: bigDoneAtEnd,
        pendingAtWindowEnd: BIG_PAGES - bigDoneAtEnd,
        sinceFirstPagesPerSecond: round(rateBetween(bigReceived, bigReceived[0]?.perf ?? NaN, end)),
        // Alone (until the small submission was acknowledged), then until the first small page.
        alonePagesPerSecond: round(rateBetween(bigReceived, bigReceived[0]?.perf ?? NaN, smallAcked)),
        beforeWindowPagesPerSecond: round(rateBetween(bigReceived, smallAcked, start)),
        attemptMsInWindow: attemptMs(bigInWindow),
      },
      submitMs: { big: round(big.ms), small: round(small.ms), smallAckedAfterBigStartMs: round(smallAcked - big.started) },
      poolInFlight: { beforeWindow: inFlightStats(big.started, start), inWindow: inFlightStats(start, end) },
      perHostMaxConcurrent: { big: bigMax, small: smallMax, hostsOverLimit: overLimit.slice(0, 5), hostsSeen: Object.keys(byHost).length },
      // Requests at the fixture other than pages: the robots.txt fetches, one per host.
      otherRequests: requests - Object.values(byHost).reduce((sum, h) => sum + h.requests, 0),
      wrong: problems.length,
      problems: problems.slice(0, 3),
      postgresCoresBusy: pgMs === null ? undefined : round(pgMs / 1000 / cpuSeconds, 2),
      statusAtEnd,
      cpu: cpu.perPage(cpuBefore, cpuAfter, Math.max(1, smallReceived.length + bigDoneAtEnd), cpuSeconds),
    });
    log(
      `  small ${result.small.pagesPerSecond} pages/s = ${result.small.ratio}× ideal ${result.small.ideal} (first claim ${result.small.firstClaimAfterAckMs} ms, first page ${result.small.firstPageAfterAckMs} ms after ack; middle 80% ${result.small.middle80PagesPerSecond}; attempt ms ${JSON.stringify(result.small.attemptMs)}); ` +
        `big ${result.big.pagesPerSecond} pages/s = ${result.big.ratio}× ${result.big.ideal} (alone ${result.big.alonePagesPerSecond}, before the window ${result.big.beforeWindowPagesPerSecond}; ${result.big.pendingAtWindowEnd} pending at the end); window ${result.window.seconds} s`,
    );
    log(`  pool in flight ${JSON.stringify(result.poolInFlight)}, per-host max ${JSON.stringify(result.perHostMaxConcurrent)}, other requests (robots.txt) ${result.otherRequests}, cpu ${JSON.stringify(result.cpu)}` +
        (pgMs === null ? "" : `, postgres backends ${result.postgresCoresBusy} cores, tasks when the wait ended ${JSON.stringify(statusAtEnd)}`));
    log(`  completions per 5 s (small submission acknowledged at ${result.timeline.smallAckedAtS} s): big ${result.timeline.big.join(" ")}; small ${result.timeline.small.join(" ")}`);
  } finally {
    sampling = false;
    await watcher?.close().catch(() => {});
    if (watcher && watcher.errors.length > 0) result.subscriptionErrors = watcher.errors.slice(0, 3).map(String);
    if (service) result.serviceExit = await service.stop(60_000);
    await database?.drop();
    if (dbDir) rmSync(dbDir, { recursive: true, force: true });
    await fixture.close();
  }
  return result;
}

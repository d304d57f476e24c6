/**
 * adaptive (issue 11, Must 2): the in-flight limit at its defaults (adaptive between the floor and the
 * ceiling) against what it must reach, on one database backend per call:
 *
 *   loop-50ms   a bare fetch loop at 256 in flight on the `--latency` site: the ceiling (measured once, on
 *               the first call, since it does not touch a database)
 *   e2e-50ms    `--pages` through a service with the default in-flight settings (no CRAWLQ_MAX_IN_FLIGHT,
 *               no CRAWLQ_CONCURRENCY_PER_THREAD) on the same site: target ≥ 0.85× the loop
 *   e2e-0ms     the same service on the 0 ms site, against a service with the fixed limit of before
 *               (CRAWLQ_MAX_IN_FLIGHT = threads × 32, 32 per thread) on the same backend: must not fall below
 *
 * The fixture is one host, so the operator's per-host limit is raised to the adaptive ceiling's default (512)
 * for the adaptive service and to the fixed limit for the fixed one. While each timed run goes, `pool {
 * inFlightLimit }` is read every 250 ms: the limit the controller settled at, and its range, are reported.
 * Each service is warmed up with `--warmup` pages on the 0 ms site first, as in e2e; the medians of
 * `--repeat` runs are reported.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CompletionWatcher } from "../completions.js";
import type { Fixture } from "../fixture.js";
import { cpuMeter, medianOf, round } from "../measure.js";
import { createBenchDatabase } from "../postgres.js";
import type { Run, Settings } from "../run.js";
import { startBenchService, type BenchService } from "../service.js";
import { fetchLoop } from "./baseline.js";
import { e2e, warmService } from "./e2e.js";

/** The bare loop's concurrency the adaptive default is measured against (issue 11). */
export const LOOP_IN_FLIGHT = 256;
/** CRAWLQ_MAX_IN_FLIGHT_CEILING's default: the per-host limit the operator sets for the one-host fixture. */
const DEFAULT_CEILING = 512;
const FIXED_PER_THREAD = 32;

export interface AdaptiveOptions {
  settings: Settings;
  fixture: Fixture;
  origin0: string;
  originL: string;
  /** The main run's service environment; the database, in-flight settings and per-host limit are replaced. */
  baseEnv: Record<string, string>;
  database: "sqlite" | "postgres";
  adminUrl: string;
  nodeArgs: string[];
  logFile: string | null;
  log: (line: string) => void;
  /** The loop's figure from an earlier call, so that it is measured once per bench run. */
  loop?: { pagesPerSecond: number; runs: number[] };
}

type Timed = Awaited<ReturnType<typeof e2e>> & { runs: number[]; limit: { last: number; min: number; max: number } };

export interface AdaptiveResult {
  database: "sqlite" | "postgres";
  loopL: { pagesPerSecond: number; runs: number[] };
  adaptiveL: Timed;
  adaptive0: Timed;
  fixed0: Timed;
  fixedInFlight: number;
}

/** `pool { inFlightLimit }` every 250 ms while `body` runs: the last value, and the least and most seen. */
async function sampleLimit<T>(url: string, body: () => Promise<T>): Promise<T & { limit: { last: number; min: number; max: number } }> {
  const seen: number[] = [];
  const read = async () => {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ pool { inFlightLimit } }" }) });
    const json = (await response.json()) as { data?: { pool?: { inFlightLimit?: number } } };
    const limit = json.data?.pool?.inFlightLimit;
    if (typeof limit === "number") seen.push(limit);
  };
  let reading: Promise<void> = read();
  const timer = setInterval(() => (reading = reading.then(read, read)), 250);
  try {
    const result = await body();
    await reading.catch(() => {});
    await read();
    return { ...result, limit: { last: seen.at(-1) ?? NaN, min: Math.min(...seen), max: Math.max(...seen) } };
  } finally {
    clearInterval(timer);
  }
}

/** One service on a fresh database of `o.database`, warmed up, then `measure` with it; stopped and dropped after. */
async function withService<T>(o: AdaptiveOptions, label: string, env: Record<string, string>, measure: (run: Run) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "crawlq-bench-adaptive-"));
  const database = o.database === "postgres" ? await createBenchDatabase(o.adminUrl, `adaptive_${label}`) : null;
  const { CRAWLQ_MAX_IN_FLIGHT: _fixed, CRAWLQ_CONCURRENCY_PER_THREAD: _perThread, ...base } = o.baseEnv;
  let service: BenchService | null = null;
  let watcher: CompletionWatcher | null = null;
  try {
    service = await startBenchService({ ...base, DATABASE_URL: database?.url ?? `file:${path.join(dir, "crawlq.db")}`, ...env }, o.nodeArgs, o.logFile);
    watcher = new CompletionWatcher(service.url);
    await watcher.open();
    const run: Run = { settings: o.settings, service, fixture: o.fixture, watcher, cpu: cpuMeter(service, o.fixture, o.settings.fixture === "child") };
    o.log(`adaptive (${o.database}) ${label}: warm-up ${o.settings.warmup} pages`);
    await warmService(run, o.origin0);
    return await measure(run);
  } finally {
    await watcher?.close().catch(() => {});
    await service?.stop(60_000);
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function adaptiveRun(o: AdaptiveOptions): Promise<AdaptiveResult> {
  const { settings, log } = o;
  let loopL = o.loop;
  if (!loopL) {
    log(`adaptive: bare fetch loop, ${LOOP_IN_FLIGHT} in flight, ${settings.latencyMs} ms`);
    await fetchLoop(o.origin0, 2_000_000, settings.warmup, LOOP_IN_FLIGHT);
    const loop = await medianOf(settings.repeat, () => fetchLoop(o.originL, 0, settings.pages, LOOP_IN_FLIGHT));
    loopL = { pagesPerSecond: loop.pagesPerSecond, runs: loop.runs };
    log(`  ${round(loopL.pagesPerSecond)} pages/s [runs ${loopL.runs.join(", ")}]`);
  }
  const timed = (run: Run, origin: string, what: string) =>
    medianOf(settings.repeat, () => sampleLimit(run.service.url, () => e2e(run, origin))).then((r) => {
      log(`  ${what}: ${round(r.pagesPerSecond)} pages/s [runs ${r.runs.join(", ")}], in-flight limit ${JSON.stringify(r.limit)}, slots ${JSON.stringify(r.slots)}, cpu ${JSON.stringify(r.cpu)}`);
      return r;
    });

  const adaptiveEnv = { CRAWLQ_PER_HOST_CONCURRENCY: String(DEFAULT_CEILING) };
  const [adaptive0, adaptiveL] = await withService(o, "default", adaptiveEnv, async (run) => {
    const zero = await timed(run, o.origin0, "adaptive e2e-0ms");
    await o.fixture.resetStats();
    const latency = await timed(run, o.originL, `adaptive e2e-${settings.latencyMs}ms`);
    await o.fixture.resetStats();
    return [zero, latency] as const;
  });

  const fixedInFlight = settings.threads * FIXED_PER_THREAD;
  const fixedEnv = {
    CRAWLQ_MAX_IN_FLIGHT: String(fixedInFlight),
    CRAWLQ_CONCURRENCY_PER_THREAD: String(FIXED_PER_THREAD),
    CRAWLQ_PER_HOST_CONCURRENCY: String(fixedInFlight),
  };
  const fixed0 = await withService(o, "fixed", fixedEnv, async (run) => {
    const zero = await timed({ ...run, settings: { ...settings, inFlight: fixedInFlight } }, o.origin0, `fixed ${fixedInFlight} e2e-0ms`);
    await o.fixture.resetStats();
    return zero;
  });
  return { database: o.database, loopL, adaptiveL, adaptive0, fixed0, fixedInFlight };
}

/** The bench table's rows for one backend's figures: [figure, measured, target, status]. */
export function adaptiveRows(r: AdaptiveResult, latencyMs: number): Array<[string, string, string, string]> {
  const status = (ok: boolean) => (ok ? "met" : "MISSED");
  const prefix = r.database === "postgres" ? "pg adaptive" : "adaptive";
  const runs = (x: { runs: number[] }) => (x.runs.length > 1 ? ` [runs ${x.runs.join(", ")}]` : "");
  const limit = (x: Timed) => `limit ${x.limit.last} (${x.limit.min}–${x.limit.max})`;
  const ratioL = r.adaptiveL.pagesPerSecond / r.loopL.pagesPerSecond;
  const ratio0 = r.adaptive0.pagesPerSecond / r.fixed0.pagesPerSecond;
  const rows: Array<[string, string, string, string]> = [];
  if (r.database === "sqlite") rows.push([`adaptive loop-${latencyMs}ms`, `${round(r.loopL.pagesPerSecond)} pages/s (${LOOP_IN_FLIGHT} in flight)${runs(r.loopL)}`, "ceiling", ""]);
  rows.push([
    `${prefix} e2e-${latencyMs}ms`,
    `${round(r.adaptiveL.pagesPerSecond)} pages/s = ${round(ratioL, 2)}× loop-${LOOP_IN_FLIGHT}; ${limit(r.adaptiveL)}; ${r.adaptiveL.wrong} wrong${runs(r.adaptiveL)}`,
    "≥ 0.85× loop",
    status(ratioL >= 0.85 && r.adaptiveL.wrong === 0),
  ]);
  rows.push([
    `${prefix} e2e-0ms`,
    `${round(r.adaptive0.pagesPerSecond)} pages/s = ${round(ratio0, 2)}× fixed ${r.fixedInFlight} (${round(r.fixed0.pagesPerSecond)} pages/s${runs(r.fixed0)}); ${limit(r.adaptive0)}; ${r.adaptive0.wrong} wrong${runs(r.adaptive0)}`,
    "≥ 1.0× fixed",
    status(ratio0 >= 1 && r.adaptive0.wrong === 0),
  ]);
  return rows;
}

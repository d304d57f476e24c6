/**
 * Measurement utilities the scenarios share: deadlines, rounding, percentiles, the median of repeated
 * runs, and CPU time per page for each process of the run.
 */
import { readFileSync } from "node:fs";
import type { Fixture } from "./fixture.js";
import type { BenchService } from "./service.js";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
export function latencyStats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
}

/** Runs `measure` `repeat` times; returns the run with the median pages/s, and the range. */
export async function medianOf<T extends { pagesPerSecond: number }>(repeat: number, measure: () => Promise<T>): Promise<T & { runs: number[] }> {
  const runs: T[] = [];
  for (let k = 0; k < repeat; k++) runs.push(await measure());
  const sorted = [...runs].sort((a, b) => a.pagesPerSecond - b.pagesPerSecond);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  // Wrong results count over every run, not just the median one.
  const wrong = runs.reduce((sum, run) => sum + ((run as { wrong?: number }).wrong ?? 0), 0);
  return { ...median, ...("wrong" in median ? { wrong } : {}), runs: runs.map((r) => round(r.pagesPerSecond)) };
}

/** Resolves with `promise`, or rejects after `ms` naming `what`. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Calls `check` every `intervalMs` until it returns true; rejects once `timeoutMs` has passed, with
 * `what` and the last `describe()` (what was seen) in the message.
 */
export async function pollUntil(
  what: string,
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
  options: { intervalMs?: number; describe?: () => string } = {},
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms${options.describe ? ` (${options.describe()})` : ""}`);
    await sleep(options.intervalMs ?? 20);
  }
}

/** Calls `sample` now and every `intervalMs` until stopped; `peak` is the largest value seen. */
export function peakSampler(intervalMs: number, sample: () => number) {
  let peak = sample();
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, sample());
    } catch {
      // the process went away; the last peak stands
    }
  }, intervalMs);
  return {
    get peak() {
      return peak;
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * Ends this process with `code` after `ms` unless disarmed: a last resort so that a run that hangs still
 * stops by itself. `onFire` runs first (e.g. to kill the service), for at most 10 s.
 */
export function watchdog(ms: number, onFire: () => Promise<unknown>, code = 3): { disarm(): void } {
  const timer = setTimeout(() => {
    process.stderr.write(`watchdog: the run did not end within ${Math.round(ms / 1000)} s; stopping\n`);
    void Promise.race([onFire().catch(() => {}), sleep(10_000)]).then(() => process.exit(code));
  }, ms);
  timer.unref();
  return { disarm: () => clearTimeout(timer) };
}

/** CPU time used so far by each process of the run (ms): the service, the fixture and this client. */
export type CpuSnapshot = { service: number; serviceMain: number; fixture: number; client: number; machine: number };

/** CPU time all processes on the machine have used (ms), from /proc/stat: shows load from outside the run. */
function machineCpuMs(): number {
  try {
    const [, ...ticks] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number);
    return ((user! + nice! + system! + irq! + softirq! + steal!) * 1000) / 100;
  } catch {
    return NaN;
  }
}
function clientCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

export interface CpuMeter {
  /** CPU time used so far by each process of the run. */
  snapshot(): Promise<CpuSnapshot>;
  /** CPU ms per page for each process, and how busy the machine's cores were, between two snapshots. */
  perPage(before: CpuSnapshot, after: CpuSnapshot, pages: number, seconds: number): CpuPerPage;
}
export type CpuPerPage = ReturnType<typeof cpuPerPage>;

/**
 * Reads the CPU time of the service, the fixture, this client and the whole machine. `countFixture` is
 * false when the fixture runs in this process: its time is then the client's, counted once.
 */
export function cpuMeter(
  service: Pick<BenchService, "cpuMs" | "mainThreadCpuMs">,
  fixture: Pick<Fixture, "cpuMs">,
  countFixture: boolean,
): CpuMeter {
  return {
    snapshot: async () => ({ service: service.cpuMs(), serviceMain: service.mainThreadCpuMs(), fixture: await fixture.cpuMs(), client: clientCpuMs(), machine: machineCpuMs() }),
    perPage: (before, after, pages, seconds) => cpuPerPage(before, after, pages, seconds, countFixture),
  };
}

function cpuPerPage(before: CpuSnapshot, after: CpuSnapshot, pages: number, seconds: number, countFixture: boolean) {
  const used = {
    service: after.service - before.service,
    fixture: countFixture ? after.fixture - before.fixture : 0,
    client: after.client - before.client,
  };
  const total = used.service + used.fixture + used.client;
  const machine = after.machine - before.machine;
  return {
    msPerPage: {
      service: round(used.service / pages, 3),
      serviceMainThread: round((after.serviceMain - before.serviceMain) / pages, 3),
      fixture: round(used.fixture / pages, 3),
      client: round(used.client / pages, 3),
      total: round(total / pages, 3),
    },
    coresBusy: round(total / 1000 / seconds, 2),
    /** Cores busy with processes outside this run (other users of the machine); should be ~0 for clean figures. */
    otherCoresBusy: round(Math.max(0, machine - total) / 1000 / seconds, 2),
  };
}

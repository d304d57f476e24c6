/**
 * What the load and soak runs start: the fixture site in a child process (bench/fixture.ts) and the
 * service as `npm start` starts it (bench/service.ts), on loopback. Several host names resolve to
 * 127.0.0.1 through CRAWLQ_RESOLVE, so the service keeps its realistic per-host limit and the pool is
 * still the only cap on throughput.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gqlData } from "../../testkit/graphql-client.js";
import { nonNegativeInt } from "../cli.js";
import { peakSampler, watchdog } from "../measure.js";
import { startFixture, type Fixture } from "../fixture.js";
import { startBenchService, type BenchService } from "../service.js";

/** The flags both runners take for the rig (and the seed of their random choices), as parsed. */
export interface RigSettings {
  /** Host names resolved to 127.0.0.1, each a politeness host of its own. */
  hosts: number;
  /** CRAWLQ_PER_HOST_CONCURRENCY. */
  perHost: number;
  /** CRAWLQ_THREADS. */
  threads: number;
  /** Seed of the run's random choices. */
  seed: number;
  /** Appends the service's stdout to this file. */
  serviceLog: string | null;
  /** Further service environment from --env, over the rig's own. */
  serviceEnv: Record<string, string>;
}

/** Defaults of the rig's flags, for parseFlags. */
export const RIG_FLAGS = {
  hosts: "32",
  "per-host": "4",
  threads: String(os.availableParallelism()),
  seed: "1",
  env: undefined,
  "service-log": undefined,
};

/** --help lines of the rig's flags. */
export const RIG_HELP = `  --hosts N            host names resolved to 127.0.0.1 with CRAWLQ_RESOLVE (32)
  --per-host N         CRAWLQ_PER_HOST_CONCURRENCY (4, the service's default)
  --threads N          CRAWLQ_THREADS (this machine's cores)
  --seed N             seed of the run's random choices (1)
  --env K=V[,K=V…]     further service environment, e.g. CRAWLQ_SUBSCRIBER_BUFFER=50000
  --service-log FILE   append the service's stdout to FILE
  --help`;

/** The rig's flags, read from parseFlags' result. */
export function rigSettings(flags: Record<string, string | undefined>): RigSettings {
  const settings = {
    hosts: nonNegativeInt("hosts", flags.hosts),
    perHost: nonNegativeInt("per-host", flags["per-host"]),
    threads: nonNegativeInt("threads", flags.threads),
    seed: nonNegativeInt("seed", flags.seed),
    serviceLog: flags["service-log"] ?? null,
    serviceEnv: parseEnv(flags.env ?? ""),
  };
  if (settings.hosts < 1 || settings.perHost < 1 || settings.threads < 1) throw new Error("--hosts, --per-host and --threads must be ≥ 1");
  return settings;
}

/** "K=V,K2=V2" → { K: "V", K2: "V2" }; throws on an entry without "=". */
function parseEnv(list: string): Record<string, string> {
  const pairs = list.split(",").filter((entry) => entry.trim() !== "");
  return Object.fromEntries(
    pairs.map((entry) => {
      const eq = entry.indexOf("=");
      if (eq < 1) throw new Error(`--env entries must be K=V, got "${entry}"`);
      return [entry.slice(0, eq).trim(), entry.slice(eq + 1)];
    }),
  );
}

/** How the rig is set up: the runner's flags and any further service environment. */
export type RigOptions = RigSettings & { env?: Record<string, string> };

/** The processes under test, the origins to crawl and the pool's size. */
export interface Rig {
  service: BenchService;
  fixture: Fixture;
  /** One origin per host name on the fixture site (no added latency), e.g. http://load-0.crawlq.test:PORT. */
  siteOrigins: string[];
  /** The same host names on the fixture's gate site (requests held until released). */
  gateOrigins: string[];
  /** Tasks the pool runs at once (threads × concurrency per thread, as the service reports them). */
  inFlight: number;
  /** The service's environment as set by the rig (the database path left out). */
  env: Record<string, string>;
  /** Stops the service (its exit code or signal) and the fixture, and deletes the database. */
  close(): Promise<number | string>;
}

/** `count` host names under the reserved .test domain. */
export const hostNames = (count: number) => Array.from({ length: count }, (_, i) => `load-${i}.crawlq.test`);

/** The same origin under each host name: http://NAME:PORT. */
const originsOn = (origin: string, names: readonly string[]) => {
  const port = new URL(origin).port;
  return names.map((name) => `http://${name}:${port}`);
};

/** The service's environment for a rig: loopback, a free port, its own database, counters on. */
function rigEnv(options: RigOptions, names: readonly string[]): Record<string, string> {
  return {
    PORT: "0",
    HOST: "127.0.0.1",
    CRAWLQ_THREADS: String(options.threads),
    CRAWLQ_PER_HOST_CONCURRENCY: String(options.perHost),
    CRAWLQ_RESOLVE: names.map((name) => `${name}=127.0.0.1`).join(","),
    CRAWLQ_ALLOW_PRIVATE: "1",
    CRAWLQ_DEBUG_COUNTERS: "1",
    LOG_LEVEL: "warn",
    ...options.env,
    ...options.serviceEnv,
  };
}

/** Starts the fixture and the service; stops the fixture again if the service does not start. */
export async function startRig(options: RigOptions): Promise<Rig> {
  const names = hostNames(options.hosts);
  const env = rigEnv(options, names);
  const dbDir = mkdtempSync(path.join(os.tmpdir(), "crawlq-load-"));
  const fixture = await startFixture("child", [0]);
  let service: BenchService;
  try {
    service = await startBenchService({ ...env, DATABASE_URL: `file:${path.join(dbDir, "crawlq.db")}` }, [], options.serviceLog);
  } catch (error) {
    await fixture.close();
    rmSync(dbDir, { recursive: true, force: true });
    throw error;
  }
  const { pool } = await gqlData<{ pool: { threads: number; concurrencyPerThread: number } }>(
    service.url,
    "{ pool { threads concurrencyPerThread } }",
  );
  return {
    service,
    fixture,
    siteOrigins: originsOn(fixture.origins.sites[0]!, names),
    gateOrigins: originsOn(fixture.origins.gate, names),
    inFlight: pool.threads * pool.concurrencyPerThread,
    env,
    close: once(async () => {
      const exit = await service.stop(60_000);
      await fixture.close();
      rmSync(dbDir, { recursive: true, force: true });
      return exit;
    }),
  };
}

/** `fn` run on the first call only; later calls get the first call's promise. */
const once = <T>(fn: () => Promise<T>) => {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
};

/** The service's memory around a run: its peak (VmHWM), the largest sample taken, and RSS at the end, in MB. */
export interface RunMemory {
  peakMb: number;
  sampledPeakMb: number;
  endMb: number;
}

/**
 * Starts a rig, runs `run` on it, and stops the rig whatever happens, all under a watchdog that stops
 * this process after `deadlineMs`. Samples the service's RSS every 250 ms meanwhile.
 */
export async function withRig<T>(options: RigOptions, deadlineMs: number, run: (rig: Rig) => Promise<T>) {
  const rig = await startRig(options);
  const dog = watchdog(deadlineMs, () => rig.close());
  const rss = peakSampler(250, () => rig.service.memory().rssMb);
  try {
    const result = await run(rig);
    rss.stop();
    const { rssMb, peakMb } = rig.service.memory();
    const memory: RunMemory = { peakMb, sampledPeakMb: rss.peak, endMb: rssMb };
    return { result, memory, serviceExit: await rig.close() };
  } finally {
    rss.stop();
    await rig.close();
    dog.disarm();
  }
}

/** Task counts by status, from the service's `pool` query. */
export interface PoolCounts {
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  inFlight: number;
}

/** The service's `pool` counts now. */
export async function poolCounts(url: string): Promise<PoolCounts> {
  const { pool } = await gqlData<{ pool: PoolCounts }>(url, "{ pool { pending running succeeded failed cancelled inFlight } }");
  return pool;
}

import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseEnv } from "node:util";
import { z } from "zod";
import { parseAllowList } from "./crawler/address-guard.js";
import { isLoopbackHost, normaliseOrigin } from "./http/request-guard.js";
import { availableMemory } from "./pool/in-flight-controller.js";
import type { ApiLimits } from "./tasks/task-service.js";

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const flag = z.enum(["0", "1", "true", "false"]).transform((v) => v === "1" || v === "true");
const list = z.string().transform((v) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
);

/** Every setting, its env name and default, in one place (documented in the README). */
const envSchema = z.object({
  PORT: int(0, 65535).default(4000),
  HOST: z.string().min(1).default("127.0.0.1"),
  // file:… is SQLite (the embedded default, one process); postgres://… or postgresql://… is PostgreSQL
  // (one or several instances on one database).
  DATABASE_URL: z
    .string()
    .regex(/^(file:|postgres(ql)?:\/\/)/, "must start with file:, postgres:// or postgresql://")
    .default("file:./data/crawlq.db"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  CRAWLQ_THREADS: int(1, 256).default(os.availableParallelism()),
  CRAWLQ_CONCURRENCY_PER_THREAD: int(1, 1024).optional(),
  /** Set: a fixed in-flight limit. Unset: the limit adapts between CRAWLQ_MIN_IN_FLIGHT and CRAWLQ_MAX_IN_FLIGHT_CEILING. */
  CRAWLQ_MAX_IN_FLIGHT: int(1, 100_000).optional(),
  CRAWLQ_MIN_IN_FLIGHT: int(1, 100_000).optional(),
  CRAWLQ_MAX_IN_FLIGHT_CEILING: int(1, 100_000).default(512),
  /** Bytes the bodies in flight may take (in-flight × CRAWLQ_MAX_BODY_BYTES); default a quarter of the memory. */
  CRAWLQ_MEMORY_BUDGET_BYTES: int(1).optional(),
  CRAWLQ_ALLOW_PRIVATE: flag.default(false),
  CRAWLQ_ALLOW_LIST: list.default([]),
  CRAWLQ_RESOLVE: list.default([]),
  CRAWLQ_RESPECT_ROBOTS: flag.default(true),
  CRAWLQ_ALLOW_ROBOTS_OVERRIDE: flag.default(false),
  CRAWLQ_ROBOTS_TTL_MS: int(0).default(3_600_000),
  CRAWLQ_ROBOTS_RETRY_MS: int(0).default(60_000),
  CRAWLQ_USER_AGENT: z.string().min(1).default("crawlq/0.1 (+https://github.com/crawlq/crawlq)"),
  CRAWLQ_TASK_TIMEOUT_MS: int(1, 3_600_000).default(30_000),
  CRAWLQ_CONNECT_TIMEOUT_MS: int(1, 3_600_000).default(10_000),
  CRAWLQ_KEEP_ALIVE_MS: int(1, 600_000).default(1_000),
  CRAWLQ_MAX_RETRIES: int(0, 1000).default(2),
  CRAWLQ_MAX_RETRIES_CEILING: int(0, 1000).default(20),
  CRAWLQ_RETRY_BASE_MS: int(0).default(500),
  CRAWLQ_RETRY_MAX_MS: int(0).default(60_000),
  CRAWLQ_PER_HOST_CONCURRENCY: int(1, 10_000).default(4),
  CRAWLQ_HOST_DELAY_MS: int(0).default(0),
  CRAWLQ_MAX_BODY_BYTES: int(1).default(10 * 1024 * 1024),
  CRAWLQ_MAX_REDIRECTS: int(0, 50).default(10),
  CRAWLQ_MAX_URLS_PER_SUBMISSION: int(1, 1_000_000).default(10_000),
  CRAWLQ_MAX_URL_LENGTH: int(1).default(2048),
  CRAWLQ_DEFAULT_WAIT_MS: int(0).default(30_000),
  CRAWLQ_MAX_WAIT_MS: int(0, 3_600_000).default(300_000),
  CRAWLQ_MAX_BATCH_IDS: int(1, 1_000_000).default(10_000),
  CRAWLQ_MAX_WAITS_PER_KEY: int(1).default(2_000),
  CRAWLQ_MAX_WAITS: int(1).default(10_000),
  CRAWLQ_MAX_SUBSCRIPTIONS_PER_CONNECTION: int(1).default(100),
  CRAWLQ_MAX_SUBSCRIPTIONS_PER_KEY: int(1).default(1_000),
  CRAWLQ_MAX_SUBSCRIPTIONS: int(1).default(10_000),
  CRAWLQ_SUBSCRIBER_BUFFER: int(1).default(10_000),
  CRAWLQ_RATE_URLS_PER_MINUTE: int(0).default(0),
  CRAWLQ_RATE_OPERATIONS_PER_MINUTE: int(0).default(0),
  CRAWLQ_SHUTDOWN_GRACE_MS: int(0).default(10_000),
  /** How often an instance renews its lease (and requeues the tasks of instances whose lease expired). */
  CRAWLQ_HEARTBEAT_MS: int(100, 60_000).default(2_000),
  /** How long a lease lasts without renewal: then the instance counts as dead and its tasks run again. */
  CRAWLQ_LEASE_MS: int(300, 600_000).default(10_000),
  CRAWLQ_SQLITE_SYNCHRONOUS: z.enum(["FULL", "NORMAL"]).default("FULL"),
  CRAWLQ_ALLOW_OPEN: flag.default(false),
  CRAWLQ_CORS_ORIGINS: list.default([]),
  CRAWLQ_ALLOWED_HOSTS: list.default([]),
  // 2 MiB: a full submission of 10,000 URLs averaging 200 characters, JSON-encoded, fits.
  CRAWLQ_MAX_REQUEST_BODY_BYTES: int(1024, 1024 * 1024 * 1024).default(2 * 1024 * 1024),
  CRAWLQ_GRAPHQL_MAX_DEPTH: int(1, 1000).default(6),
  CRAWLQ_GRAPHQL_MAX_ALIASES: int(0, 100_000).default(15),
  CRAWLQ_GRAPHQL_MAX_DIRECTIVES: int(0, 100_000).default(20),
  CRAWLQ_GRAPHQL_MAX_TOKENS: int(100, 10_000_000).optional(),
  CRAWLQ_GRAPHQL_MAX_COST: int(1).default(50_000),
  CRAWLQ_GRAPHQL_MAX_VARIABLES: int(0, 100_000).default(100),
  CRAWLQ_METRICS: flag.default(true),
  /** Diagnostics for the benchmark: on SIGUSR2, print the store's statement counts on stdout. */
  CRAWLQ_DEBUG_COUNTERS: flag.default(false),
});

export type Config = ReturnType<typeof toConfig>;

/** The name of every setting (each is listed, with its default, in `.env.example`). */
export const SETTING_NAMES: readonly string[] = Object.keys(envSchema.shape);

export class ConfigError extends Error {
  readonly code = "CONFIG";
}

/**
 * The environment the service reads: the real one, plus the variables of `file` (`.env` in the working
 * directory, when there is one) that the real environment does not set. Nothing is written to process.env.
 */
export function environment(file = ".env", env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return env;
    throw new ConfigError(`Cannot read ${file}: ${(error as Error).message}`);
  }
  return { ...parseEnv(text), ...env };
}

/**
 * Reads and validates the environment once (by default the real one and `.env`: see {@link environment});
 * throws ConfigError naming every bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = environment()): Config {
  // Empty strings mean "unset", as shells and compose files often pass them.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`Invalid configuration: ${problems}`);
  }
  return toConfig(parsed.data);
}

function toConfig(e: z.infer<typeof envSchema>) {
  const inFlight = inFlightSettings(e);
  // The threads together must be able to run the most the limit allows (the adaptive ceiling, or the fixed
  // limit), or tasks would wait in the pool's queue and the limit would not decide.
  const mostInFlight = e.CRAWLQ_MAX_IN_FLIGHT ?? inFlight.ceiling;
  const concurrencyPerThread = e.CRAWLQ_CONCURRENCY_PER_THREAD ?? Math.max(32, Math.ceil(mostInFlight / e.CRAWLQ_THREADS));
  if (e.CRAWLQ_MAX_RETRIES > e.CRAWLQ_MAX_RETRIES_CEILING) {
    throw new ConfigError("Invalid configuration: CRAWLQ_MAX_RETRIES is above CRAWLQ_MAX_RETRIES_CEILING");
  }
  if (e.CRAWLQ_LEASE_MS < 2 * e.CRAWLQ_HEARTBEAT_MS) {
    throw new ConfigError("Invalid configuration: CRAWLQ_LEASE_MS must be at least twice CRAWLQ_HEARTBEAT_MS");
  }
  if (e.CRAWLQ_DEFAULT_WAIT_MS > e.CRAWLQ_MAX_WAIT_MS) {
    throw new ConfigError("Invalid configuration: CRAWLQ_DEFAULT_WAIT_MS is above CRAWLQ_MAX_WAIT_MS");
  }
  try {
    parseAllowList(e.CRAWLQ_ALLOW_LIST);
  } catch (error) {
    throw new ConfigError(`Invalid configuration: CRAWLQ_ALLOW_LIST: ${(error as Error).message}`);
  }
  const config = {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: absoluteFileUrl(e.DATABASE_URL),
    logLevel: e.LOG_LEVEL,
    sqliteSynchronous: e.CRAWLQ_SQLITE_SYNCHRONOUS,
    pool: {
      threads: e.CRAWLQ_THREADS,
      concurrencyPerThread,
      /** The most tasks the dispatcher keeps in the pool at once (the fixed limit, or the adaptive one's ceiling). */
      maxInFlight: e.CRAWLQ_MAX_IN_FLIGHT ?? inFlight.ceiling,
      inFlight: { ...inFlight, initial: inFlight.floor, maxBodyBytes: e.CRAWLQ_MAX_BODY_BYTES },
    },
    fetch: {
      timeoutMs: e.CRAWLQ_TASK_TIMEOUT_MS,
      connectTimeoutMs: e.CRAWLQ_CONNECT_TIMEOUT_MS,
      keepAliveMs: e.CRAWLQ_KEEP_ALIVE_MS,
      maxBodyBytes: e.CRAWLQ_MAX_BODY_BYTES,
      maxRedirects: e.CRAWLQ_MAX_REDIRECTS,
      userAgent: e.CRAWLQ_USER_AGENT,
      allowPrivate: e.CRAWLQ_ALLOW_PRIVATE,
      allowList: e.CRAWLQ_ALLOW_LIST,
      resolve: parseResolve(e.CRAWLQ_RESOLVE),
    },
    politeness: {
      perHostConcurrency: e.CRAWLQ_PER_HOST_CONCURRENCY,
      hostDelayMs: e.CRAWLQ_HOST_DELAY_MS,
      respectRobots: e.CRAWLQ_RESPECT_ROBOTS,
      allowRobotsOverride: e.CRAWLQ_ALLOW_ROBOTS_OVERRIDE,
      robotsTtlMs: e.CRAWLQ_ROBOTS_TTL_MS,
      /** How long an unreachable robots.txt (5xx, timeout) counts as disallow-all before it is asked again. */
      robotsRetryMs: e.CRAWLQ_ROBOTS_RETRY_MS,
    },
    retry: {
      maxRetries: e.CRAWLQ_MAX_RETRIES,
      baseDelayMs: e.CRAWLQ_RETRY_BASE_MS,
      maxDelayMs: e.CRAWLQ_RETRY_MAX_MS,
    },
    /** What the API accepts; the GraphQL descriptions print these. */
    limits: {
      maxUrlsPerSubmission: e.CRAWLQ_MAX_URLS_PER_SUBMISSION,
      maxUrlLength: e.CRAWLQ_MAX_URL_LENGTH,
      defaultWaitMs: e.CRAWLQ_DEFAULT_WAIT_MS,
      maxWaitMs: e.CRAWLQ_MAX_WAIT_MS,
      maxBatchIds: e.CRAWLQ_MAX_BATCH_IDS,
      maxRetriesCeiling: e.CRAWLQ_MAX_RETRIES_CEILING,
      maxHostDelayMs: 3_600_000,
      defaultPageSize: 100,
      maxPageSize: 1_000,
    } satisfies ApiLimits,
    /** What one caller (API key) and the whole service may hold open at once. */
    quotas: {
      waits: { perKey: e.CRAWLQ_MAX_WAITS_PER_KEY, total: e.CRAWLQ_MAX_WAITS },
      subscriptions: { perKey: e.CRAWLQ_MAX_SUBSCRIPTIONS_PER_KEY, total: e.CRAWLQ_MAX_SUBSCRIPTIONS },
      subscriptionsPerConnection: e.CRAWLQ_MAX_SUBSCRIPTIONS_PER_CONNECTION,
      /** Completions a taskDone subscriber may fall behind before its stream is ended (SLOW_SUBSCRIBER). */
      subscriberBuffer: e.CRAWLQ_SUBSCRIBER_BUFFER,
    },
    /** Per-key budgets per minute; 0: off. */
    rateLimits: { urlsPerMinute: e.CRAWLQ_RATE_URLS_PER_MINUTE, operationsPerMinute: e.CRAWLQ_RATE_OPERATIONS_PER_MINUTE },
    /** Who may reach the API over HTTP and WebSocket, and how much one request may carry. */
    http: {
      /** CRAWLQ_ALLOW_OPEN: listening beyond loopback with no API keys was asked for explicitly. */
      allowOpen: e.CRAWLQ_ALLOW_OPEN,
      /** Exact browser origins allowed to call the API (CORS and the Origin check); empty: none but its own. */
      corsOrigins: e.CRAWLQ_CORS_ORIGINS.map((origin) => corsOrigin(origin)),
      /** Host names accepted besides loopback ones while bound to loopback (e.g. a reverse proxy's). */
      allowedHosts: e.CRAWLQ_ALLOWED_HOSTS.map((host) => host.toLowerCase()),
      /** Largest HTTP request body, and largest WebSocket message. */
      maxRequestBodyBytes: e.CRAWLQ_MAX_REQUEST_BODY_BYTES,
    },
    /** What one GraphQL operation may contain (graphql-armor and our variables cap). */
    graphql: {
      maxDepth: e.CRAWLQ_GRAPHQL_MAX_DEPTH,
      maxAliases: e.CRAWLQ_GRAPHQL_MAX_ALIASES,
      maxDirectives: e.CRAWLQ_GRAPHQL_MAX_DIRECTIVES,
      // A full submitCrawl or batch(ids) written inline (one token per URL or id) must fit.
      maxTokens:
        e.CRAWLQ_GRAPHQL_MAX_TOKENS ?? Math.max(e.CRAWLQ_MAX_URLS_PER_SUBMISSION, e.CRAWLQ_MAX_BATCH_IDS) + 1_000,
      maxCost: e.CRAWLQ_GRAPHQL_MAX_COST,
      maxVariables: e.CRAWLQ_GRAPHQL_MAX_VARIABLES,
    },
    shutdownGraceMs: e.CRAWLQ_SHUTDOWN_GRACE_MS,
    /** Instance liveness on a shared database (see src/cluster). */
    lease: { heartbeatMs: e.CRAWLQ_HEARTBEAT_MS, leaseMs: e.CRAWLQ_LEASE_MS },
    /** CRAWLQ_METRICS: Prometheus metrics at /metrics. */
    metrics: e.CRAWLQ_METRICS,
    debugCounters: e.CRAWLQ_DEBUG_COUNTERS,
  };
  return config;
}

/**
 * The in-flight limit: fixed (CRAWLQ_MAX_IN_FLIGHT) or adaptive between a floor and a ceiling, the ceiling
 * never above what the memory budget holds of bodies of CRAWLQ_MAX_BODY_BYTES.
 */
function inFlightSettings(e: z.infer<typeof envSchema>) {
  const memoryBudgetBytes = e.CRAWLQ_MEMORY_BUDGET_BYTES ?? defaultMemoryBudget();
  const bodies = Math.floor(memoryBudgetBytes / e.CRAWLQ_MAX_BODY_BYTES);
  const adaptive = e.CRAWLQ_MAX_IN_FLIGHT === undefined;
  if (adaptive && bodies < 1) {
    throw new ConfigError("Invalid configuration: CRAWLQ_MEMORY_BUDGET_BYTES holds not even one body of CRAWLQ_MAX_BODY_BYTES");
  }
  // A fixed limit is the operator's word, but not past a budget the operator set too.
  if (!adaptive && e.CRAWLQ_MEMORY_BUDGET_BYTES !== undefined && e.CRAWLQ_MAX_IN_FLIGHT! > bodies) {
    throw new ConfigError(
      `Invalid configuration: CRAWLQ_MAX_IN_FLIGHT (${e.CRAWLQ_MAX_IN_FLIGHT}) × CRAWLQ_MAX_BODY_BYTES exceeds CRAWLQ_MEMORY_BUDGET_BYTES (${bodies} bodies fit)`,
    );
  }
  const ceiling = Math.max(1, Math.min(e.CRAWLQ_MAX_IN_FLIGHT_CEILING, bodies));
  if (e.CRAWLQ_MIN_IN_FLIGHT !== undefined && e.CRAWLQ_MIN_IN_FLIGHT > ceiling) {
    throw new ConfigError(
      `Invalid configuration: CRAWLQ_MIN_IN_FLIGHT (${e.CRAWLQ_MIN_IN_FLIGHT}) is above the ceiling (${ceiling}: ` +
        "CRAWLQ_MAX_IN_FLIGHT_CEILING, or CRAWLQ_MEMORY_BUDGET_BYTES / CRAWLQ_MAX_BODY_BYTES when smaller)",
    );
  }
  // The default floor is the fixed limit of before (threads × concurrency per thread): adapting only adds to it.
  const floor = Math.min(ceiling, e.CRAWLQ_MIN_IN_FLIGHT ?? e.CRAWLQ_THREADS * (e.CRAWLQ_CONCURRENCY_PER_THREAD ?? 32));
  return { adaptive, floor, ceiling, memoryBudgetBytes };
}

/** A quarter of the memory this process may use: its cgroup limit when it has one, else the machine's. */
function defaultMemoryBudget(): number {
  return Math.floor(availableMemory() / 4);
}

/**
 * Refuses a non-loopback HOST while anyone who reaches it could use the API (and, through the crawler,
 * whatever the machine can reach): allowed once API keys exist (every caller must then present one), or
 * when CRAWLQ_ALLOW_OPEN=1 says that is intended. Checked at start, once the database says whether keys exist.
 */
export function checkExposure(config: { host: string; http: { allowOpen: boolean } }, keysExist: boolean): void {
  if (isLoopbackHost(config.host) || config.http.allowOpen || keysExist) return;
  throw new ConfigError(
    `Invalid configuration: HOST=${config.host} is not a loopback address and the API has no keys, so anyone who ` +
      "can reach it could crawl through it; create a key (crawlq keys create NAME), bind to 127.0.0.1, or set " +
      "CRAWLQ_ALLOW_OPEN=1 to serve it open",
  );
}

function corsOrigin(entry: string): string {
  const origin = normaliseOrigin(entry);
  if (origin === null) {
    throw new ConfigError(
      `Invalid configuration: CRAWLQ_CORS_ORIGINS entry "${entry}" is not an exact http(s) origin such as https://app.example.com (no "*", no path)`,
    );
  }
  return origin;
}

/** Relative SQLite paths are taken from the working directory, once, so migrations and queries agree. */
/** A SQLite file URL made absolute (the working directory may change); any other URL as it is. */
function absoluteFileUrl(url: string): string {
  if (!url.startsWith("file:")) return url;
  const file = url.slice("file:".length);
  return file === ":memory:" || path.isAbsolute(file) ? url : `file:${path.resolve(file)}`;
}

/** "host=ip,host2=ip2" (curl --resolve style) → { host: ip }. */
function parseResolve(entries: string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const entry of entries) {
    const [host, ip] = entry.split("=");
    if (!host || !ip) throw new ConfigError(`Invalid configuration: CRAWLQ_RESOLVE entry "${entry}" is not host=ip`);
    map[host.toLowerCase()] = ip;
  }
  return map;
}

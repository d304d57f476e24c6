import { setImmediate as nextTurn } from "node:timers/promises";
import type { Config } from "./config.js";
import type { FetchPolicy, RedirectCheck } from "./crawler/types.js";
import { schema } from "./graphql/schema.js";
import { HttpServer } from "./http/server.js";
import { buildYoga } from "./http/yoga.js";
import type { Logger } from "./logger.js";
import { CrawlPool } from "./pool/crawl-pool.js";
import { Dispatcher } from "./pool/dispatcher.js";
import { HostGate } from "./pool/host-gate.js";
import { TaskEvents } from "./tasks/task-events.js";
import { TaskRepository } from "./tasks/task-repository.js";
import { TaskService } from "./tasks/task-service.js";

export interface App {
  /** Where the service listens, e.g. http://127.0.0.1:4000/graphql. */
  url: string;
  service: TaskService;
  /** Graceful shutdown: see CONTRACT.md "Lifetime". Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The composition root: database → events → pool → dispatcher → service → GraphQL → HTTP/WS.
 * Nothing else constructs these; everything else receives what it needs.
 */
export async function startApp(config: Config, logger: Logger): Promise<App> {
  const repository = await TaskRepository.open(config.databaseUrl, config.sqliteSynchronous);
  const events = new TaskEvents();
  const policy: FetchPolicy = { ...config.fetch };
  // The pool and the gate need each other (robots.txt is fetched in the pool; redirect hops are checked
  // against the gate's robots cache), hence the late-bound call.
  const checkRedirect: RedirectCheck = (url) => gate.checkRedirect(url);
  const pool = new CrawlPool({ ...config.pool, policy, checkRedirect });
  let dispatcher: Dispatcher | undefined;
  const gate: HostGate = new HostGate({
    perHostConcurrency: config.politeness.perHostConcurrency,
    robotsTtlMs: config.politeness.robotsTtlMs,
    robotsRetryMs: 60_000,
    userAgent: config.fetch.userAgent,
    fetchRobots: async (origin) => (await pool.robots(origin)).robots,
    onRobotsReady: () => dispatcher?.wake(),
  });
  dispatcher = new Dispatcher(
    { repository, events, pool, gate, logger },
    { maxInFlight: config.pool.maxInFlight, retry: config.retry },
  );
  const service = new TaskService({
    repository,
    events,
    limits: config.limits,
    defaults: {
      maxRetries: config.retry.maxRetries,
      perHostConcurrency: config.politeness.perHostConcurrency,
      hostDelayMs: config.politeness.hostDelayMs,
      respectRobots: config.politeness.respectRobots,
    },
    allowRobotsOverride: config.politeness.allowRobotsOverride,
    onSubmitted: () => dispatcher.wake(),
  });
  const yoga = buildYoga(
    schema,
    {
      service,
      pool: { threads: pool.threads, concurrencyPerThread: pool.concurrencyPerThread, inFlight: () => dispatcher.inFlight },
    },
    logger,
  );
  const server = new HttpServer(yoga);

  // Benchmark hook: `kill -USR2 PID` prints one "crawlq-counters {json}" line: statements per repository
  // method, and the main thread's memory (process.memoryUsage(), bytes).
  const printCounters = () =>
    process.stdout.write(`crawlq-counters ${JSON.stringify({ ...repository.counts(), memory: process.memoryUsage() })}\n`);
  if (config.debugCounters) process.on("SIGUSR2", printCounters);

  await dispatcher.start();
  const address = await server.listen(config.port, config.host);
  const hostForUrl = address.host.includes(":") ? `[${address.host}]` : address.host;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.off("SIGUSR2", printCounters);
      service.stopAccepting();
      await server.stopAccepting();
      await dispatcher.stop(config.shutdownGraceMs);
      service.closeFeeds();
      // Let completed streams write their last message before the sockets go.
      await nextTurn();
      await nextTurn();
      await server.close();
      await pool.destroy();
      await repository.close();
    })());

  return { url: `http://${hostForUrl}:${address.port}${yoga.graphqlEndpoint}`, service, stop };
}

import { randomUUID } from "node:crypto";
import { setImmediate as nextTurn } from "node:timers/promises";
import { checkExposure, type Config } from "./config.js";
import type { RedirectCheck } from "./crawler/types.js";
import { buildSchema } from "./graphql/schema.js";
import { HttpServer } from "./http/server.js";
import { buildYoga, type CrawlqYoga } from "./http/yoga.js";
import type { Logger } from "./logger.js";
import { CrawlPool } from "./pool/crawl-pool.js";
import { Dispatcher } from "./pool/dispatcher.js";
import { HostGate } from "./pool/host-gate.js";
import { fixedLimit, InFlightController } from "./pool/in-flight-controller.js";
import type { CompletionBus } from "./tasks/completion-bus.js";
import { backendFor, type Backends } from "./backends/index.js";
import { InstanceLease } from "./cluster/instance-lease.js";
import { Quota } from "./limits/quotas.js";
import { RateLimits } from "./limits/rate-limits.js";
import { Metrics } from "./observability/metrics.js";
import { observeTasks } from "./observability/task-observer.js";
import { TaskLifecycle } from "./tasks/task-lifecycle.js";
import { TaskService } from "./tasks/task-service.js";
import { ALL_TASKS, type TaskStore } from "./tasks/task-store.js";

export interface App {
  /** The GraphQL API; `yoga.fetch` serves it in-process, with no socket. */
  yoga: CrawlqYoga;
  service: TaskService;
  store: TaskStore;
  bus: CompletionBus;
  /** Listens on config.host:config.port; resolves with the GraphQL URL, e.g. http://127.0.0.1:4000/graphql. */
  listen(): Promise<string>;
  /** Graceful shutdown: see the README's "Lifecycle". Safe to call twice. */
  stop(): Promise<void>;
}

/** The Host and Origin checks' settings, shared by Yoga (HTTP, SSE) and the WebSocket server. */
function httpGuard(config: Config) {
  return { bindHost: config.host, corsOrigins: config.http.corsOrigins, allowedHosts: config.http.allowedHosts };
}

/** The app, listening: what `npm start` runs. */
export async function startApp(config: Config, logger: Logger, backends?: Backends): Promise<App & { url: string }> {
  const app = await createApp(config, logger, backends);
  return { ...app, url: await app.listen() };
}

/**
 * The composition root: backend (store, bus, keys, instances; see src/backends) → lifecycle → pool → host gate → dispatcher → service → GraphQL →
 * HTTP/WS. Nothing else constructs these; everything else receives what it needs. The dispatcher is
 * running when this resolves; the socket opens with `listen`.
 */
export async function createApp(config: Config, logger: Logger, backends?: Backends): Promise<App> {
  const { store, bus, keys, instances } = backends ?? (await backendFor(config).open(logger));
  checkExposure(config, await keys.anyActive());
  // CRAWLQ_MAX_IN_FLIGHT fixes the limit; otherwise it adapts to the machine and the network (see the README).
  const inFlight = config.pool.inFlight.adaptive
    ? new InFlightController({
        ...config.pool.inFlight,
        onChange: (limit, decision) => {
          const { reasons, lagMs, latencyMs, queuedMs } = decision;
          logger.debug({ limit, reasons, lagMs, latencyMs, queuedMs }, "in-flight limit moved");
          if (decision.change === "up") dispatcher?.wake();
        },
      })
    : fixedLimit(config.pool.maxInFlight);
  // Metrics (CRAWLQ_METRICS): the gauges are read when /metrics is scraped, from what is built below.
  const metrics: Metrics | null = config.metrics
    ? new Metrics({
        countByStatus: () => store.countByStatus(ALL_TASKS),
        inFlight: () => dispatcher?.inFlight ?? 0,
        inFlightLimit: () => inFlight.limit,
        capacity: config.pool.maxInFlight,
        threads: config.pool.threads,
        openStreams: (): number => service.openStreams,
        openWaits: (): number => service.openWaits,
      })
    : null;
  // This process's name on its claims: only it may end or requeue them. The observer gets metrics and
  // the debug line of each terminal transition.
  const owner = randomUUID();
  const lifecycle = new TaskLifecycle({ store, bus, owner, observer: observeTasks(logger, metrics) });
  // The pool and the gate need each other (robots.txt is fetched in the pool; redirect hops are checked
  // against the gate's robots cache), hence the late-bound call.
  const checkRedirect: RedirectCheck = (url) => gate.checkRedirect(url);
  const pool = new CrawlPool({
    ...config.pool,
    policy: { ...config.fetch },
    checkRedirect,
    onIdleThreadError: (err) => logger.error({ err }, "a pool thread died while idle; the pool replaces it"),
  });
  let dispatcher: Dispatcher | undefined;
  const gate: HostGate = new HostGate({
    perHostConcurrency: config.politeness.perHostConcurrency,
    robotsTtlMs: config.politeness.robotsTtlMs,
    robotsRetryMs: config.politeness.robotsRetryMs,
    // A 429/503 holds its host on the retry policy's scale: Retry-After up to its max delay, else from its base.
    backoffBaseMs: config.retry.baseDelayMs,
    backoffMaxMs: config.retry.maxDelayMs,
    userAgent: config.fetch.userAgent,
    fetchRobots: async (origin) => (await pool.robots(origin)).robots,
    onRobotsReady: () => dispatcher?.wake(),
  });
  dispatcher = new Dispatcher(
    { lifecycle, store, pool, gate, logger, inFlight },
    { maxInFlight: config.pool.maxInFlight, hostCap: config.politeness.perHostConcurrency, retry: config.retry },
  );
  // Registered before the first claim, so that no other instance takes this one's claims for orphans.
  const lease = new InstanceLease(
    {
      registry: instances,
      requeueOrphans: () => lifecycle.requeueOrphans(),
      inFlight: () => dispatcher.inFlight,
      onHeartbeat: () => dispatcher.wake(),
      logger,
    },
    { id: owner, threads: pool.threads, ...config.lease },
  );
  const rateLimits = new RateLimits(config.rateLimits);
  const service = new TaskService({
    store,
    lifecycle,
    bus,
    limits: config.limits,
    defaults: {
      maxRetries: config.retry.maxRetries,
      perHostConcurrency: config.politeness.perHostConcurrency,
      hostDelayMs: config.politeness.hostDelayMs,
      respectRobots: config.politeness.respectRobots,
    },
    allowRobotsOverride: config.politeness.allowRobotsOverride,
    onSubmitted: () => dispatcher.wake(),
    quotas: {
      waits: new Quota("TOO_MANY_WAITS", "blocking waits (result, batch, crawl)", config.quotas.waits),
      streams: new Quota("TOO_MANY_SUBSCRIPTIONS", "taskDone subscriptions", config.quotas.subscriptions),
      subscriberBuffer: config.quotas.subscriberBuffer,
    },
    rateLimits,
    logger,
  });
  const yoga = buildYoga(
    buildSchema(config.limits),
    {
      service,
      pool: {
        concurrencyPerThread: pool.concurrencyPerThread,
        inFlightLimit: () => dispatcher.inFlightLimit,
        instances: async () => {
          const live = await instances.live(Date.now());
          // This instance's load as of now, not as of its last heartbeat.
          return live.map((i) => (i.id === owner ? { ...i, inFlight: dispatcher.inFlight } : i));
        },
      },
    },
    { keys, rateLimits },
    logger,
    {
      ready: async () => {
        if (stopping) return "shutting down";
        if (!dispatcher.started) return "the pool has not started yet";
        await store.ping();
        return null;
      },
      guard: httpGuard(config),
      maxRequestBodyBytes: config.http.maxRequestBodyBytes,
      limits: config.graphql,
      metrics,
    },
  );
  const server = new HttpServer(yoga, {
    guard: httpGuard(config),
    keys,
    maxRequestBodyBytes: config.http.maxRequestBodyBytes,
    maxSubscriptionsPerConnection: config.quotas.subscriptionsPerConnection,
    logger,
  });

  // Benchmark hook: `kill -USR2 PID` prints one "crawlq-counters {json}" line: statements per store
  // operation, live bus subscriptions and open waits/streams (a leak shows in both), and the main
  // thread's memory (process.memoryUsage(), bytes).
  const printCounters = () => {
    const counters = { ...store.statementCounts(), subscriptions: bus.subscriptionCount(), openFeeds: service.openFeeds };
    process.stdout.write(`crawlq-counters ${JSON.stringify({ ...counters, memory: process.memoryUsage() })}\n`);
  };
  if (config.debugCounters) process.on("SIGUSR2", printCounters);

  await lease.start();
  // Another instance submitted, retried, requeued or finished something (a cluster-wide host slot is free).
  const stopWakingOnWork = bus.onWork(() => dispatcher.wake());
  await dispatcher.start();
  if (inFlight instanceof InFlightController) inFlight.start();
  const listen = async () => {
    const address = await server.listen(config.port, config.host);
    const hostForUrl = address.host.includes(":") ? `[${address.host}]` : address.host;
    return `http://${hostForUrl}:${address.port}${yoga.graphqlEndpoint}`;
  };

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.off("SIGUSR2", printCounters);
      service.stopAccepting();
      server.stopAccepting();
      // Drains this instance's own tasks and requeues the rest at once; then its lease goes.
      stopWakingOnWork();
      await dispatcher.stop(config.shutdownGraceMs);
      if (inFlight instanceof InFlightController) inFlight.stop();
      await lease.stop();
      service.closeFeeds();
      // Let completed streams write their last message before the sockets go.
      await nextTurn();
      await nextTurn();
      await server.close();
      await pool.destroy();
      await bus.close();
      await keys.close();
      await instances.close();
      await store.close();
    })());

  return { yoga, service, store, bus, listen, stop };
}

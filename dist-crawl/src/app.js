import { setImmediate as nextTurn } from "node:timers/promises";
import { schema } from "./graphql/schema.js";
import { HttpServer } from "./http/server.js";
import { buildYoga } from "./http/yoga.js";
import { CrawlPool } from "./pool/crawl-pool.js";
import { Dispatcher } from "./pool/dispatcher.js";
import { HostGate } from "./pool/host-gate.js";
import { TaskEvents } from "./tasks/task-events.js";
import { TaskRepository } from "./tasks/task-repository.js";
import { TaskService } from "./tasks/task-service.js";
/**
 * The composition root: database → events → pool → dispatcher → service → GraphQL → HTTP/WS.
 * Nothing else constructs these; everything else receives what it needs.
 */
export async function startApp(config, logger) {
    const repository = await TaskRepository.open(config.databaseUrl, config.sqliteSynchronous);
    const events = new TaskEvents();
    const policy = { ...config.fetch };
    const pool = new CrawlPool({ ...config.pool, policy });
    let dispatcher;
    const gate = new HostGate({
        perHostConcurrency: config.politeness.perHostConcurrency,
        robotsTtlMs: config.politeness.robotsTtlMs,
        robotsRetryMs: 60_000,
        userAgent: config.fetch.userAgent,
        fetchRobots: async (origin) => (await pool.robots(origin)).robots,
        onRobotsReady: () => dispatcher?.wake(),
    });
    dispatcher = new Dispatcher({ repository, events, pool, gate, logger }, { maxInFlight: config.pool.maxInFlight, retry: config.retry });
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
    const yoga = buildYoga(schema, {
        service,
        pool: { threads: pool.threads, concurrencyPerThread: pool.concurrencyPerThread, inFlight: () => dispatcher.inFlight },
    }, logger);
    const server = new HttpServer(yoga);
    await dispatcher.start();
    const address = await server.listen(config.port, config.host);
    const hostForUrl = address.host.includes(":") ? `[${address.host}]` : address.host;
    let stopping;
    const stop = () => (stopping ??= (async () => {
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
//# sourceMappingURL=app.js.map
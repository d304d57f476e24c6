/**
 * Fault injection for the worker-crash tests, loaded into the real service with
 * `node --require dist/test/helpers/worker-crash-preload.cjs dist/src/main.js` (see WORKER_CRASH_NODE_ARGS).
 * Node runs `--require` preloads in every worker thread too, so this reaches the pool threads without a
 * test hook in src/. It changes nothing unless a test asks for a crash:
 *
 * - a crawl request whose path contains `crash-worker-now` makes its pool thread throw an uncaught
 *   exception while that crawl is in flight (the request is never sent);
 * - a request for `/robots.txt` on a host whose name contains `crash-robots` does the same during a
 *   robots.txt fetch;
 * - SIGUSR2 to the service makes every pool thread throw an uncaught exception at once, whatever it is
 *   doing (idle, in the tests);
 *
 * Each pool thread prints `crawlq-test: worker <threadId> up` when it starts and
 * `crawlq-test: worker <threadId> crashing` just before it throws, so a test can wait for a crash and for
 * the replacement thread.
 */
const workerThreads = require("node:worker_threads") as typeof import("node:worker_threads");

const CHANNEL = "crawlq-test:crash-every-worker";

if (workerThreads.isMainThread) {
  const channel = new workerThreads.BroadcastChannel(CHANNEL);
  channel.unref();
  process.on("SIGUSR2", () => channel.postMessage("crash"));
} else {
  const crash = (why: string) => {
    process.stdout.write(`crawlq-test: worker ${workerThreads.threadId} crashing (${why})\n`);
    // Thrown from a callback of its own, so nothing in the crawler can catch it: an uncaught exception.
    setImmediate(() => {
      throw new Error(`crawlq-test: injected crash of worker ${workerThreads.threadId} (${why})`);
    });
  };

  const channel = new workerThreads.BroadcastChannel(CHANNEL);
  channel.unref();
  channel.onmessage = () => crash("SIGUSR2");

  const undici = require("undici") as typeof import("undici");
  const request = undici.Agent.prototype.request;
  // The crawler's only way out (src/crawler/http-client.ts: agent.request); the original runs unless asked.
  undici.Agent.prototype.request = function (this: InstanceType<typeof undici.Agent>, ...args: unknown[]) {
    const options = args[0] as { origin?: unknown; path?: unknown } | undefined;
    const path = typeof options?.path === "string" ? options.path : "";
    const origin = String(options?.origin ?? "");
    if (path.includes("crash-worker-now") || (path === "/robots.txt" && origin.includes("crash-robots"))) {
      crash(`${origin}${path}`);
      return new Promise(() => {}); // in flight until the thread dies
    }
    return (request as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof request;

  process.stdout.write(`crawlq-test: worker ${workerThreads.threadId} up\n`);
}

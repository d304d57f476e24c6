import { BroadcastChannel } from "node:worker_threads";
import { Piscina } from "piscina";
import type { CrawlFailure, CrawlOutcome, FetchPolicy, RedirectCheck, RobotsOutcome } from "../crawler/types.js";
import {
  DEPARTURE_CHANNEL,
  REDIRECT_CHECK_CHANNEL,
  type CrawlJob,
  type Departure,
  type RedirectAnswer,
  type RedirectQuestion,
  type WorkerJob,
  type WorkerSetup,
} from "../worker/protocol.js";

export interface CrawlPoolOptions {
  threads: number;
  concurrencyPerThread: number;
  policy: FetchPolicy;
  /** Answers a worker's "may I follow this redirect?" for crawls whose job respects robots.txt. */
  checkRedirect: RedirectCheck;
  /** A thread died with no job on it (piscina replaces it); a thread that dies mid-job fails that job instead. */
  onIdleThreadError?: (error: Error) => void;
}

// Ids of crawls that report their departure, unique across the process's pools (every pool hears every departure).
let departures = 0;

/**
 * The worker-thread pool. Each thread runs several crawls at once (piscina's concurrentTasksPerWorker)
 * because a crawl mostly waits on the network.
 */
export class CrawlPool {
  readonly threads: number;
  readonly concurrencyPerThread: number;
  readonly #piscina: Piscina<WorkerJob, unknown>;
  readonly #redirectChecks = new BroadcastChannel(REDIRECT_CHECK_CHANNEL);
  readonly #departures = new BroadcastChannel(DEPARTURE_CHANNEL);
  readonly #awaitingDeparture = new Map<number, (at: number) => void>();

  constructor(options: CrawlPoolOptions) {
    this.threads = options.threads;
    this.concurrencyPerThread = options.concurrencyPerThread;
    this.#piscina = new Piscina({
      filename: new URL("../worker/crawl.worker.js", import.meta.url).href,
      minThreads: options.threads,
      maxThreads: options.threads,
      concurrentTasksPerWorker: options.concurrencyPerThread,
      idleTimeout: Number.POSITIVE_INFINITY,
      // "sync" parks an idle thread in Atomics.wait, which would freeze the fetches it still has in flight.
      atomics: "disabled",
      // A crawl's garbage (body chunks, the decoded page, parser state) dies young. V8 lets an isolate's young
      // generation grow to 3 × 16 MB under a high allocation rate; 16 MB in all keeps each thread ~30 MB
      // smaller for the same throughput (see BENCHMARKS.md).
      resourceLimits: { maxYoungGenerationSizeMb: 16 },
      workerData: { policy: options.policy } satisfies WorkerSetup,
    });
    // Unheard, this event would be thrown on the main thread and end the whole service.
    this.#piscina.on("error", (error: Error) => options.onIdleThreadError?.(error));
    this.#redirectChecks.unref();
    this.#redirectChecks.onmessage = (event) => {
      const { id, url } = (event as { data: RedirectQuestion }).data;
      // Not a question: an answer another CrawlPool in this process posted (no one hears their own).
      if (url === undefined) return;
      void options
        .checkRedirect(url)
        .catch((error: unknown): CrawlFailure => ({ code: "INTERNAL", message: String(error), retryable: false }))
        .then((failure) => this.#redirectChecks.postMessage({ id, failure } satisfies RedirectAnswer));
    };
    this.#departures.unref();
    this.#departures.onmessage = (event) => {
      const { id, at } = (event as { data: Departure }).data;
      // Another pool's crawl (this process may run several pools) is not in this map.
      const report = this.#awaitingDeparture.get(id);
      if (report === undefined) return;
      this.#awaitingDeparture.delete(id);
      report(at);
    };
  }

  /**
   * Runs one crawl attempt in a worker; with `job.respectRobots`, each redirect hop is first put to `checkRedirect`.
   * With `onDeparture`, the worker reports when the first request left (a redirect hop is not another one), at
   * most once and only while the crawl runs.
   */
  crawl(job: CrawlJob, onDeparture?: (at: number) => void): Promise<{ worker: number; outcome: CrawlOutcome }> {
    if (onDeparture === undefined) {
      return this.#piscina.run({ kind: "crawl", ...job } satisfies WorkerJob) as Promise<{ worker: number; outcome: CrawlOutcome }>;
    }
    const departure = ++departures;
    this.#awaitingDeparture.set(departure, onDeparture);
    const run = this.#piscina.run({ kind: "crawl", ...job, departure } satisfies WorkerJob) as Promise<{ worker: number; outcome: CrawlOutcome }>;
    return run.finally(() => this.#awaitingDeparture.delete(departure));
  }

  /** Fetches one origin's robots.txt in a worker; the caller (the host gate) parses it. */
  robots(origin: string): Promise<{ worker: number; robots: RobotsOutcome }> {
    return this.#piscina.run({ kind: "robots", origin }) as Promise<{ worker: number; robots: RobotsOutcome }>;
  }

  /** Stops the threads; work still running (abandoned by the dispatcher at shutdown) is rejected. */
  destroy(): Promise<void> {
    this.#redirectChecks.close();
    this.#departures.close();
    return this.#piscina.destroy();
  }
}

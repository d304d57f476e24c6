import { Piscina } from "piscina";
import type { FetchPolicy, CrawlOutcome, RobotsOutcome } from "../crawler/types.js";
import type { WorkerJob, WorkerSetup } from "../worker/protocol.js";

export interface CrawlPoolOptions {
  threads: number;
  concurrencyPerThread: number;
  policy: FetchPolicy;
}

/**
 * The worker-thread pool. Each thread runs several crawls at once (piscina's concurrentTasksPerWorker)
 * because a crawl mostly waits on the network.
 */
export class CrawlPool {
  readonly threads: number;
  readonly concurrencyPerThread: number;
  readonly #piscina: Piscina<WorkerJob, unknown>;

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
      workerData: { policy: options.policy } satisfies WorkerSetup,
    });
  }

  crawl(url: string): Promise<{ worker: number; outcome: CrawlOutcome }> {
    return this.#piscina.run({ kind: "crawl", url }) as Promise<{ worker: number; outcome: CrawlOutcome }>;
  }

  robots(origin: string): Promise<{ worker: number; robots: RobotsOutcome }> {
    return this.#piscina.run({ kind: "robots", origin }) as Promise<{ worker: number; robots: RobotsOutcome }>;
  }

  /** Stops the threads; work still running (abandoned by the dispatcher at shutdown) is rejected. */
  destroy(): Promise<void> {
    return this.#piscina.destroy();
  }
}

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
      workerData: { policy: options.policy } satisfies WorkerSetup,
    });
  }

  crawl(url: string, signal?: AbortSignal): Promise<{ worker: number; outcome: CrawlOutcome }> {
    return this.#piscina.run({ kind: "crawl", url }, { signal }) as Promise<{ worker: number; outcome: CrawlOutcome }>;
  }

  robots(origin: string, signal?: AbortSignal): Promise<{ worker: number; robots: RobotsOutcome }> {
    return this.#piscina.run({ kind: "robots", origin }, { signal }) as Promise<{ worker: number; robots: RobotsOutcome }>;
  }

  /** Waits for running work, then stops the threads. */
  close(): Promise<void> {
    return this.#piscina.close();
  }

  /** Stops the threads now; running work is rejected. */
  destroy(): Promise<void> {
    return this.#piscina.destroy();
  }
}

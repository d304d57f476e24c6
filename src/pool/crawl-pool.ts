import { Piscina } from "piscina";
import { MessageChannel } from "node:worker_threads";
import type { CrawlFailure, CrawlOutcome, FetchPolicy, RedirectCheck, RobotsOutcome } from "../crawler/types.js";
import type { RedirectAnswer, RedirectQuestion, WorkerJob, WorkerSetup } from "../worker/protocol.js";

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
      // A crawl's garbage (body chunks, the decoded page, parser state) dies young. V8 lets an isolate's young
      // generation grow to 3 × 16 MB under a high allocation rate; 16 MB in all keeps each thread ~30 MB
      // smaller for the same throughput (see BENCHMARKS.md).
      resourceLimits: { maxYoungGenerationSizeMb: 16 },
      workerData: { policy: options.policy } satisfies WorkerSetup,
    });
  }

  /** Crawls one URL in a worker; `checkRedirect` (run here, on the main thread) may refuse each redirect hop. */
  async crawl(url: string, checkRedirect?: RedirectCheck): Promise<{ worker: number; outcome: CrawlOutcome }> {
    if (checkRedirect === undefined) {
      return (await this.#piscina.run({ kind: "crawl", url })) as { worker: number; outcome: CrawlOutcome };
    }
    const { port1, port2 } = new MessageChannel();
    port1.on("message", ({ url: hop }: RedirectQuestion) => {
      void checkRedirect(hop)
        .catch((error: unknown): CrawlFailure => ({ code: "INTERNAL", message: String(error), retryable: false }))
        .then((failure) => port1.postMessage({ failure } satisfies RedirectAnswer));
    });
    try {
      const job: WorkerJob = { kind: "crawl", url, redirects: port2 };
      return (await this.#piscina.run(job, { transferList: [port2] })) as { worker: number; outcome: CrawlOutcome };
    } finally {
      port1.close();
    }
  }

  robots(origin: string): Promise<{ worker: number; robots: RobotsOutcome }> {
    return this.#piscina.run({ kind: "robots", origin }) as Promise<{ worker: number; robots: RobotsOutcome }>;
  }

  /** Stops the threads; work still running (abandoned by the dispatcher at shutdown) is rejected. */
  destroy(): Promise<void> {
    return this.#piscina.destroy();
  }
}

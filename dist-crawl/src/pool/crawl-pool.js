import { Piscina } from "piscina";
/**
 * The worker-thread pool. Each thread runs several crawls at once (piscina's concurrentTasksPerWorker)
 * because a crawl mostly waits on the network.
 */
export class CrawlPool {
    threads;
    concurrencyPerThread;
    #piscina;
    constructor(options) {
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
            workerData: { policy: options.policy },
        });
    }
    crawl(url) {
        return this.#piscina.run({ kind: "crawl", url });
    }
    robots(origin) {
        return this.#piscina.run({ kind: "robots", origin });
    }
    /** Stops the threads; work still running (abandoned by the dispatcher at shutdown) is rejected. */
    destroy() {
        return this.#piscina.destroy();
    }
}
//# sourceMappingURL=crawl-pool.js.map
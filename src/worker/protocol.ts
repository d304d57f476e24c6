import type { CrawlFailure, CrawlOutcome, FetchPolicy, RobotsOutcome } from "../crawler/types.js";

/** Sent once to every pool thread as piscina's workerData. */
export interface WorkerSetup {
  policy: FetchPolicy;
}

/** One unit of pool work; plain data (structured-cloned to the thread). */
export type WorkerJob = { kind: "crawl"; url: string; checkRedirects: boolean } | { kind: "robots"; origin: string };

/**
 * The BroadcastChannel on which a worker asks the main thread, before following a redirect, whether the
 * hop may be fetched (robots.txt lives on the main thread). One channel for the pool's lifetime: a
 * channel per crawl costs more than the rare redirects it serves.
 */
export const REDIRECT_CHECK_CHANNEL = "crawlq:redirect-check";

/** Worker → main thread; `id` is unique across the pool's threads. */
export interface RedirectQuestion {
  id: string;
  url: string;
}

/** Main thread → workers: null lets the hop go ahead. */
export interface RedirectAnswer {
  id: string;
  failure: CrawlFailure | null;
}

/** What comes back, with the id of the thread that did it (Task.worker). */
export type WorkerReply<J extends WorkerJob = WorkerJob> = { worker: number } & (J extends { kind: "crawl" }
  ? { outcome: CrawlOutcome }
  : { robots: RobotsOutcome });

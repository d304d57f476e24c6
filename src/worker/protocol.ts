import type { MessagePort } from "node:worker_threads";
import type { CrawlFailure, CrawlOutcome, FetchPolicy, RobotsOutcome } from "../crawler/types.js";

/** Sent once to every pool thread as piscina's workerData. */
export interface WorkerSetup {
  policy: FetchPolicy;
}

/**
 * One unit of pool work; plain data (structured-cloned to the thread). A crawl may carry a port (transferred)
 * on which the worker asks, before following a redirect, whether the hop may be fetched.
 */
export type WorkerJob = { kind: "crawl"; url: string; redirects?: MessagePort } | { kind: "robots"; origin: string };

/** Worker → main thread on a crawl's `redirects` port. */
export interface RedirectQuestion {
  url: string;
}

/** Main thread → worker: null lets the hop go ahead. */
export interface RedirectAnswer {
  failure: CrawlFailure | null;
}

/** What comes back, with the id of the thread that did it (Task.worker). */
export type WorkerReply<J extends WorkerJob = WorkerJob> = { worker: number } & (J extends { kind: "crawl" }
  ? { outcome: CrawlOutcome }
  : { robots: RobotsOutcome });

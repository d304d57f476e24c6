import type { CrawlOutcome, FetchPolicy, RobotsOutcome } from "../crawler/types.js";

/** Sent once to every pool thread as piscina's workerData. */
export interface WorkerSetup {
  policy: FetchPolicy;
}

/** One unit of pool work; plain data (structured-cloned to the thread). */
export type WorkerJob = { kind: "crawl"; url: string } | { kind: "robots"; origin: string };

/** What comes back, with the id of the thread that did it (Task.worker). */
export type WorkerReply<J extends WorkerJob = WorkerJob> = { worker: number } & (J extends { kind: "crawl" }
  ? { outcome: CrawlOutcome }
  : { robots: RobotsOutcome });

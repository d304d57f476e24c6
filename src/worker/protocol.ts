import type { CrawlFailure, CrawlOutcome, FetchPolicy, RobotsOutcome } from "../crawler/types.js";

/** Sent once to every pool thread as piscina's workerData. */
export interface WorkerSetup {
  policy: FetchPolicy;
}

/**
 * One crawl attempt as the worker needs it, built by the dispatcher from a claimed task and its
 * submission's options: the only value that travels from the task to the thread.
 */
export interface CrawlJob {
  taskId: number;
  url: string;
  /** robots.txt rules this crawl: each redirect hop is put to the main thread's host gate first. */
  respectRobots: boolean;
  /**
   * Its host's delay between requests (0: none): the thread keeps the origin's idle connection at least that
   * long, so that the next request, a delay later, reuses it.
   */
  hostDelayMs: number;
}

/**
 * One unit of pool work; plain data (structured-cloned to the thread). A crawl with `departure` (its host has
 * a delay) posts a {@link Departure} under that id once its first request has left.
 */
export type WorkerJob = ({ kind: "crawl"; departure?: number } & CrawlJob) | { kind: "robots"; origin: string };

/**
 * The BroadcastChannel on which a worker tells the main thread when the first request of a crawl whose host
 * has a delay has left: the host gate counts the delay from then. Only such crawls post (one message each).
 */
export const DEPARTURE_CHANNEL = "crawlq:departure";

/** Worker → main thread: the crawl of job `id` (WorkerJob's `departure`, unique in the process) wrote its request at `at` (Date.now()). */
export interface Departure {
  id: number;
  at: number;
}

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

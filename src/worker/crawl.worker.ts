/**
 * The piscina worker: fetch (I/O) and parse (CPU) one URL, or fetch one origin's robots.txt, off the
 * server's event loop.
 * It takes plain data and returns plain data; it touches neither the database nor the events.
 */
import { BroadcastChannel, threadId, workerData } from "node:worker_threads";
import { boundCrawlOutcome, boundRobotsOutcome, crawlPage, fetchRobots, keepConnectionsFor, type RedirectCheck } from "../crawler/index.js";
import type { CrawlFailure } from "../crawler/types.js";
import {
  DEPARTURE_CHANNEL,
  REDIRECT_CHECK_CHANNEL,
  type Departure,
  type RedirectAnswer,
  type RedirectQuestion,
  type WorkerJob,
  type WorkerReply,
  type WorkerSetup,
} from "./protocol.js";

const { policy } = workerData as WorkerSetup;

const redirectChecks = new BroadcastChannel(REDIRECT_CHECK_CHANNEL);
const awaitingAnswer = new Map<string, (failure: CrawlFailure | null) => void>();
let questions = 0;
redirectChecks.unref();
redirectChecks.onmessage = (event) => {
  // Every thread hears every message: only answers to this thread's own questions count.
  const { id, failure } = (event as { data: RedirectAnswer }).data;
  const resolve = awaitingAnswer.get(id);
  if (resolve === undefined || failure === undefined) return;
  awaitingAnswer.delete(id);
  resolve(failure);
};

// Only posted on (a crawl whose host has a delay); a thread hears no departures.
const departures = new BroadcastChannel(DEPARTURE_CHANNEL);
departures.unref();

/** Asks the main thread's host gate whether a redirect hop may be fetched. */
const askMainThread: RedirectCheck = (url) =>
  new Promise((resolve) => {
    const id = `${threadId}:${++questions}`;
    awaitingAnswer.set(id, resolve);
    redirectChecks.postMessage({ id, url } satisfies RedirectQuestion);
  });

/**
 * Runs one job. Every string a page could make long is cut to its bound (crawler/limits.ts) here, where the
 * reply is built, so whatever a site sends, the main thread receives no more than that (and a robots.txt
 * body of at most ROBOTS_MAX_BYTES, capped as it is read).
 */
export default async function run(job: WorkerJob): Promise<WorkerReply> {
  if (job.kind === "robots") return { worker: threadId, robots: boundRobotsOutcome(await fetchRobots(job.origin, policy)) };
  const { departure } = job;
  if (job.hostDelayMs > 0) keepConnectionsFor(job.url, job.hostDelayMs, policy);
  // Date.now() is taken once the request is written: the main thread's gate counts its host's delay from then.
  const onDeparture = departure === undefined ? undefined : () => departures.postMessage({ id: departure, at: Date.now() } satisfies Departure);
  const outcome = await crawlPage(job.url, policy, job.respectRobots ? askMainThread : undefined, onDeparture);
  return { worker: threadId, outcome: boundCrawlOutcome(outcome) };
}

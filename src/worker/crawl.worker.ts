/**
 * The piscina worker: fetch (I/O) and parse (CPU) one URL, off the server's event loop.
 * It takes plain data and returns plain data; it touches neither the database nor the events.
 */
import { threadId, workerData, type MessagePort } from "node:worker_threads";
import { crawlPage, fetchRobots, type RedirectCheck } from "../crawler/index.js";
import type { RedirectAnswer, RedirectQuestion, WorkerJob, WorkerReply, WorkerSetup } from "./protocol.js";

const { policy } = workerData as WorkerSetup;

export default async function run(job: WorkerJob): Promise<WorkerReply> {
  if (job.kind === "robots") return { worker: threadId, robots: await fetchRobots(job.origin, policy) };
  const port = job.redirects;
  try {
    return { worker: threadId, outcome: await crawlPage(job.url, policy, port && askOver(port)) };
  } finally {
    port?.close();
  }
}

/** Asks the main thread about each redirect hop (one question at a time: hops are followed in order). */
function askOver(port: MessagePort): RedirectCheck {
  return (url) =>
    new Promise((resolve) => {
      port.once("message", (answer: RedirectAnswer) => resolve(answer.failure));
      port.postMessage({ url } satisfies RedirectQuestion);
    });
}

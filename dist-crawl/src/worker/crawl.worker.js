/**
 * The piscina worker: fetch (I/O) and parse (CPU) one URL, off the server's event loop.
 * It takes plain data and returns plain data; it touches neither the database nor the events.
 */
import { threadId, workerData } from "node:worker_threads";
import { crawlPage, fetchRobots } from "../crawler/index.js";
const { policy } = workerData;
export default async function run(job) {
    if (job.kind === "robots")
        return { worker: threadId, robots: await fetchRobots(job.origin, policy) };
    return { worker: threadId, outcome: await crawlPage(job.url, policy) };
}
//# sourceMappingURL=crawl.worker.js.map
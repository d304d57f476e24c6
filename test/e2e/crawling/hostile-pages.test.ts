/**
 * A page must not be able to kill the service. The real service runs as `npm start` runs it (main heap
 * capped at 256 MB) with its default concurrency, and crawls 64 pages at once whose `<title>` is ten
 * million characters each: every one must come back with its title cut to MAX_TITLE_LENGTH, and the
 * process must stay alive, answer, and keep its memory within a bound.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_TITLE_LENGTH } from "../../../src/crawler/limits.js";
import { HUGE_TITLE_LENGTH, hugeTitle, startFixtureSite, type FixtureSite } from "../../../testkit/fixture-site.js";
import { gqlData } from "../../../testkit/graphql-client.js";
import { Batch } from "../../../src/client/operations.js";
import type { BatchQuery } from "../../../src/client/generated/graphql.js";
import { SUBMIT } from "../../helpers/queries.js";
import { startService, tempDatabase, type RunningService } from "../../helpers/service.js";

const HOSTS = 16;
/** The default CRAWLQ_PER_HOST_CONCURRENCY: 16 hosts × 4 = 64 pages in flight at once. */
const PER_HOST = 4;
const PAGES = HOSTS * PER_HOST;
/**
 * The most the whole process (main thread and both pool threads) may hold, in MiB. Measured on a 2-core
 * machine: ~175 MiB idle (node, Prisma, two threads), 575–645 MiB peak (VmHWM) over this test. Bodies are
 * kept whole until parsed (up to CRAWLQ_MAX_BODY_BYTES each) and a thread parses one page at a time, so
 * the peak is mostly bodies waiting for their parse: at most 64 × 10 MB = 610 MiB on top of the idle
 * 175, plus Buffer.concat's copy of a body as its read ends, the decoded text of the page each thread is
 * parsing, and garbage not yet collected.
 * 1,024 MiB leaves room for that and for a slow machine. Before titles were bounded, the process passed
 * 1,000 MiB and aborted (main-thread heap over its 256 MB cap).
 */
const MAX_RSS_MIB = 1024;

const hostNames = Array.from({ length: HOSTS }, (_, i) => `hostile-${i}.example`);

let site: FixtureSite;
let service: RunningService;
const db = tempDatabase();

beforeAll(async () => {
  site = await startFixtureSite();
  service = await startService(
    db.url,
    {
      CRAWLQ_RESOLVE: hostNames.map((name) => `${name}=127.0.0.1`).join(","),
      // The service's defaults, which the test defaults lower: 2 threads × 32 = 64 tasks in flight.
      CRAWLQ_CONCURRENCY_PER_THREAD: "32",
      CRAWLQ_TASK_TIMEOUT_MS: "30000",
      CRAWLQ_MAX_RETRIES: "0",
    },
    { nodeArgs: ["--max-old-space-size=256"] },
  );
});

afterAll(async () => {
  await service?.stop();
  await site?.close();
  db.remove();
});

/** VmRSS (now) and VmHWM (peak so far) of a process from /proc, in MiB; null off Linux or once it has exited. */
function memoryOf(pid: number): { rss: number; peak: number } | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  const rss = kib("VmRSS");
  const peak = kib("VmHWM");
  // An exited process not yet reaped keeps a status file without the memory lines.
  return Number.isNaN(rss) || Number.isNaN(peak) ? null : { rss: rss / 1024, peak: peak / 1024 };
}

describe(`${PAGES} pages with a ${HUGE_TITLE_LENGTH.toLocaleString("en")}-character <title>, at once`, () => {
  it("all succeed with the title cut to MAX_TITLE_LENGTH, and the service lives on within its memory bound", { timeout: 180_000 }, async () => {
    const pid = service.process.pid!;
    let maxSampledRss = 0;
    const sampler = setInterval(() => {
      const memory = memoryOf(pid);
      if (memory !== null) maxSampledRss = Math.max(maxSampledRss, memory.rss);
    }, 20);

    const died = service.exited.then((code) => {
      throw new Error(`the service exited (${code}) while crawling; last output:\n${service.output().slice(-2000)}`);
    });
    died.catch(() => {}); // it only matters in the race below; afterAll's stop() settles it too
    let done: BatchQuery["batch"];
    let memory: ReturnType<typeof memoryOf> = null;
    try {
      const urls = Array.from({ length: PAGES }, (_, n) => `http://${hostNames[n % HOSTS]}:${site.port}/huge-title?n=${n}`);
      const crawled = (async () => {
        const { submitCrawl } = await gqlData(service.url, SUBMIT, { urls });
        return (await gqlData(service.url, Batch, { submissionId: submitCrawl.id, timeoutMs: 150_000 })).batch;
      })();
      crawled.catch(() => {}); // once the service has died, the race below reports that instead
      done = await Promise.race([crawled, died]);
    } finally {
      clearInterval(sampler);
      memory = memoryOf(pid);
      console.log(
        `hostile pages: ${site.requestCount("/huge-title")} requests, at most ${site.maxConcurrent()} in flight at the site; ` +
          `service RSS: sampled max ${maxSampledRss.toFixed(0)} MiB, VmHWM ${memory?.peak.toFixed(0) ?? "(exited)"} MiB`,
      );
    }

    expect(done.complete).toBe(true);
    expect(done.tasks).toHaveLength(PAGES);
    const expectedTitle = hugeTitle(MAX_TITLE_LENGTH);
    for (const task of done.tasks) {
      expect(task.status, `${task.url}: ${JSON.stringify(task.error)}`).toBe("SUCCEEDED");
      expect(task.result!.title).toHaveLength(MAX_TITLE_LENGTH);
      expect(task.result!.title).toBe(expectedTitle);
      expect(task.result!.linkCount).toBe(1);
    }

    // Alive, and still answering.
    expect(service.process.exitCode).toBeNull();
    const { pool } = await gqlData<{ pool: { running: number; succeeded: number } }>(
      service.url,
      "{ pool { running succeeded } }",
    );
    expect(pool).toEqual({ running: 0, succeeded: PAGES });

    if (process.platform === "linux") {
      expect(memory).not.toBeNull();
      expect(maxSampledRss).toBeGreaterThan(0);
      expect(maxSampledRss, "sampled VmRSS, MiB").toBeLessThan(MAX_RSS_MIB);
      expect(memory!.peak, "VmHWM, MiB").toBeLessThan(MAX_RSS_MIB);
    }
  });
});

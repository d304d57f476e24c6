/**
 * Per-host politeness, end to end, measured at the fixture: requests in flight per host (the fixture
 * counts concurrent requests per Host header), the minimum delay between request starts on one host,
 * and that a big backlog on one host does not starve another.
 *
 * "127.0.0.1:PORT" and "localhost:PORT" are two hosts to both the service and the fixture;
 * CRAWLQ_RESOLVE pins `localhost` to 127.0.0.1 so no system resolver is involved.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFixtureSite, type FixtureSite } from "../../../testkit/fixture-site.js";
import { TEST_BACKENDS } from "../../helpers/backends.js";
import { expectSpacing, onHost, requestsTo, startCrawlq, type Crawlq } from "./harness.js";

const PER_HOST = 3;
const COMMON_ENV = {
  CRAWLQ_RESPECT_ROBOTS: "0",
  CRAWLQ_RESOLVE: "localhost=127.0.0.1",
  CRAWLQ_PER_HOST_CONCURRENCY: String(PER_HOST),
  // 2 threads × 8: the pool could run 16 at once, so any per-host cap seen below is the gate's.
  CRAWLQ_THREADS: "2",
  CRAWLQ_CONCURRENCY_PER_THREAD: "8",
};

describe.each(TEST_BACKENDS)("$name", (backend) => {
  let site: FixtureSite;

  beforeAll(async () => {
    site = await startFixtureSite();
  });

  afterAll(async () => {
    await site?.close();
  });

  const slow = (ms: number, n: number, tag: string) => site.url(`/slow?ms=${ms}&n=${n}&t=${tag}`);

  describe(`CRAWLQ_PER_HOST_CONCURRENCY=${PER_HOST}`, () => {
    let crawlq: Crawlq;

    beforeAll(async () => {
      crawlq = await startCrawlq(COMMON_ENV, backend);
    });

    afterAll(async () => {
      await crawlq?.stop();
    });

    beforeEach(() => site.resetStats());

    it(`keeps at most ${PER_HOST} requests in flight on one host, and reaches ${PER_HOST} when there is enough work`, async () => {
      const urls = Array.from({ length: 40 }, (_, n) => slow(100, n, "limit"));
      const tasks = await crawlq.crawl(urls);
      expect(tasks.every((t) => t.status === "SUCCEEDED")).toBe(true);
      expect(site.maxConcurrent(site.host)).toBe(PER_HOST);
    });

    it("holds the limit across submissions: two submissions on one host share it", async () => {
      const [a, b] = await Promise.all([
        crawlq.submit(Array.from({ length: 15 }, (_, n) => slow(80, n, "sub-a"))),
        crawlq.submit(Array.from({ length: 15 }, (_, n) => slow(80, n, "sub-b"))),
      ]);
      await crawlq.finished([...a, ...b]);
      expect(site.maxConcurrent(site.host)).toBe(PER_HOST);
    });

    it("applies a submission's lower perHostConcurrency", async () => {
      const tasks = await crawlq.crawl(
        Array.from({ length: 8 }, (_, n) => slow(60, n, "one")),
        { perHostConcurrency: 1 },
      );
      expect(tasks.every((t) => t.status === "SUCCEEDED")).toBe(true);
      expect(site.requestCount("/slow")).toBe(8);
      expect(site.maxConcurrent(site.host)).toBe(1);
    });

    it("refuses a perHostConcurrency above the operator's limit, or below 1, with BAD_USER_INPUT", async () => {
      for (const perHostConcurrency of [PER_HOST + 1, 0]) {
        const response = await crawlq.submitRaw([site.url("/page/1")], { perHostConcurrency });
        expect(response.errors?.[0]?.extensions?.code, JSON.stringify(response.errors)).toBe("BAD_USER_INPUT");
      }
      expect(site.requestLog).toEqual([]);
    });

    it("spaces request starts on one host by a submission's hostDelayMs", async () => {
      const tasks = await crawlq.crawl(
        Array.from({ length: 6 }, (_, n) => site.url(`/page/${n}?t=sub-delay`)),
        { hostDelayMs: 120 },
      );
      expect(tasks.every((t) => t.status === "SUCCEEDED")).toBe(true);
      expect(site.requestLog).toHaveLength(6);
      expectSpacing(site.requestLog, 120);
    });

    it("does not starve a second host behind a big backlog on the first", async () => {
      // 300 on host A first (≥ 300 × 30 ms / 3 = 3 s of work), then 10 on host B.
      const backlog = await crawlq.submit(Array.from({ length: 300 }, (_, n) => slow(30, n, "backlog")));
      const other = await crawlq.submit(Array.from({ length: 10 }, (_, n) => onHost(site, "localhost", `/slow?ms=30&n=${n}`)));

      const otherDone = await crawlq.finished(other);
      expect(otherDone.every((t) => t.status === "SUCCEEDED")).toBe(true);
      const backlogThen = await crawlq.batch(backlog, 0);
      // B needs ~4 rounds of 30 ms; A needs 100. B must be through long before A's backlog drains.
      expect(backlogThen.notDone, `host A done when host B finished: ${backlogThen.done}`).toBeGreaterThan(200);
      expect(site.maxConcurrent(`localhost:${site.port}`)).toBe(PER_HOST);

      const backlogDone = await crawlq.finished(backlog, 30_000);
      expect(backlogDone.every((t) => t.status === "SUCCEEDED")).toBe(true);
      expect(site.maxConcurrent(site.host)).toBe(PER_HOST);
      const lastOther = Math.max(...otherDone.map((t) => Date.parse(t.finishedAt!)));
      const lastBacklog = Math.max(...backlogDone.map((t) => Date.parse(t.finishedAt!)));
      expect(lastBacklog - lastOther).toBeGreaterThan(1000);
      expect(requestsTo(site, "localhost")).toHaveLength(10);
    });
  });

  describe("CRAWLQ_HOST_DELAY_MS=100", () => {
    let crawlq: Crawlq;

    beforeAll(async () => {
      // One thread, warmed up: a thread's very first request (undici compiling its HTTP parser) leaves tens of
      // ms late, which would bunch it with the next one at the fixture.
      crawlq = await startCrawlq({ ...COMMON_ENV, CRAWLQ_HOST_DELAY_MS: "100", CRAWLQ_THREADS: "1", CRAWLQ_CONCURRENCY_PER_THREAD: "16" }, backend);
      await crawlq.crawl([site.url("/page/1?t=warm-up")]);
      site.resetStats();
    });

    afterAll(async () => {
      await crawlq?.stop();
    });

    it("spaces request starts on one host by at least the operator's delay, while other hosts go on", async () => {
      const a = Array.from({ length: 6 }, (_, n) => site.url(`/page/${n}?t=host-delay`));
      const b = Array.from({ length: 6 }, (_, n) => onHost(site, "localhost", `/page/${n}?t=host-delay`));
      const tasks = await crawlq.crawl([...a, ...b]);
      expect(tasks.every((t) => t.status === "SUCCEEDED")).toBe(true);
      for (const host of ["127.0.0.1", "localhost"]) {
        expect(requestsTo(site, host)).toHaveLength(6);
        expectSpacing(requestsTo(site, host), 100, host);
      }
      // The delay is per host: the two hosts' requests interleave rather than queue behind each other.
      const all = [...site.requestLog].sort((x, y) => x.start - y.start);
      const firstB = all.findIndex((r) => r.host.startsWith("localhost:"));
      expect(firstB).toBeLessThan(3);
    });

    it("lets a submission ask for a longer delay, not a shorter one", async () => {
      site.resetStats();
      const shorter = await crawlq.crawl(
        Array.from({ length: 4 }, (_, n) => site.url(`/page/${n}?t=shorter`)),
        { hostDelayMs: 0 },
      );
      expect(shorter.every((t) => t.status === "SUCCEEDED")).toBe(true);
      expectSpacing(site.requestLog, 100);

      site.resetStats();
      const longer = await crawlq.crawl(
        Array.from({ length: 4 }, (_, n) => site.url(`/page/${n}?t=longer`)),
        { hostDelayMs: 200 },
      );
      expect(longer.every((t) => t.status === "SUCCEEDED")).toBe(true);
      expectSpacing(site.requestLog, 200);
    });
  });
});

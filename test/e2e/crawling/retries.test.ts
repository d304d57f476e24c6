/**
 * Retries, end to end: what is retried and what is final, how many attempts, the backoff between them
 * (measured at the fixture from request arrival times), Retry-After, and that a retried task is never
 * reported done before its last attempt.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFixtureSite, type FixtureSite } from "../../../testkit/fixture-site.js";
import { TEST_BACKENDS } from "../../helpers/backends.js";
import { subscribeWs, wsClient } from "../../../testkit/graphql-client.js";
import { TaskDone } from "../../../src/client/operations.js";
import { closedPort, onHost, startCrawlq, startGaps, type Crawlq } from "./harness.js";

const BASE_MS = 200;
// Dispatch, database writes and the loopback round trip between "retry is due" and the request arriving.
const OVERHEAD_MS = 300;
// Timers and two clocks (the service's Date.now, the fixture's performance.now) may disagree by a little.
const CLOCK_SLACK_MS = 5;

describe.each(TEST_BACKENDS)("$name", (backend) => {
  let site: FixtureSite;
  let crawlq: Crawlq;

  beforeAll(async () => {
    site = await startFixtureSite();
    crawlq = await startCrawlq({
      CRAWLQ_RESPECT_ROBOTS: "0",
      CRAWLQ_RETRY_BASE_MS: String(BASE_MS),
      CRAWLQ_MAX_RETRIES: "2",
      // "localhost:PORT" is a second host on the fixture (a 429/503 holds back its own host only).
      CRAWLQ_RESOLVE: "localhost=127.0.0.1",
      // One task in the pool at a time: a task waiting out its backoff must not hold that one slot.
      CRAWLQ_MAX_IN_FLIGHT: "1",
    }, backend);
  });

  afterAll(async () => {
    await crawlq?.stop();
    await site?.close();
  });

  const requestsFor = (path: string) => site.requestLog.filter((r) => r.path === path);

  describe("retries", () => {
    it("retries a 503 and succeeds on the 3rd attempt: SUCCEEDED, attempts 3, no error", async () => {
      const path = "/flaky/third?fail=2";
      const [task] = await crawlq.crawl([site.url(path)]);
      expect(task).toMatchObject({ status: "SUCCEEDED", attempts: 3, error: null });
      expect(task!.result).toMatchObject({ httpStatus: 200, title: "Flaky third" });
      expect(requestsFor(path)).toHaveLength(3);
    });

    it("gives up after maxRetries (default 2): FAILED, attempts 3, the last status in the message", async () => {
      const path = "/flaky/never?fail=100";
      const [task] = await crawlq.crawl([site.url(path)]);
      expect(task).toMatchObject({ status: "FAILED", attempts: 3, result: null });
      expect(task!.error).toEqual({ code: "HTTP_STATUS", message: expect.stringContaining("503") });
      expect(requestsFor(path)).toHaveLength(3);
    });

    it.each([0, 1, 3])("takes maxRetries %i from the submission's CrawlOptions", async (maxRetries) => {
      const path = `/flaky/per-submission-${maxRetries}?fail=100`;
      const [task] = await crawlq.crawl([site.url(path)], { maxRetries });
      expect(task).toMatchObject({ status: "FAILED", attempts: maxRetries + 1 });
      expect(requestsFor(path)).toHaveLength(maxRetries + 1);
    });

    it("refuses a maxRetries outside 0..20 with BAD_USER_INPUT", async () => {
      for (const maxRetries of [-1, 21]) {
        const response = await crawlq.submitRaw([site.url("/page/1")], { maxRetries });
        expect(response.errors?.[0]?.extensions?.code, JSON.stringify(response.errors)).toBe("BAD_USER_INPUT");
      }
    });

    it("retries 408, 429 and 5xx, and treats other 4xx as final", async () => {
      const retried = [408, 429, 500, 502, 503, 504];
      const final = [400, 401, 403, 404, 410];
      const codes = [...retried, ...final];
      const tasks = await crawlq.crawl(codes.map((code) => site.url(`/status/${code}?case=classes`)), { maxRetries: 1 });
      for (const [i, code] of codes.entries()) {
        const task = tasks[i]!;
        expect(task, `status ${code}`).toMatchObject({ status: "FAILED", attempts: retried.includes(code) ? 2 : 1 });
        expect(task.error?.code).toBe("HTTP_STATUS");
        expect(task.error?.message).toContain(String(code));
      }
    });

    it("retries a refused connection (CONNECT)", async () => {
      const [task] = await crawlq.crawl([`http://127.0.0.1:${await closedPort()}/page/1`], { maxRetries: 1 });
      expect(task).toMatchObject({ status: "FAILED", attempts: 2 });
      expect(task!.error?.code).toBe("CONNECT");
    });

    it("backs off exponentially with jitter: each gap within [base·2^(k-1)/2, base·2^(k-1)]", async () => {
      const path = "/flaky/backoff?fail=3";
      const [task] = await crawlq.crawl([site.url(path)], { maxRetries: 3 });
      expect(task).toMatchObject({ status: "SUCCEEDED", attempts: 4 });
      const gaps = startGaps(requestsFor(path));
      expect(gaps).toHaveLength(3);
      gaps.forEach((gap, k) => {
        const full = BASE_MS * 2 ** k;
        expect(gap, `gap ${k + 1} of ${gaps.map(Math.round).join(", ")} ms`).toBeGreaterThanOrEqual(full / 2 - CLOCK_SLACK_MS);
        expect(gap, `gap ${k + 1} of ${gaps.map(Math.round).join(", ")} ms`).toBeLessThanOrEqual(full + OVERHEAD_MS);
      });
      // The gaps grow (the third is drawn from [2·base, 4·base], the first from [base/2, base]).
      expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
    });

    it("honours Retry-After (seconds) when it asks for longer than the backoff", async () => {
      const path = "/flaky/retry-after?fail=1&status=429&retry-after=1";
      const [task] = await crawlq.crawl([site.url(path)]);
      expect(task).toMatchObject({ status: "SUCCEEDED", attempts: 2 });
      const [gap] = startGaps(requestsFor(path));
      expect(gap).toBeGreaterThanOrEqual(1000 - CLOCK_SLACK_MS);
    });

    it("gives up at once when Retry-After asks for longer than CRAWLQ_RETRY_MAX_MS (never retries early)", async () => {
      const path = "/flaky/retry-after-long?fail=1&status=503&retry-after=3600";
      const [task] = await crawlq.crawl([site.url(path)]);
      expect(task).toMatchObject({ status: "FAILED", attempts: 1 });
      expect(task!.error?.message).toBe("HTTP 503 Service Unavailable (Retry-After: 3600 s)");
      expect(requestsFor(path)).toHaveLength(1);
    });

    it("does not hold the pool slot during the backoff: other work runs meanwhile", async () => {
      // With one slot, the page can only finish before the retry if the waiting task gave the slot back. It is on
      // another host: the Retry-After holds back the host that sent it (the next test).
      const flaky = "/flaky/slot?fail=1&retry-after=1";
      const other = onHost(site, "localhost", "/page/7?case=slot");
      // The page is submitted once the first attempt is under way (the host may still be held by the test before).
      const [waiting] = await crawlq.submit([site.url(flaky)]);
      await site.waitForRequests(flaky, 1);
      const tasks = await crawlq.finished([waiting!, ...(await crawlq.submit([other]))]);
      expect(tasks.map((t) => t.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
      const [first, retry] = requestsFor(flaky);
      const [page] = requestsFor("/page/7?case=slot");
      expect(page!.start).toBeGreaterThan(first!.start);
      expect(page!.start).toBeLessThan(retry!.start);
      expect(Date.parse(tasks[1]!.finishedAt!)).toBeLessThan(Date.parse(tasks[0]!.finishedAt!));
    });

    it("holds back the host that sent Retry-After (its other pages wait it out) while another host runs", async () => {
      const flaky = "/flaky/host-hold?fail=1&status=429&retry-after=1";
      const sameHost = site.url("/page/8?case=host-hold");
      const otherHost = onHost(site, "localhost", "/page/9?case=host-hold");
      const [first] = await crawlq.submit([site.url(flaky)]);
      await site.waitForRequests(flaky, 1);
      const rest = await crawlq.submit([sameHost, otherHost]);
      const tasks = await crawlq.finished([first!, ...rest]);
      expect(tasks.map((t) => t.status)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
      const [throttled] = requestsFor(flaky);
      const [same] = requestsFor("/page/8?case=host-hold");
      const [other] = requestsFor("/page/9?case=host-hold");
      // The other host at once; this host's next request not before the second the server asked for.
      expect(other!.start - throttled!.start).toBeLessThan(1000 - CLOCK_SLACK_MS);
      expect(same!.start - throttled!.start).toBeGreaterThanOrEqual(1000 - CLOCK_SLACK_MS);
    });

    it("never reports a retried task done early: PENDING/RUNNING between attempts, one taskDone event at the end", async () => {
      const path = "/flaky/watched?fail=2";
      const [submitted] = await crawlq.submit([site.url(path)]);
      const client = wsClient(crawlq.url);
      try {
        const stream = subscribeWs(client, TaskDone, "taskDone", { ids: [submitted!.id] });
        for (const attemptsSeen of [1, 2]) {
          // The task cannot finish before its 3rd request, so whatever is observed now is "between attempts".
          await site.waitForRequests(path, attemptsSeen);
          const now = await crawlq.task(submitted!.id);
          expect(now.done, `after request ${attemptsSeen}`).toBe(false);
          expect(["PENDING", "RUNNING"]).toContain(now.status);
          expect(now.result).toBeNull();
          expect(now.error).toBeNull();
          expect(stream.items).toEqual([]);
        }
        await stream.completed;
        expect(stream.errors).toEqual([]);
        expect(stream.items).toHaveLength(1);
        expect(stream.items[0]).toMatchObject({ id: submitted!.id, status: "SUCCEEDED", attempts: 3, error: null });
        expect(requestsFor(path)).toHaveLength(3);
      } finally {
        await client.dispose();
      }
    });
  });
});

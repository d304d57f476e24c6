/**
 * The SSRF guard, end to end: a service started WITHOUT CRAWLQ_ALLOW_PRIVATE refuses every loopback
 * target, however it is spelt or reached, and the fixture never sees a request for a refused hop.
 *
 * Safety: every URL here names a loopback address, `localhost`, or an `.example` name that
 * CRAWLQ_RESOLVE maps to a loopback address, so even a broken guard could only reach this machine.
 * Other ranges (10/8, 169.254.169.254, ...) are covered at the guard's decision function
 * (test/unit/crawler/address-guard.test.ts), never with packets.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedPage, startFixtureSite, type FixtureSite } from "../../../testkit/fixture-site.js";
import { hostOf, onHost, requestsTo, startCrawlq, type Crawlq } from "./harness.js";

const ALLOWED = "allowed.example";

let site: FixtureSite;

beforeAll(async () => {
  site = await startFixtureSite();
});

afterAll(async () => {
  await site?.close();
});

describe.each([
  { robots: "on", CRAWLQ_RESPECT_ROBOTS: "1" },
  { robots: "off", CRAWLQ_RESPECT_ROBOTS: "0" },
])("default guard (CRAWLQ_ALLOW_PRIVATE unset), robots.txt $robots", ({ CRAWLQ_RESPECT_ROBOTS }) => {
  let crawlq: Crawlq;

  beforeAll(async () => {
    crawlq = await startCrawlq({
      CRAWLQ_ALLOW_PRIVATE: "0",
      CRAWLQ_RESPECT_ROBOTS,
      // Names stand in for public ones; each resolves to loopback, only `allowed.example` is allow-listed.
      CRAWLQ_RESOLVE: `evil.example=127.0.0.1,evil6.example=::1,localhost=127.0.0.1,${ALLOWED}=127.0.0.1`,
      CRAWLQ_ALLOW_LIST: ALLOWED,
      CRAWLQ_MAX_RETRIES: "2",
    });
    site.resetStats();
  });

  afterAll(async () => {
    await crawlq?.stop();
  });

  const directTargets = () => {
    const port = site.port;
    const targets: Array<[string, string]> = [
      ["127.0.0.1", `http://127.0.0.1:${port}/page/1`],
      ["127.0.0.1 in short form (127.1)", `http://127.1:${port}/page/1`],
      ["127.0.0.1 as one decimal number", `http://2130706433:${port}/page/1`],
      ["0.0.0.0 (reaches this host)", `http://0.0.0.0:${port}/page/1`],
      ["IPv4-mapped ::ffff:127.0.0.1", `http://[::ffff:127.0.0.1]:${port}/page/1`],
      ["localhost", `http://localhost:${port}/page/1`],
      ["a public-looking name resolving to 127.0.0.1", `http://evil.example:${port}/page/1`],
      ["a public-looking name resolving to ::1", `http://evil6.example:${port}/page/1`],
    ];
    if (site.ipv6Origin !== null) targets.push(["[::1]", `${site.ipv6Origin}/page/1`]);
    return targets;
  };

  it("refuses every loopback target with BLOCKED_ADDRESS before any request, counting no attempt, and sends it nothing", async () => {
    const targets = directTargets();
    const done = await crawlq.crawl(targets.map(([, url]) => url));
    for (const [i, [label]] of targets.entries()) {
      const task = done[i]!;
      expect(task, label).toMatchObject({ status: "FAILED", attempts: 0, result: null });
      expect(task.error?.code, `${label}: ${task.error?.message}`).toBe("BLOCKED_ADDRESS");
      expect(task.error?.message, label).toMatch(/blocked address/);
    }
    // Not even robots.txt: the fixture heard nothing at all.
    expect(site.requestLog).toEqual([]);
  });

  it("crawls an allow-listed name normally (the fixture is reachable, so the refusals above are the guard's)", async () => {
    const [task] = await crawlq.crawl([onHost(site, ALLOWED, "/page/4")]);
    expect(task).toMatchObject({ status: "SUCCEEDED", error: null });
    expect(task!.result).toMatchObject({ httpStatus: 200, title: expectedPage(4).title });
    expect(requestsTo(site, ALLOWED, "/page/4")).toHaveLength(1);
  });

  it.each([
    ["127.0.0.1", (port: number) => `http://127.0.0.1:${port}/page/9`],
    ["localhost", (port: number) => `http://localhost:${port}/page/9`],
    ["a name resolving to 127.0.0.1", (port: number) => `http://evil.example:${port}/page/9`],
  ])("refuses a redirect from an allowed host to %s, without requesting the blocked hop", async (_label, target) => {
    site.resetStats();
    const hop = `/redirect-to?url=${encodeURIComponent(target(site.port))}`;
    const [task] = await crawlq.crawl([onHost(site, ALLOWED, hop)]);
    expect(task).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(task!.error?.code, task!.error?.message).toBe("BLOCKED_ADDRESS");
    // The allowed hop was fetched; the loopback one never was.
    expect(requestsTo(site, ALLOWED, "/redirect-to")).toHaveLength(1);
    expect(site.requestCount("/page/9")).toBe(0);
    expect(site.requestLog.map(hostOf).every((h) => h === ALLOWED)).toBe(true);
  });
});

/**
 * robots.txt, end to end. Each case uses its own host name (CRAWLQ_RESOLVE maps every one to the loopback
 * fixture), so each has its own origin, its own robots.txt (the fixture serves one per host name) and its
 * own cache entry in the service.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedPage, startFixtureSite, type FixtureSite } from "../../../testkit/fixture-site.js";
import { TEST_BACKENDS } from "../../helpers/backends.js";
import { closedPort, expectSpacing, onHost, requestsTo, startCrawlq, type Crawlq } from "./harness.js";

const NAMES = [
  "deny.example",
  "agent.example",
  "once.example",
  "delay-sqlite.example",
  "delay-postgresql.example",
  "missing.example",
  "down.example",
  "refused.example",
  "override.example",
  "off.example",
  "hop.example",
  "hop-target.example",
];

const ENV = {
  CRAWLQ_RESOLVE: [...NAMES.map((name) => `${name}=127.0.0.1`), "nowhere.example=no-such-address"].join(","),
  CRAWLQ_MAX_RETRIES: "0",
};

let site: FixtureSite;
const url = (hostname: string, path: string) => onHost(site, hostname, path);
const robotsRequests = (hostname: string) => requestsTo(site, hostname, "/robots.txt");

beforeAll(async () => {
  site = await startFixtureSite();
});

afterAll(async () => {
  await site?.close();
});

// On both backends: the claim counts the delay too (PostgreSQL in its statement), the gate from departures.
describe.each(TEST_BACKENDS)("Crawl-delay ($name)", (backend) => {
  const host = `delay-${backend.name.toLowerCase()}.example`;
  let crawlq: Crawlq;

  beforeAll(async () => {
    crawlq = await startCrawlq(ENV, backend);
  });

  afterAll(async () => {
    await crawlq?.stop();
  });

  it("honours Crawl-delay between requests leaving for the host", async () => {
    site.setRobots("User-agent: *\nCrawl-delay: 0.15\n", 200, host);
    const done = await crawlq.crawl(Array.from({ length: 5 }, (_, n) => url(host, `/page/${n}`)));
    expect(done.every((t) => t.status === "SUCCEEDED")).toBe(true);
    const pages = requestsTo(site, host, "/page/");
    expect(pages).toHaveLength(5);
    expectSpacing(pages, 150, host);
  });
});

describe("robots.txt respected (the default)", () => {
  let crawlq: Crawlq;

  beforeAll(async () => {
    crawlq = await startCrawlq(ENV);
  });

  afterAll(async () => {
    await crawlq?.stop();
  });

  it("fails a disallowed URL with ROBOTS_DISALLOWED without fetching it, and crawls an allowed one", async () => {
    site.setRobots("User-agent: *\nDisallow: /private\n", 200, "deny.example");
    const [denied, allowed] = await crawlq.crawl([url("deny.example", "/private/1"), url("deny.example", "/page/5")]);
    expect(denied).toMatchObject({ status: "FAILED", attempts: 0, result: null });
    expect(denied!.error?.code).toBe("ROBOTS_DISALLOWED");
    expect(denied!.error?.message).toContain("robots.txt");
    expect(requestsTo(site, "deny.example", "/private")).toEqual([]);
    expect(allowed).toMatchObject({ status: "SUCCEEDED" });
    expect(allowed!.result?.title).toBe(expectedPage(5).title);
  });

  it("applies the group for crawlq's product token from the default User-Agent", async () => {
    site.setRobots("User-agent: crawlq\nDisallow: /page/1\n\nUser-agent: *\nDisallow: /page/2\n", 200, "agent.example");
    const [one, two] = await crawlq.crawl([url("agent.example", "/page/1"), url("agent.example", "/page/2")]);
    expect(one!.error?.code).toBe("ROBOTS_DISALLOWED");
    expect(two).toMatchObject({ status: "SUCCEEDED" });
  });

  it("fetches robots.txt once per origin for many tasks", async () => {
    site.setRobots("User-agent: *\nDisallow: /nothing-here\n", 200, "once.example");
    const first = await crawlq.submit(Array.from({ length: 20 }, (_, n) => url("once.example", `/page/${n}`)));
    const second = await crawlq.submit(Array.from({ length: 5 }, (_, n) => url("once.example", `/page/${n + 20}`)));
    const done = await crawlq.finished([...first, ...second]);
    expect(done.every((t) => t.status === "SUCCEEDED")).toBe(true);
    expect(robotsRequests("once.example")).toHaveLength(1);
    expect(requestsTo(site, "once.example", "/page/")).toHaveLength(25);
  });

  it("treats a 404 robots.txt as allow-all", async () => {
    site.setRobots(null, 404, "missing.example");
    const done = await crawlq.crawl([url("missing.example", "/page/1"), url("missing.example", "/private/x")]);
    expect(done[0]).toMatchObject({ status: "SUCCEEDED" });
    // Allowed by robots, so fetched: the fixture's own 404 is what fails it.
    expect(done[1]!.error?.code).toBe("HTTP_STATUS");
    expect(robotsRequests("missing.example")).toHaveLength(1);
  });

  it("treats a 503 robots.txt as disallow-all: tasks fail ROBOTS_DISALLOWED, saying why, and no page is fetched", async () => {
    site.setRobots("User-agent: *\nDisallow:\n", 503, "down.example");
    const done = await crawlq.crawl([url("down.example", "/page/1"), url("down.example", "/page/2")]);
    for (const task of done) {
      expect(task).toMatchObject({ status: "FAILED", attempts: 0 });
      expect(task.error?.code).toBe("ROBOTS_DISALLOWED");
      expect(task.error?.message).toMatch(/unreachable.*503/);
    }
    expect(requestsTo(site, "down.example", "/page/")).toEqual([]);
    // The outcome is cached too (for 60 s): a later task does not ask again.
    const [later] = await crawlq.crawl([url("down.example", "/page/3")]);
    expect(later!.error?.code).toBe("ROBOTS_DISALLOWED");
    expect(robotsRequests("down.example")).toHaveLength(1);
  });

  it("checks every redirect hop against its origin's robots.txt, without fetching a disallowed one", async () => {
    site.setRobots("User-agent: *\nDisallow: /private\n", 200, "hop.example");
    site.setRobots("User-agent: *\nDisallow: /secret\n", 200, "hop-target.example");
    const to = (target: string) => url("hop.example", `/redirect-to?url=${encodeURIComponent(target)}`);
    const [sameOrigin, otherOrigin, allowedHop] = await crawlq.crawl([
      to("/private/1"),
      to(url("hop-target.example", "/secret/1")),
      to(url("hop-target.example", "/page/6")),
    ]);
    for (const [task, hop] of [
      [sameOrigin, url("hop.example", "/private/1")],
      [otherOrigin, url("hop-target.example", "/secret/1")],
    ] as const) {
      expect(task).toMatchObject({ status: "FAILED", attempts: 1 });
      expect(task!.error?.code).toBe("ROBOTS_DISALLOWED");
      expect(task!.error?.message).toContain(`redirect to ${hop}`);
    }
    expect(requestsTo(site, "hop.example", "/private")).toEqual([]);
    expect(requestsTo(site, "hop-target.example", "/secret")).toEqual([]);
    expect(allowedHop).toMatchObject({ status: "SUCCEEDED" });
    expect(allowedHop!.result).toMatchObject({ finalUrl: url("hop-target.example", "/page/6"), title: expectedPage(6).title });
    expect(robotsRequests("hop-target.example")).toHaveLength(1);
  });

  it("lets the fetch fail with its own code when the host cannot be reached at all (connect, DNS)", async () => {
    const [refused, nowhere] = await crawlq.crawl([
      `http://refused.example:${await closedPort()}/page/1`,
      `http://nowhere.example:${site.port}/page/1`,
    ]);
    expect(refused).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(refused!.error?.code).toBe("CONNECT");
    expect(nowhere).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(nowhere!.error?.code).toBe("DNS");
  });

  it("refuses a submission's respectRobots: false (BAD_USER_INPUT) and stores nothing", async () => {
    const before = site.requestLog.length;
    const response = await crawlq.submitRaw([url("override.example", "/page/1")], { respectRobots: false });
    expect(response.data).toBeNull();
    expect(response.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(response.errors?.[0]?.message).toMatch(/robots/);
    expect(site.requestLog.length).toBe(before);
  });
});

describe("CRAWLQ_ALLOW_ROBOTS_OVERRIDE=1", () => {
  let crawlq: Crawlq;

  beforeAll(async () => {
    crawlq = await startCrawlq({ ...ENV, CRAWLQ_ALLOW_ROBOTS_OVERRIDE: "1" });
  });

  afterAll(async () => {
    await crawlq?.stop();
  });

  it("lets a submission turn robots.txt off, while other submissions still respect it", async () => {
    site.setRobots("User-agent: *\nDisallow: /\n", 200, "override.example");
    const [ignoring] = await crawlq.crawl([url("override.example", "/page/1")], { respectRobots: false });
    expect(ignoring).toMatchObject({ status: "SUCCEEDED" });
    expect(robotsRequests("override.example")).toEqual([]);

    const [respecting] = await crawlq.crawl([url("override.example", "/page/2")]);
    expect(respecting!.error?.code).toBe("ROBOTS_DISALLOWED");
    expect(requestsTo(site, "override.example", "/page/2")).toEqual([]);
  });
});

describe("CRAWLQ_RESPECT_ROBOTS=0", () => {
  let crawlq: Crawlq;

  beforeAll(async () => {
    crawlq = await startCrawlq({ ...ENV, CRAWLQ_RESPECT_ROBOTS: "0" });
  });

  afterAll(async () => {
    await crawlq?.stop();
  });

  it("crawls disallowed URLs without ever asking for robots.txt", async () => {
    site.setRobots("User-agent: *\nDisallow: /\nCrawl-delay: 30\n", 200, "off.example");
    const done = await crawlq.crawl([url("off.example", "/page/1"), url("off.example", "/page/2")]);
    expect(done.map((t) => t.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expect(robotsRequests("off.example")).toEqual([]);
  });
});

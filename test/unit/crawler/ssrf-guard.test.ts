import { createServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { closeHttpAgents, crawlPage, fetchRobots, type CrawlOutcome } from "../../../src/crawler/index.js";
import { expectedPage, startFixtureSite, type FixtureSite } from "../../../testkit/fixture-site.js";
import { testPolicy } from "./policy.js";

// Safety net: no name but localhost ever reaches a real resolver (a packet off this machine).
vi.mock("node:dns", async (importOriginal) =>
  (await import("./dns-safety-net.js")).localhostOnlyDns(await importOriginal<typeof import("node:dns")>()),
);

let site: FixtureSite;
const guarded = testPolicy({ allowPrivate: false });

beforeAll(async () => {
  site = await startFixtureSite();
});

afterAll(async () => {
  await closeHttpAgents();
  await site.close();
});

beforeEach(() => site.resetStats());

function expectBlocked(outcome: CrawlOutcome): void {
  expect(outcome.ok).toBe(false);
  if (!outcome.ok) expect(outcome.error).toMatchObject({ code: "BLOCKED_ADDRESS", retryable: false });
}

describe("the SSRF guard, end to end against the loopback fixture", () => {
  it("is proven reachable with allowPrivate, so the refusals below are the guard's", async () => {
    const outcome = await crawlPage(site.url("/page/3"), testPolicy());
    expect(outcome).toMatchObject({ ok: true, page: expectedPage(3) });
  });

  it("refuses http://127.0.0.1 by default", async () => {
    const outcome = await crawlPage(site.url("/page/1"), guarded);
    expectBlocked(outcome);
    if (!outcome.ok) expect(outcome.error.message).toContain("127.0.0.1 (loopback)");
    expect(site.requestCount()).toBe(0);
  });

  it("refuses http://[::1]", async (context) => {
    if (site.ipv6Origin === null) context.skip();
    const url = `${site.ipv6Origin}/page/1`;
    expect(await crawlPage(url, testPolicy())).toMatchObject({ ok: true });
    site.resetStats();
    expectBlocked(await crawlPage(url, guarded));
    expect(site.requestCount()).toBe(0);
  });

  it("refuses an IPv4-mapped IPv6 literal", async () => {
    expectBlocked(await crawlPage(`http://[::ffff:127.0.0.1]:${site.port}/page/1`, guarded));
    expect(site.requestCount()).toBe(0);
  });

  it("refuses http://localhost, even after an allowed policy left a keep-alive connection open", async () => {
    const url = `http://localhost:${site.port}/page/1`;
    expect(await crawlPage(url, testPolicy())).toMatchObject({ ok: true });
    site.resetStats();
    const outcome = await crawlPage(url, guarded);
    expectBlocked(outcome);
    if (!outcome.ok) expect(outcome.error.message).toContain("for localhost");
    expect(site.requestCount()).toBe(0);
  });

  it("refuses a name that resolves to 127.0.0.1", async () => {
    const policy = testPolicy({ allowPrivate: false, resolve: { "www.public-site.test": "127.0.0.1" } });
    expectBlocked(await crawlPage(`http://www.public-site.test:${site.port}/page/1`, policy));
    expect(site.requestCount()).toBe(0);
  });

  it("connects to an allow-listed host name at the address the resolve override gives", async () => {
    const policy = testPolicy({ allowPrivate: false, allowList: ["Fixture.Test"], resolve: { "fixture.test": "127.0.0.1" } });
    const outcome = await crawlPage(`http://fixture.test:${site.port}/page/2`, policy);
    expect(outcome).toMatchObject({ ok: true, page: { finalUrl: `http://fixture.test:${site.port}/page/2`, ...expectedPage(2) } });
    expect(site.requestLog.map((record) => record.host)).toEqual([`fixture.test:${site.port}`]);
  });

  it.each([
    ["127.0.0.1", (port: number) => `http://127.0.0.1:${port}/page/2`],
    ["localhost", (port: number) => `http://localhost:${port}/page/2`],
    ["a name resolving to loopback", (port: number) => `http://rebound.test:${port}/page/2`],
  ])("refuses a redirect from an allowed host to %s", async (_, target) => {
    const policy = testPolicy({
      allowPrivate: false,
      allowList: ["fixture.test"],
      resolve: { "fixture.test": "127.0.0.1", "rebound.test": "127.0.0.1" },
    });
    const url = `http://fixture.test:${site.port}/redirect-to?url=${encodeURIComponent(target(site.port))}`;
    expectBlocked(await crawlPage(url, policy));
    expect(site.requestCount("/redirect-to")).toBe(1);
    expect(site.requestCount("/page/")).toBe(0);
  });

  it("allows loopback through an allow-list CIDR", async () => {
    const outcome = await crawlPage(site.url("/page/4"), testPolicy({ allowPrivate: false, allowList: ["127.0.0.0/8"] }));
    expect(outcome).toMatchObject({ ok: true, page: expectedPage(4) });
  });

  it("guards robots.txt fetches too", async () => {
    site.setRobots("User-agent: *\nDisallow: /\n");
    const outcome = await fetchRobots(site.origin, guarded);
    expect(outcome).toMatchObject({ kind: "unreachable" });
    if (outcome.kind === "unreachable") expect(outcome.reason).toContain("blocked address");
    expect(site.requestCount()).toBe(0);
    site.setRobots(null);
  });
});

describe("beforeRequest: a refusal of the first hop is not an attempt", () => {
  const failureOf = (outcome: CrawlOutcome) => {
    if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome.page)}`);
    return outcome.error;
  };

  it.each([
    ["an IP literal (checked before the agent)", (port: number) => `http://127.0.0.1:${port}/page/1`, {}],
    ["localhost (refused in the agent's lookup)", (port: number) => `http://localhost:${port}/page/1`, {}],
    [
      "a name whose resolve override is loopback (refused in the agent's lookup)",
      (port: number) => `http://www.public-site.test:${port}/page/1`,
      { resolve: { "www.public-site.test": "127.0.0.1" } },
    ],
  ])("is set when the guard refuses the first hop: %s", async (_label, target, overrides) => {
    const error = failureOf(await crawlPage(target(site.port), testPolicy({ allowPrivate: false, ...overrides })));
    expect(error).toMatchObject({ code: "BLOCKED_ADDRESS", retryable: false, beforeRequest: true });
    expect(site.requestCount()).toBe(0);
  });

  it.each([
    ["an IP literal", (port: number) => `http://127.0.0.1:${port}/page/2`],
    ["a name resolving to loopback", (port: number) => `http://rebound.test:${port}/page/2`],
  ])("is not set when the guard refuses a redirect hop to %s (a request was made)", async (_label, target) => {
    const policy = testPolicy({
      allowPrivate: false,
      allowList: ["fixture.test"],
      resolve: { "fixture.test": "127.0.0.1", "rebound.test": "127.0.0.1" },
    });
    const url = `http://fixture.test:${site.port}/redirect-to?url=${encodeURIComponent(target(site.port))}`;
    const error = failureOf(await crawlPage(url, policy));
    expect(error.code).toBe("BLOCKED_ADDRESS");
    expect(error).not.toHaveProperty("beforeRequest");
    expect(site.requestCount("/redirect-to")).toBe(1);
  });

  it("is not set for a name that does not resolve (DNS)", async () => {
    const error = failureOf(await crawlPage("http://no-such-host.test/", guarded));
    expect(error.code).toBe("DNS");
    expect(error).not.toHaveProperty("beforeRequest");
  });

  it("is not set for a connection refused (CONNECT)", async () => {
    const port = await closedPort();
    const error = failureOf(await crawlPage(`http://127.0.0.1:${port}/`, testPolicy()));
    expect(error.code).toBe("CONNECT");
    expect(error).not.toHaveProperty("beforeRequest");
  });

  it("is not set on a page that was fetched and failed (HTTP_STATUS)", async () => {
    const error = failureOf(await crawlPage(site.url("/status/404"), testPolicy()));
    expect(error).toEqual({ code: "HTTP_STATUS", message: "HTTP 404 Not Found", retryable: false, httpStatus: 404 });
  });
});

/** A loopback port nothing listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

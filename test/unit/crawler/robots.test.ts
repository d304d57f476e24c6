import { beforeEach, describe, expect, it } from "vitest";
import { fetchRobots, ROBOTS_MAX_BYTES } from "../../../src/crawler/index.js";
import { startFixtureSite, type FixtureSite } from "../../../testkit/fixture-site.js";
import { testPolicy, useFixtureSite } from "./policy.js";

let site: FixtureSite;

useFixtureSite((started) => (site = started));

beforeEach(() => {
  site.resetStats();
  site.setRobots(null);
});

describe("fetchRobots", () => {
  it("returns the text of a 2xx robots.txt", async () => {
    const text = "User-agent: *\nDisallow: /private\nCrawl-delay: 2\n";
    site.setRobots(text);
    expect(await fetchRobots(site.origin, testPolicy())).toEqual({ kind: "found", url: site.url("/robots.txt"), body: text });
    expect(site.requestLog.map((record) => record.path)).toEqual(["/robots.txt"]);
  });

  it("accepts an origin with a trailing slash or a path", async () => {
    site.setRobots("User-agent: *\n");
    expect(await fetchRobots(`${site.origin}/some/page?q=1`, testPolicy())).toMatchObject({
      kind: "found",
      url: site.url("/robots.txt"),
    });
  });

  it.each([404, 401, 403, 410])("reports %i as missing", async (status) => {
    site.setRobots("ignored", status);
    expect(await fetchRobots(site.origin, testPolicy())).toEqual({ kind: "missing", httpStatus: status });
  });

  it("reports the default fixture (no robots.txt) as missing", async () => {
    expect(await fetchRobots(site.origin, testPolicy())).toEqual({ kind: "missing", httpStatus: 404 });
  });

  it.each([
    [500, "HTTP 500 Internal Server Error"],
    [503, "HTTP 503 Service Unavailable"],
    [429, "HTTP 429 Too Many Requests"],
  ])("reports %i as unreachable", async (status, reason) => {
    site.setRobots("ignored", status);
    expect(await fetchRobots(site.origin, testPolicy())).toEqual({ kind: "unreachable", code: "HTTP_STATUS", reason });
  });

  it("reports a timeout as unreachable", async () => {
    const slow = await startFixtureSite({ latencyMs: 2000, robots: "User-agent: *\n" });
    try {
      expect(await fetchRobots(slow.origin, testPolicy({ timeoutMs: 200 }))).toEqual({
        kind: "unreachable",
        code: "TIMEOUT",
        reason: "timed out after 200 ms",
      });
    } finally {
      await slow.close();
    }
  });

  it("keeps only the first 500 KiB of an oversized robots.txt", async () => {
    const line = "Disallow: /a-rather-long-path-that-fills-the-file\n";
    site.setRobots(`User-agent: *\n${line.repeat(Math.ceil((ROBOTS_MAX_BYTES * 2) / line.length))}`);
    const outcome = await fetchRobots(site.origin, testPolicy());
    expect(outcome.kind).toBe("found");
    if (outcome.kind === "found") {
      expect(outcome.body.length).toBe(ROBOTS_MAX_BYTES);
      expect(outcome.body.startsWith("User-agent: *\nDisallow:")).toBe(true);
    }
  });

  it("reports an origin that is not a URL as unreachable", async () => {
    expect(await fetchRobots("not an origin", testPolicy())).toMatchObject({ kind: "unreachable" });
  });
});

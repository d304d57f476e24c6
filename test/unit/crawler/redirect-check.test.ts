import { beforeEach, describe, expect, it } from "vitest";
import { crawlPage, type CrawlFailure } from "../../../src/crawler/index.js";
import type { FixtureSite } from "../../../testkit/fixture-site.js";
import { testPolicy, useFixtureSite } from "./policy.js";

let site: FixtureSite;

useFixtureSite((started) => (site = started));

beforeEach(() => site.resetStats());

const refusal: CrawlFailure = { code: "ROBOTS_DISALLOWED", message: "robots.txt says no", retryable: false };

describe("crawlPage with a redirect check", () => {
  it("asks about every hop, in order, and follows the ones allowed", async () => {
    const asked: string[] = [];
    const outcome = await crawlPage(site.url("/redirect/2"), testPolicy(), async (url) => {
      asked.push(url);
      return null;
    });
    expect(outcome).toMatchObject({ ok: true, page: { finalUrl: site.url("/page/1") } });
    expect(asked).toEqual([site.url("/redirect/1"), site.url("/page/1")]);
  });

  it("never asks about the first URL, nor when there is no redirect", async () => {
    const asked: string[] = [];
    await crawlPage(site.url("/page/2"), testPolicy(), async (url) => {
      asked.push(url);
      return null;
    });
    expect(asked).toEqual([]);
  });

  it("stops at a refused hop without requesting it, and says where the redirect went", async () => {
    const outcome = await crawlPage(site.url("/redirect/2"), testPolicy(), async (url) => (url.endsWith("/page/1") ? refusal : null));
    expect(outcome).toEqual({
      ok: false,
      error: { ...refusal, message: `redirect to ${site.url("/page/1")}: robots.txt says no` },
    });
    expect(site.requestLog.map((r) => r.path)).toEqual(["/redirect/2", "/redirect/1"]);
  });

  it("checks the guard before asking (a refused address needs no robots.txt)", async () => {
    const asked: string[] = [];
    const target = encodeURIComponent(site.url("/page/9"));
    const outcome = await crawlPage(
      `http://allowed.example:${site.port}/redirect-to?url=${target}`,
      testPolicy({ allowPrivate: false, allowList: ["allowed.example"], resolve: { "allowed.example": "127.0.0.1" } }),
      async (url) => {
        asked.push(url);
        return null;
      },
    );
    expect(outcome).toMatchObject({ ok: false, error: { code: "BLOCKED_ADDRESS" } });
    // Refused after the request that redirected: that attempt counts.
    expect(!outcome.ok && "beforeRequest" in outcome.error).toBe(false);
    expect(asked).toEqual([]);
    expect(site.requestCount("/page/9")).toBe(0);
  });

  it("gives up with TIMEOUT when the answer does not come within the attempt's time", async () => {
    const started = performance.now();
    const outcome = await crawlPage(site.url("/redirect/1"), testPolicy({ timeoutMs: 300 }), () => new Promise(() => {}));
    expect(outcome).toMatchObject({ ok: false, error: { code: "TIMEOUT", retryable: true } });
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

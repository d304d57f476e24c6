import { describe, expect, it } from "vitest";
import { crawlPage } from "../../../src/crawler/index.js";
import { startFixtureSite, type FixtureSite } from "../../../testkit/fixture-site.js";
import { testPolicy, useFixtureSite } from "./policy.js";

// The fixture's own accounting, which politeness tests elsewhere rely on.
let site: FixtureSite;

useFixtureSite((started) => (site = started));

describe("the fixture site", () => {
  it("counts concurrent requests per Host header", async () => {
    site.resetStats();
    const viaIp = Array.from({ length: 6 }, () => crawlPage(site.url("/slow?ms=200"), testPolicy()));
    const viaName = Array.from({ length: 3 }, () => crawlPage(`http://localhost:${site.port}/slow?ms=200`, testPolicy()));
    const outcomes = await Promise.all([...viaIp, ...viaName]);
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    expect(site.maxConcurrent(site.host)).toBe(6);
    expect(site.maxConcurrent(`localhost:${site.port}`)).toBe(3);
    expect(site.maxConcurrent()).toBe(9);
    expect(site.requestCount("/slow")).toBe(9);
    expect(site.requestLog.every((record) => record.end !== null && record.end - record.start >= 190)).toBe(true);
  });

  it("adds latencyMs to every response", async () => {
    const slow = await startFixtureSite({ latencyMs: 150 });
    try {
      const outcome = await crawlPage(slow.url("/page/1"), testPolicy());
      expect(outcome.ok && outcome.page.fetchMs).toBeGreaterThanOrEqual(145);
    } finally {
      await slow.close();
    }
  });

  it("closes promptly while a request hangs, failing it", async () => {
    const doomed = await startFixtureSite();
    const pending = crawlPage(doomed.url("/hang"), testPolicy({ timeoutMs: 20_000 }));
    await expect.poll(() => doomed.requestCount("/hang")).toBe(1);
    const started = performance.now();
    await doomed.close();
    const outcome = await pending;
    expect(performance.now() - started).toBeLessThan(1000);
    expect(outcome).toMatchObject({ ok: false, error: { code: "CONNECT", retryable: true } });
  });
});

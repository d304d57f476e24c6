import { afterAll, beforeAll } from "vitest";
import { closeHttpAgents, type FetchPolicy } from "../../../src/crawler/index.js";
import { startFixtureSite, type FixtureSite } from "../../../testkit/fixture-site.js";

/** Starts the loopback fixture site for this file and, after it, closes the site and the crawler's agents. */
export function useFixtureSite(assign: (site: FixtureSite) => void): void {
  let site: FixtureSite | undefined;
  beforeAll(async () => {
    site = await startFixtureSite();
    assign(site);
  });
  afterAll(async () => {
    await closeHttpAgents();
    await site?.close();
  });
}

/** A policy for tests against the loopback fixture: private targets allowed unless overridden. */
export function testPolicy(overrides: Partial<FetchPolicy> = {}): FetchPolicy {
  return {
    timeoutMs: 5000,
    connectTimeoutMs: 2000,
    keepAliveMs: 1000,
    maxBodyBytes: 10 * 1024 * 1024,
    maxRedirects: 5,
    userAgent: "crawlq-test/0.1 (+https://github.com/crawlq)",
    allowPrivate: true,
    allowList: [],
    resolve: {},
    ...overrides,
  };
}

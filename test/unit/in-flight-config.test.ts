import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

const MiB = 1024 * 1024;
const config = (env: Record<string, string>) => loadConfig({ DATABASE_URL: "file:./x.db", CRAWLQ_THREADS: "2", ...env });

describe("in-flight settings", () => {
  it("adapts by default, from the fixed limit of before (threads × 32) up to the ceiling", () => {
    const { pool } = config({});
    expect(pool.inFlight).toMatchObject({ adaptive: true, floor: 64, initial: 64, ceiling: 512 });
    expect(pool.maxInFlight).toBe(512);
  });

  it("keeps in-flight × CRAWLQ_MAX_BODY_BYTES within CRAWLQ_MEMORY_BUDGET_BYTES", () => {
    const { pool } = config({ CRAWLQ_MEMORY_BUDGET_BYTES: String(200 * MiB), CRAWLQ_MAX_BODY_BYTES: String(4 * MiB) });
    expect(pool.inFlight.ceiling).toBe(50);
    expect(pool.inFlight.ceiling * 4 * MiB).toBeLessThanOrEqual(200 * MiB);
    expect(pool.inFlight.floor).toBeLessThanOrEqual(pool.inFlight.ceiling);
  });

  it("takes CRAWLQ_MAX_IN_FLIGHT as a fixed override, refused when it does not fit a budget the operator set", () => {
    expect(config({ CRAWLQ_MAX_IN_FLIGHT: "100" }).pool).toMatchObject({ maxInFlight: 100, inFlight: { adaptive: false } });
    expect(() => config({ CRAWLQ_MAX_IN_FLIGHT: "100", CRAWLQ_MEMORY_BUDGET_BYTES: String(200 * MiB), CRAWLQ_MAX_BODY_BYTES: String(4 * MiB) })).toThrow(
      ConfigError,
    );
    expect(config({ CRAWLQ_MAX_IN_FLIGHT: "50", CRAWLQ_MEMORY_BUDGET_BYTES: String(200 * MiB), CRAWLQ_MAX_BODY_BYTES: String(4 * MiB) }).pool.maxInFlight).toBe(50);
  });

  it("gives each thread room for its share of the most in flight, so that tasks never wait in the pool's queue", () => {
    expect(config({}).pool.concurrencyPerThread).toBe(256);
    expect(config({ CRAWLQ_MAX_IN_FLIGHT: "100" }).pool.concurrencyPerThread).toBe(50);
    expect(config({ CRAWLQ_MAX_IN_FLIGHT: "10" }).pool.concurrencyPerThread).toBe(32);
    expect(config({ CRAWLQ_MAX_IN_FLIGHT: "100", CRAWLQ_CONCURRENCY_PER_THREAD: "8" }).pool.concurrencyPerThread).toBe(8);
  });
});

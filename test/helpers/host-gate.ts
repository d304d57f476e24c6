import { HostGate, type HostGateOptions } from "../../src/pool/host-gate.js";

/**
 * A HostGate for tests: per host 4, every robots.txt missing (so every URL is allowed), unless `options`
 * says otherwise.
 */
export function testGate(options: Partial<HostGateOptions> = {}): HostGate {
  return new HostGate({
    perHostConcurrency: 4,
    robotsTtlMs: 60_000,
    robotsRetryMs: 60_000,
    userAgent: "crawlq-test/0.1",
    fetchRobots: async () => ({ kind: "missing", httpStatus: 404 }),
    onRobotsReady: () => {},
    ...options,
  });
}

import { describe, expect, it } from "vitest";
import { HostGate } from "../../../src/pool/host-gate.js";
import type { ClaimCandidate } from "../../../src/tasks/task-store.js";

const T0 = 1_000_000;
let nextId = 1;

const task = (url: string): ClaimCandidate => ({
  id: nextId++,
  url,
  host: new URL(url).hostname,
  options: { maxRetries: 2, perHostConcurrency: 4, hostDelayMs: 0, respectRobots: false },
});

/** A gate (per host 4, backoff 1 s doubling to 8 s) on a clock standing at T0 until a test moves it. */
function gateOnClock() {
  const clock = { now: T0 };
  const gate = new HostGate({
    perHostConcurrency: 4,
    robotsTtlMs: 60_000,
    robotsRetryMs: 60_000,
    userAgent: "crawlq-test/0.1",
    fetchRobots: async () => ({ kind: "missing", httpStatus: 404 }),
    onRobotsReady: () => {},
    backoffBaseMs: 1_000,
    backoffMaxMs: 8_000,
    now: () => clock.now,
  });
  /** Admits one task on `host` now and ends it at once with a 429/503 (`retryAfterMs`) or another answer. */
  const crawl = (host: string, answer: "throttled" | "ok", retryAfterMs?: number) => {
    const verdict = gate.admit(task(`https://${host}/${nextId}`), clock.now).verdict;
    if (verdict !== "admit") return verdict;
    if (answer === "throttled") gate.throttled(host, retryAfterMs, clock.now);
    else gate.answered(host, clock.now);
    gate.release(host, clock.now);
    return verdict;
  };
  return { gate, clock, crawl };
}

describe("HostGate: per-host backoff after 429 and 503", () => {
  it("holds a host for its Retry-After while every other host goes on at full concurrency", () => {
    const { gate, clock, crawl } = gateOnClock();
    expect(crawl("slow.example", "throttled", 5_000)).toBe("admit");
    expect(gate.admit(task("https://slow.example/x"), clock.now).verdict).toBe("wait");
    expect(gate.busyHosts(clock.now)).toEqual(["slow.example"]);
    expect(gate.nextOpening(clock.now)).toBe(T0 + 5_000);
    // Other hosts: their full per-host limit, now.
    const others = ["a.example", "b.example", "c.example"].flatMap((host) =>
      [1, 2, 3, 4, 5].map((n) => gate.admit(task(`https://${host}/${n}`), clock.now).verdict),
    );
    expect(others.filter((v) => v === "admit")).toHaveLength(12);
    clock.now = T0 + 4_999;
    expect(gate.admit(task("https://slow.example/x"), clock.now).verdict).toBe("wait");
    clock.now = T0 + 5_000;
    expect(gate.admit(task("https://slow.example/x"), clock.now).verdict).toBe("admit");
  });

  it("without Retry-After waits the base, doubling per further 429/503, capped", () => {
    const { gate, clock, crawl } = gateOnClock();
    const holds: number[] = [];
    for (let i = 0; i < 6; i++) {
      expect(crawl("busy.example", "throttled")).toBe("admit");
      const until = gate.backoffOf("busy.example")!.until;
      holds.push(until - clock.now);
      clock.now = until;
    }
    expect(holds).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it("cuts a Retry-After longer than the cap to it", () => {
    const { gate, crawl } = gateOnClock();
    crawl("far.example", "throttled", 3_600_000);
    expect(gate.backoffOf("far.example")!.until).toBe(T0 + 8_000);
  });

  it("does not double the step for answers to requests that started before the hold; a longer Retry-After extends it", () => {
    const { gate, clock } = gateOnClock();
    const verdicts = [1, 2, 3].map((n) => gate.admit(task(`https://burst.example/${n}`), clock.now).verdict);
    expect(verdicts).toEqual(["admit", "admit", "admit"]);
    gate.throttled("burst.example", undefined, clock.now);
    gate.throttled("burst.example", undefined, clock.now + 10);
    gate.throttled("burst.example", 3_000, clock.now + 20);
    expect(gate.backoffOf("burst.example")).toEqual({ delayMs: 1_000, until: T0 + 3_020 });
    // A success from before the hold does not end it either.
    gate.answered("burst.example", clock.now + 30);
    expect(gate.backoffOf("burst.example")).toEqual({ delayMs: 1_000, until: T0 + 3_020 });
  });

  it("recovers: after the hold one request at a time, each success halving the step, then full concurrency again", () => {
    const { gate, clock, crawl } = gateOnClock();
    crawl("r.example", "throttled");
    clock.now = gate.backoffOf("r.example")!.until;
    crawl("r.example", "throttled");
    clock.now = gate.backoffOf("r.example")!.until;
    crawl("r.example", "throttled");
    clock.now = gate.backoffOf("r.example")!.until;
    expect(gate.backoffOf("r.example")!.delayMs).toBe(4_000);
    // Recovering: one in flight at most.
    expect(gate.admit(task("https://r.example/1"), clock.now).verdict).toBe("admit");
    expect(gate.admit(task("https://r.example/2"), clock.now).verdict).toBe("wait");
    expect(gate.busyHosts(clock.now)).toEqual(["r.example"]);
    gate.answered("r.example", clock.now);
    gate.release("r.example", clock.now);
    expect(gate.backoffOf("r.example")!.delayMs).toBe(2_000);
    expect(crawl("r.example", "ok")).toBe("admit");
    expect(gate.backoffOf("r.example")!.delayMs).toBe(1_000);
    expect(crawl("r.example", "ok")).toBe("admit");
    expect(gate.backoffOf("r.example")).toBeNull();
    const verdicts = [1, 2, 3, 4, 5].map((n) => gate.admit(task(`https://r.example/again/${n}`), clock.now).verdict);
    expect(verdicts).toEqual(["admit", "admit", "admit", "admit", "wait"]);
  });

  it("forgets a backoff the host never answered again, long after it ended", () => {
    const { gate, clock, crawl } = gateOnClock();
    crawl("gone.example", "throttled");
    clock.now = T0 + 1_000 + 8_001;
    expect(gate.busyHosts(clock.now)).toEqual([]);
    expect(gate.backoffOf("gone.example")).toBeNull();
  });
});

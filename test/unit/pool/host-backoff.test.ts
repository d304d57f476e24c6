import { describe, expect, it } from "vitest";
import type { Throttle } from "../../../src/pool/host-gate.js";
import type { ClaimCandidate } from "../../../src/tasks/task-store.js";
import { testGate } from "../../helpers/host-gate.js";

const T0 = 1_000_000;
let nextId = 1;

const task = (url: string): ClaimCandidate => ({
  id: nextId++,
  url,
  host: new URL(url).hostname,
  options: { maxRetries: 2, perHostConcurrency: 4, hostDelayMs: 0, respectRobots: false },
});

/** A gate (per host 4; backoff from 200 ms, Retry-After honoured up to 8 s) on a clock standing at T0 until a test moves it. */
function gateOnClock() {
  const clock = { now: T0 };
  const gate = testGate({
    backoffBaseMs: 200,
    backoffMaxMs: 8_000,
    now: () => clock.now,
  });
  /** Admits one task on `host` now and ends it at once with a 429/503 (`throttle`) or another answer. */
  const crawl = (host: string, answer: "throttled" | "ok", throttle: Throttle = {}) => {
    const verdict = gate.admit(task(`https://${host}/${nextId}`), clock.now).verdict;
    if (verdict !== "admit") return verdict;
    if (answer === "throttled") gate.throttled(host, throttle, clock.now);
    else gate.answered(host, clock.now);
    gate.release(host, clock.now);
    return verdict;
  };
  return { gate, clock, crawl };
}

describe("HostGate: per-host backoff after 429 and 503", () => {
  it("holds a host for its Retry-After while every other host goes on at full concurrency", () => {
    const { gate, clock, crawl } = gateOnClock();
    expect(crawl("slow.example", "throttled", { retryAfterMs: 5_000 })).toBe("admit");
    expect(gate.admit(task("https://slow.example/x"), clock.now).verdict).toBe("wait");
    expect(gate.busyHosts(clock.now)).toEqual(["slow.example"]);
    expect(gate.nextOpening(clock.now)).toBe(T0 + 5_000);
    // Other hosts: their full per-host limit, now, all through the hold.
    for (const at of [T0, T0 + 2_500, T0 + 4_999]) {
      clock.now = at;
      const others = ["a.example", "b.example", "c.example"].flatMap((host) =>
        [1, 2, 3, 4, 5].map((n) => gate.admit(task(`https://${host}/${at}/${n}`), clock.now).verdict),
      );
      expect(others.filter((v) => v === "admit")).toHaveLength(12);
      for (const host of ["a.example", "b.example", "c.example"]) for (let n = 0; n < 4; n++) gate.release(host, clock.now);
      expect(gate.busyHosts(clock.now)).toEqual(["slow.example"]);
      expect(gate.admit(task("https://slow.example/x"), clock.now).verdict).toBe("wait");
    }
    clock.now = T0 + 5_000;
    expect(gate.admit(task("https://slow.example/x"), clock.now).verdict).toBe("admit");
  });

  it("without Retry-After holds for half the step (its retry's earliest), the step doubling per consecutive 429/503 up to the max", () => {
    const { gate, clock, crawl } = gateOnClock();
    const holds: number[] = [];
    for (let i = 0; i < 8; i++) {
      expect(crawl("busy.example", "throttled")).toBe("admit");
      const until = gate.backoffOf("busy.example")!.until;
      holds.push(until - clock.now);
      clock.now = until;
    }
    expect(holds).toEqual([100, 200, 400, 800, 1_600, 3_200, 4_000, 4_000]);
    expect(gate.backoffOf("busy.example")!.delayMs).toBe(8_000);
    // A mild hold is not followed by probing: the host's full concurrency at once.
    const verdicts = [1, 2, 3, 4, 5].map((n) => gate.admit(task(`https://busy.example/after/${n}`), clock.now).verdict);
    expect(verdicts).toEqual(["admit", "admit", "admit", "admit", "wait"]);
  });

  it("never holds a host longer than the throttled request's own retry step (its retry meets an open host)", () => {
    const { gate, clock, crawl } = gateOnClock();
    const holds: number[] = [];
    for (let i = 0; i < 4; i++) {
      // A new task each time, on its first attempt: its retry would wait at most 200 ms.
      crawl("busy.example", "throttled", { capMs: 200 });
      const backoff = gate.backoffOf("busy.example")!;
      holds.push(backoff.until - clock.now);
      clock.now = backoff.until;
    }
    expect(holds).toEqual([100, 100, 100, 100]);
    expect(gate.backoffOf("busy.example")!.delayMs).toBe(1_600);
  });

  it("a Retry-After beyond the max (the task is final) holds the host for the mild step only", () => {
    const { gate, crawl } = gateOnClock();
    crawl("far.example", "throttled", { retryAfterMs: 3_600_000, capMs: 200 });
    expect(gate.backoffOf("far.example")!.until).toBe(T0 + 100);
  });

  it("does not double the step for answers to requests that started before the hold; a longer Retry-After extends it", () => {
    const { gate, clock } = gateOnClock();
    const verdicts = [1, 2, 3].map((n) => gate.admit(task(`https://burst.example/${n}`), clock.now).verdict);
    expect(verdicts).toEqual(["admit", "admit", "admit"]);
    gate.throttled("burst.example", {}, clock.now);
    gate.throttled("burst.example", {}, clock.now + 10);
    gate.throttled("burst.example", { retryAfterMs: 3_000 }, clock.now + 20);
    expect(gate.backoffOf("burst.example")).toEqual({ delayMs: 200, until: T0 + 3_020 });
    // A success from before the hold does not end it either.
    gate.answered("burst.example", clock.now + 30);
    expect(gate.backoffOf("burst.example")).toEqual({ delayMs: 200, until: T0 + 3_020 });
  });

  it("recovers: after a Retry-After one request at a time; the first other answer clears it, full concurrency again", () => {
    const { gate, clock, crawl } = gateOnClock();
    crawl("r.example", "throttled", { retryAfterMs: 1_000 });
    clock.now = gate.backoffOf("r.example")!.until;
    crawl("r.example", "throttled", { retryAfterMs: 1_000 });
    clock.now = gate.backoffOf("r.example")!.until;
    crawl("r.example", "throttled", { retryAfterMs: 1_000 });
    clock.now = gate.backoffOf("r.example")!.until;
    expect(gate.backoffOf("r.example")!.delayMs).toBe(800);
    // Recovering: one in flight at most.
    expect(gate.admit(task("https://r.example/1"), clock.now).verdict).toBe("admit");
    expect(gate.admit(task("https://r.example/2"), clock.now).verdict).toBe("wait");
    expect(gate.busyHosts(clock.now)).toEqual(["r.example"]);
    gate.answered("r.example", clock.now);
    gate.release("r.example", clock.now);
    expect(gate.backoffOf("r.example")).toBeNull();
    const verdicts = [1, 2, 3, 4, 5].map((n) => gate.admit(task(`https://r.example/again/${n}`), clock.now).verdict);
    expect(verdicts).toEqual(["admit", "admit", "admit", "admit", "wait"]);
    // And a later 429 starts from the base again.
    for (let n = 0; n < 4; n++) gate.release("r.example", clock.now);
    crawl("r.example", "throttled");
    expect(gate.backoffOf("r.example")).toEqual({ delayMs: 200, until: clock.now + 100 });
  });

  it("forgets a backoff whose host stayed quiet for a whole step after the hold: the next 429 starts from the base", () => {
    const { gate, clock, crawl } = gateOnClock();
    crawl("gone.example", "throttled");
    clock.now = T0 + 100;
    crawl("gone.example", "throttled");
    expect(gate.backoffOf("gone.example")).toEqual({ delayMs: 400, until: T0 + 300 });
    clock.now = T0 + 300 + 401;
    expect(gate.busyHosts(clock.now)).toEqual([]);
    expect(gate.backoffOf("gone.example")).toBeNull();
    crawl("gone.example", "throttled");
    expect(gate.backoffOf("gone.example")).toEqual({ delayMs: 200, until: clock.now + 100 });
  });
});

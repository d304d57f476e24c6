import { describe, expect, it } from "vitest";
import { InFlightController, memoryCeiling, type InFlightControllerOptions, type MemorySample } from "../../../src/pool/in-flight-controller.js";

const MiB = 1024 * 1024;
const WINDOW_MS = 500;

/** A controller on a fake clock, its signals set by the test: no timer, no sleep; `window()` ends one window. */
function controllerWith(options: Partial<InFlightControllerOptions> = {}) {
  const clock = { now: 0 };
  const load = { lagMs: 0, cpuShare: 0.3, memory: { rssBytes: 100 * MiB, heapUsedBytes: 50 * MiB, heapLimitBytes: 256 * MiB } as MemorySample };
  const changes: number[] = [];
  const controller = new InFlightController({
    floor: 4,
    ceiling: 256,
    memoryBudgetBytes: 4096 * MiB,
    maxBodyBytes: 10 * MiB,
    windowMs: WINDOW_MS,
    now: () => clock.now,
    signals: { eventLoopLagMs: () => load.lagMs, cpuBusyShare: () => load.cpuShare, memory: () => load.memory, close: () => {} },
    onChange: (limit) => changes.push(limit),
    ...options,
  });
  /**
   * One window in which the dispatcher fills the limit and `fetches` attempts end, each after a fetch of
   * `fetchMs` and `queuedMs` more in the service.
   */
  const window = (fetchMs = 50, fetches = 20, queuedMs = 2) => {
    controller.used(controller.limit);
    for (let i = 0; i < fetches; i++) controller.attemptEnded(fetchMs, queuedMs);
    clock.now += WINDOW_MS;
    return controller.tick();
  };
  return { controller, clock, load, changes, window };
}

describe("InFlightController", () => {
  it("converges up to the ceiling while every signal has headroom, doubling first", () => {
    const { controller, window, changes } = controllerWith({ initial: 16 });
    expect(controller.limit).toBe(16);
    for (let i = 0; i < 10; i++) window();
    expect(controller.limit).toBe(256);
    expect(changes.slice(0, 4)).toEqual([32, 64, 128, 256]);
    expect(window()).toMatchObject({ change: "hold", reasons: ["at ceiling"] });
  });

  it("does not grow a limit the work does not fill", () => {
    const { controller, clock } = controllerWith({ initial: 16 });
    controller.used(10);
    clock.now += WINDOW_MS;
    expect(controller.tick()).toMatchObject({ change: "hold", limit: 16, reasons: ["unused"] });
  });

  it("does not grow on saturated cores, backs off when they stay saturated, and grows again once they have headroom", () => {
    const { controller, window, load } = controllerWith({ initial: 64 });
    load.cpuShare = 0.97;
    expect(window()).toMatchObject({ change: "hold", limit: 64, reasons: ["cpu"] });
    expect(window()).toMatchObject({ change: "hold", limit: 64, reasons: ["cpu"] });
    expect(window()).toMatchObject({ change: "down", limit: 48, reasons: ["cpu"] });
    load.cpuShare = 0.5;
    // Two windows settle after a decrease; then it grows.
    for (let i = 0; i < 3; i++) window();
    expect(controller.limit).toBeGreaterThan(48);
  });

  it("backs off multiplicatively on sustained event-loop lag, down to the floor and no further, then grows additively", () => {
    const { controller, window, load } = controllerWith({ initial: 128, step: 8 });
    load.lagMs = 200;
    // Two windows of lag hold the limit; the third in a row brings it down.
    expect(window()).toMatchObject({ change: "hold", limit: 128, reasons: ["event-loop lag"] });
    expect(window()).toMatchObject({ change: "hold", limit: 128, reasons: ["event-loop lag"] });
    expect(window()).toMatchObject({ change: "down", limit: 96, reasons: ["event-loop lag"] });
    for (let i = 0; i < 100; i++) window();
    expect(controller.limit).toBe(4);
    expect(window()).toMatchObject({ limit: 4 });
    load.lagMs = 5;
    expect(window()).toMatchObject({ change: "up", limit: 12 });
    expect(window()).toMatchObject({ change: "up", limit: 20 });
  });

  it("does not collapse on a loaded machine: stalls shorter than the sustained windows never decrease it", () => {
    const { controller, window, load } = controllerWith({ initial: 64, floor: 64, ceiling: 512 });
    for (let i = 0; i < 200; i++) {
      // Lag in two windows of every three (another process takes the cores now and then).
      load.lagMs = i % 3 === 2 ? 0 : 120;
      window();
      expect(controller.limit).toBeGreaterThanOrEqual(64);
    }
    expect(controller.limit).toBe(controller.ceiling);
    // Lag that lasts brings it down, never under the floor.
    load.lagMs = 120;
    for (let i = 0; i < 100; i++) window();
    expect(controller.limit).toBe(64);
  });

  it("backs off when tasks wait in the service longer than a fifth of their fetch time, whichever hosts are crawled", () => {
    const { controller, window } = controllerWith({ initial: 128, step: 8 });
    // 50 ms fetches: up to 10 ms of queueing is headroom, 30 ms is too much, for three windows in a row.
    expect(window(50, 20, 30)).toMatchObject({ change: "hold", limit: 128, reasons: ["queueing"], queuedMs: 30 });
    expect(window(50, 20, 30)).toMatchObject({ change: "hold", limit: 128, reasons: ["queueing"] });
    expect(window(50, 20, 30)).toMatchObject({ change: "down", limit: 96, reasons: ["queueing"] });
    expect(window(50, 20, 9)).toMatchObject({ change: "hold", reasons: ["settling"] });
    expect(window(50, 20, 9)).toMatchObject({ change: "up", limit: 104 });
    expect(controller.limit).toBe(104);

    // Slow hosts (500 ms fetches): the same 30 ms is little. Fast ones (2 ms): at least 10 ms is allowed.
    const slow = controllerWith({ initial: 64 });
    expect(slow.window(500, 20, 30)).toMatchObject({ change: "up", limit: 128 });
    const fast = controllerWith({ initial: 64 });
    expect(fast.window(2, 20, 9)).toMatchObject({ change: "up", limit: 128 });
    expect(fast.window(2, 20, 12)).toMatchObject({ change: "hold", limit: 128, reasons: ["queueing"] });
  });

  it("backs off on memory pressure at once: RSS above its limit, or the main heap near its limit", () => {
    const { window, load } = controllerWith({ initial: 100, maxRssBytes: 1024 * MiB });
    load.memory = { rssBytes: 1100 * MiB, heapUsedBytes: 50 * MiB, heapLimitBytes: 256 * MiB };
    expect(window()).toMatchObject({ change: "down", limit: 75, reasons: ["memory"] });
    load.memory = { rssBytes: 300 * MiB, heapUsedBytes: 240 * MiB, heapLimitBytes: 256 * MiB };
    expect(window()).toMatchObject({ change: "down", limit: 56, reasons: ["memory"] });
    load.memory = { rssBytes: 300 * MiB, heapUsedBytes: 100 * MiB, heapLimitBytes: 256 * MiB };
    // A window for the decrease to show, then it grows again.
    expect(window()).toMatchObject({ change: "hold", reasons: ["settling"] });
    expect(window()).toMatchObject({ change: "up" });
  });

  it("does not take an RSS above the body budget for memory pressure (the budget bounds bodies, not the process)", () => {
    const { window, load } = controllerWith({ initial: 10, ceiling: 20, memoryBudgetBytes: 200 * MiB, maxRssBytes: 4096 * MiB });
    load.memory = { rssBytes: 400 * MiB, heapUsedBytes: 50 * MiB, heapLimitBytes: 256 * MiB };
    expect(window()).toMatchObject({ change: "up", limit: 20 });
  });

  it("backs off when fetch latency rises well above what it was before the limit grew, and not on small jitter", () => {
    const { window } = controllerWith({ initial: 32, step: 4 });
    expect(window(50)).toMatchObject({ change: "up", limit: 64, latencyMs: 50, baselineMs: null });
    expect(window(60)).toMatchObject({ change: "up", limit: 128, baselineMs: 50 });
    // The median jumps to 200 ms: over 2 × the 60 ms before the last growth (and 10 ms more), three windows in a row.
    expect(window(200)).toMatchObject({ change: "hold", reasons: ["latency"] });
    expect(window(200)).toMatchObject({ change: "hold", reasons: ["latency"] });
    const rising = window(200);
    expect(rising).toMatchObject({ change: "down", limit: 96, reasons: ["latency"] });
    expect(rising.latencyMs).toBeGreaterThan(100);
  });

  it("undoes growth that brings no more pages per second (fetch time grew as much as the limit), and stays near the knee", () => {
    const { controller, window } = controllerWith({ initial: 32, ceiling: 1024, memoryBudgetBytes: 64 * 1024 * MiB, latencyRise: 100 });
    // The machine serves 2 pages per ms at most: up to 80 in flight a fetch takes 40 ms, beyond it in flight / 2.
    const limits: number[] = [];
    for (let i = 0; i < 80; i++) {
      window(Math.max(40, controller.limit / 2));
      limits.push(controller.limit);
    }
    expect(Math.max(...limits.slice(20))).toBeLessThan(400);
    expect(controller.limit).toBeGreaterThanOrEqual(32);
  });

  it("does not take a latency change at a limit that did not grow for it (other hosts, not its own load)", () => {
    const { controller, window } = controllerWith({ initial: 64, ceiling: 128 });
    window(2);
    expect(controller.limit).toBe(128);
    for (let i = 0; i < 4; i++) window(2);
    // The crawl moves on to slow hosts: fetches take 25 times longer, at the same limit.
    for (let i = 0; i < 20; i++) expect(window(50)).toMatchObject({ limit: 128 });
  });

  it("needs enough fetches in a window before their median counts", () => {
    const { window } = controllerWith({ initial: 32 });
    window(50);
    expect(window(5_000, 3)).toMatchObject({ change: "up" });
  });

  it("keeps the ceiling within the memory budget: in flight × max body bytes never exceeds it", () => {
    const budget = 200 * MiB;
    const { controller, window } = controllerWith({ ceiling: 1000, memoryBudgetBytes: budget, maxBodyBytes: 10 * MiB, initial: 1000 });
    expect(controller.ceiling).toBe(20);
    expect(controller.limit).toBe(20);
    for (let i = 0; i < 5; i++) window();
    expect(controller.limit * 10 * MiB).toBeLessThanOrEqual(budget);
    expect(memoryCeiling(budget, 10 * MiB)).toBe(20);
    expect(memoryCeiling(5 * MiB, 10 * MiB)).toBe(1);
  });

  it("stays between floor and ceiling whatever the signals do", () => {
    const { controller, window, load } = controllerWith({ floor: 8, ceiling: 64, initial: 8 });
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 500; i++) {
      load.lagMs = random() < 0.2 ? 100 : 0;
      window(random() < 0.1 ? 1_000 : 40);
      expect(controller.limit).toBeGreaterThanOrEqual(8);
      expect(controller.limit).toBeLessThanOrEqual(64);
    }
  });

  it("clamps a floor above the ceiling down to it", () => {
    const { controller } = controllerWith({ floor: 50, ceiling: 20 });
    expect([controller.floor, controller.ceiling, controller.limit]).toEqual([20, 20, 20]);
  });
});

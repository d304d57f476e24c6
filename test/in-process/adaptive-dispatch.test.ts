import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { CrawlJob } from "../../src/worker/protocol.js";
import { Dispatcher } from "../../src/pool/dispatcher.js";
import type { InFlightLimit } from "../../src/pool/in-flight-controller.js";
import { InProcessCompletionBus } from "../../src/tasks/bus/in-process-bus.js";
import type { SubmissionOptions } from "../../src/tasks/task.js";
import { TaskLifecycle } from "../../src/tasks/task-lifecycle.js";
import { testGate } from "../helpers/host-gate.js";
import { useFreshSqlite } from "./fresh-sqlite.js";
import { Completions, pageFor, StandInPool, within, type StandInReply } from "./stand-ins.js";

const sqlite = useFreshSqlite();
/** Bound on every wait: far above what each one takes, low enough for a stuck dispatcher to fail fast. */
const WAIT_MS = 5_000;
const SUBMISSION: SubmissionOptions = { maxRetries: 2, perHostConcurrency: 4, hostDelayMs: 0, respectRobots: false };

/** An in-flight limit the test moves by hand, recording what the dispatcher tells it. */
class MovableLimit implements InFlightLimit {
  limit: number;
  readonly fetches: number[] = [];
  readonly queued: number[] = [];
  readonly fills: number[] = [];
  constructor(limit: number) {
    this.limit = limit;
  }
  used(inFlight: number): void {
    this.fills.push(inFlight);
  }
  attemptEnded(fetchMs: number, queuedMs: number): void {
    this.fetches.push(fetchMs);
    this.queued.push(queuedMs);
  }
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

/** A dispatcher with the real SQLite store and host gate, a stand-in pool, and `limit` as its in-flight limit. */
async function harness(limit: InFlightLimit, answer?: (job: CrawlJob, attempt: number) => StandInReply, options: { writeDelayMs?: number } = {}) {
  const { store: real, cleanup } = await sqlite.open();
  // A distant database: every result write takes writeDelayMs longer.
  const store = options.writeDelayMs
    ? new Proxy(real, {
        get(target, property) {
          const value = Reflect.get(target, property, target) as unknown;
          if (typeof value !== "function") return value;
          if (property !== "finishAttempts") return value.bind(target);
          return async (...args: unknown[]) => {
            await sleep(options.writeDelayMs);
            return value.apply(target, args);
          };
        },
      })
    : real;
  const bus = new InProcessCompletionBus();
  const lifecycle = new TaskLifecycle({ store, bus, owner: "adaptive-under-test" });
  const pool = new StandInPool(answer);
  let dispatcher: Dispatcher | undefined;
  const gate = testGate({ onRobotsReady: () => dispatcher?.wake() });
  dispatcher = new Dispatcher(
    { lifecycle, store, pool, gate, logger: pino({ level: "silent" }), inFlight: limit },
    { maxInFlight: 1_000, hostCap: 1_000, retry: { baseDelayMs: 2, maxDelayMs: 5 }, writeRetryMs: 5 },
  );
  const running = dispatcher;
  closers.push(async () => {
    await running.stop(0);
    pool.release();
    await bus.close();
    await cleanup();
  });
  const submit = async (urls: readonly string[]) => {
    const created = await lifecycle.submit(urls.map((url) => ({ url, host: new URL(url).hostname })), SUBMISSION, null);
    return { ...created, done: await Completions.of(bus, created.id) };
  };
  return { dispatcher, pool, gate, submit };
}

const oneEach = (n: number) => Array.from({ length: n }, (_, i) => `https://h${i}.example/`);
const urlsOn = (host: string, n: number) => Array.from({ length: n }, (_, i) => `https://${host}/page/${i}`);

describe("Dispatcher with a moving in-flight limit", () => {
  it("follows the limit at every fill, up and down, with no restart, and reports fills, fetch and queueing times", async () => {
    const limit = new MovableLimit(2);
    const h = await harness(limit);
    const sub = await h.submit(oneEach(30));
    h.pool.hold();
    await h.dispatcher.start();
    await within(WAIT_MS, "2 crawls", h.pool.until(() => h.pool.jobs.length === 2));
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(h.pool.jobs).toHaveLength(2);
    expect(h.dispatcher.inFlightLimit).toBe(2);
    expect(limit.fills.at(-1)).toBe(2);

    limit.limit = 6;
    h.dispatcher.wake();
    await within(WAIT_MS, "6 crawls", h.pool.until(() => h.pool.jobs.length === 6));
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(h.pool.jobs).toHaveLength(6);

    // Lowered below what is in flight: nothing starts until the pool is under the new limit.
    limit.limit = 1;
    const held = h.pool.jobs.map((j) => j.taskId);
    for (const id of held.slice(0, 5)) h.pool.release(id);
    await within(WAIT_MS, "5 completions", sub.done.until(5));
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(h.pool.jobs).toHaveLength(6);
    h.pool.release(held[5]);
    await within(WAIT_MS, "the 7th crawl", h.pool.until(() => h.pool.jobs.length === 7));
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(h.pool.jobs).toHaveLength(7);
    expect(h.dispatcher.inFlight).toBe(1);

    limit.limit = 30;
    h.pool.release();
    await within(WAIT_MS, "30 completions", sub.done.until(30));
    expect(h.pool.maxActiveTotal).toBeLessThanOrEqual(30);
    expect(limit.fetches).toHaveLength(30);
    expect(new Set(limit.fetches)).toEqual(new Set([2]));
    // Each attempt's time beyond its fetch, told when its slot is free (after its result was saved).
    expect(limit.queued).toHaveLength(30);
  });

  it("does not count a result write's fixed cost as queueing (a distant database's round trip)", async () => {
    const limit = new MovableLimit(4);
    const h = await harness(limit, undefined, { writeDelayMs: 60 });
    const sub = await h.submit(oneEach(8));
    await h.dispatcher.start();
    await within(WAIT_MS, "8 completions", sub.done.until(8));
    expect(limit.queued).toHaveLength(8);
    // Each attempt took over 60 ms from start to a free slot; without the write, next to nothing.
    expect(Math.min(...limit.queued)).toBeLessThan(40);
  });

  it("holds back only the host that answered 429 with Retry-After; the others run to the end", async () => {
    const limit = new MovableLimit(8);
    const throttled = (job: CrawlJob): StandInReply =>
      new URL(job.url).hostname === "slow.example"
        ? { ok: false, error: { code: "HTTP_STATUS", message: "HTTP 429 Too Many Requests", retryable: true, httpStatus: 429, retryAfterMs: 60_000 } }
        : pageFor(job.url);
    const h = await harness(limit, throttled);
    const slow = await h.submit(urlsOn("slow.example", 20));
    const fast = await h.submit([...urlsOn("a.example", 10), ...urlsOn("b.example", 10)]);
    await h.dispatcher.start();
    await within(WAIT_MS, "every page of the other hosts", fast.done.until(20));
    const crawledSlow = h.pool.jobs.filter((j) => new URL(j.url).hostname === "slow.example");
    // The first slow crawls were under way when the 429 came back; none started after it.
    expect(crawledSlow.length).toBeLessThanOrEqual(4);
    expect(slow.done.tasks.length).toBeLessThanOrEqual(4);
    const backoff = h.gate.backoffOf("slow.example");
    expect(backoff).not.toBeNull();
    expect(backoff!.until).toBeGreaterThan(Date.now() + 30_000);
    expect(h.gate.busyHosts(Date.now())).toEqual(["slow.example"]);
  });
});

import { setImmediate as nextTurn, setTimeout } from "node:timers/promises";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { RobotsOutcome } from "../../src/crawler/types.js";
import { Dispatcher, type DispatcherOptions } from "../../src/pool/dispatcher.js";
import { HostGate, type Admission } from "../../src/pool/host-gate.js";
import { InProcessCompletionBus } from "../../src/tasks/bus/in-process-bus.js";
import type { SubmissionOptions, Task } from "../../src/tasks/task.js";
import { TaskLifecycle } from "../../src/tasks/task-lifecycle.js";
import { ALL_TASKS, type ClaimCandidate } from "../../src/tasks/task-store.js";
import { useFreshSqlite } from "./fresh-sqlite.js";
import { Completions, FlakyStore, pageFor, StandInPool, within } from "./stand-ins.js";

const sqlite = useFreshSqlite();

const OWNER = "dispatcher-under-test";
/** Bound on every wait: far above what each one takes, low enough for a stuck dispatcher to fail fast. */
const WAIT_MS = 5_000;
const DEFAULT_SUBMISSION: SubmissionOptions = { maxRetries: 2, perHostConcurrency: 4, hostDelayMs: 0, respectRobots: false };

interface HarnessOptions {
  /** The operator's cap on crawls per host (HostGate). */
  perHostCap?: number;
  robots?: Record<string, RobotsOutcome>;
  dispatcher?: Partial<DispatcherOptions>;
}

/** The real HostGate, recording the time of every admission it grants. */
class RecordingGate extends HostGate {
  readonly admittedAt: number[] = [];
  override admit(task: ClaimCandidate, now: number): Admission {
    const admission = super.admit(task, now);
    if (admission.verdict === "admit") this.admittedAt.push(now);
    return admission;
  }
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

/**
 * A dispatcher with everything real but the pool (a stand-in) and the store (the SQLite store behind a
 * wrapper that fails on command). Retry backoff and database retry delays are a few milliseconds.
 */
async function harness(options: HarnessOptions = {}) {
  const { store: real, cleanup } = await sqlite.open();
  const store = new FlakyStore(real);
  const bus = new InProcessCompletionBus();
  const lifecycle = new TaskLifecycle({ store, bus, owner: OWNER });
  const pool = new StandInPool();
  const robotsFetched: string[] = [];
  let dispatcher: Dispatcher | undefined;
  const gate = new RecordingGate({
    perHostConcurrency: options.perHostCap ?? 8,
    robotsTtlMs: 60_000,
    robotsRetryMs: 60_000,
    userAgent: "crawlq-test/0.1",
    fetchRobots: async (origin) => {
      robotsFetched.push(origin);
      return options.robots?.[origin] ?? { kind: "missing", httpStatus: 404 };
    },
    onRobotsReady: () => dispatcher?.wake(),
  });
  dispatcher = new Dispatcher(
    { lifecycle, store, pool, gate, logger: pino({ level: "silent" }) },
    {
      maxInFlight: 8, hostCap: options.perHostCap ?? 8, retry: { baseDelayMs: 2, maxDelayMs: 5 }, writeRetryMs: 5, resultWriteTries: 3,
      ...options.dispatcher,
    },
  );
  const running = dispatcher;
  closers.push(async () => {
    store.resumeAll();
    await running.stop(0);
    pool.release();
    await bus.close();
    await cleanup();
  });

  /** Creates a submission (as TaskService does, through the lifecycle) and watches its completions. */
  const submit = async (urls: readonly string[], submission: Partial<SubmissionOptions> = {}) => {
    const created = await lifecycle.submit(
      urls.map((url) => ({ url, host: new URL(url).hostname })),
      { ...DEFAULT_SUBMISSION, ...submission },
      null,
    );
    return { ...created, done: await Completions.of(bus, created.id) };
  };
  const read = async (tasks: readonly Task[]) => {
    const rows = await real.findByIds(tasks.map((t) => t.id), ALL_TASKS);
    return tasks.map((t) => rows.find((r) => r.id === t.id)!);
  };
  return { dispatcher, store, real, bus, lifecycle, pool, gate, robotsFetched, submit, read };
}

/** Lets `n` turns of the microtask queue pass (no timer, no event-loop turn). */
async function microtasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

const urlsOn = (host: string, n: number) => Array.from({ length: n }, (_, i) => `https://${host}/page/${i}`);

describe("Dispatcher", () => {
  it("runs every task and records it SUCCEEDED, published once", async () => {
    const h = await harness();
    const sub = await h.submit([...urlsOn("a.example", 3), ...urlsOn("b.example", 2)]);
    await h.dispatcher.start();
    await within(WAIT_MS, "5 completions", sub.done.until(5));
    const rows = await h.read(sub.tasks);
    for (const row of rows) {
      const crawled = pageFor(row.url);
      expect(row).toMatchObject({ status: "SUCCEEDED", attempts: 1, worker: 7, error: null, result: crawled.ok ? crawled.page : null });
    }
    expect(sub.done.tasks.map((t) => t.id).sort((a, b) => a - b)).toEqual(sub.tasks.map((t) => t.id));
    expect(sub.done.tasks).toEqual(expect.arrayContaining(rows));
    expect(h.pool.jobs.map((j) => j.taskId).sort((a, b) => a - b)).toEqual(sub.tasks.map((t) => t.id));
    expect(h.dispatcher.inFlight).toBe(0);
  });

  it("never runs more crawls at once on a host than its limit (the submission's or the operator's), and reaches it", async () => {
    const h = await harness({ perHostCap: 3, dispatcher: { maxInFlight: 10 } });
    const gentle = await h.submit(urlsOn("a.example", 8), { perHostConcurrency: 2 });
    const eager = await h.submit(urlsOn("b.example", 8), { perHostConcurrency: 5 });
    await h.dispatcher.start();
    await within(WAIT_MS, "every completion", Promise.all([gentle.done.until(8), eager.done.until(8)]));
    expect(h.pool.maxActive.get("a.example")).toBe(2);
    expect(h.pool.maxActive.get("b.example")).toBe(3);
  });

  it("never has more than maxInFlight crawls in the pool", async () => {
    const h = await harness({ dispatcher: { maxInFlight: 3 } });
    const sub = await h.submit(Array.from({ length: 12 }, (_, i) => `https://h${i}.example/`));
    await h.dispatcher.start();
    await within(WAIT_MS, "12 completions", sub.done.until(12));
    expect(h.pool.maxActiveTotal).toBe(3);
  });

  it("claims once per look for work when the store offers less than there is room for, and every task offered starts", async () => {
    const h = await harness({ dispatcher: { maxInFlight: 10 } });
    await h.submit(["https://a.example/1", "https://b.example/1", "https://c.example/1"]);
    h.pool.hold();
    const before = h.real.statementCounts().claim ?? 0;
    await h.dispatcher.start();
    await within(WAIT_MS, "3 crawls", h.pool.until(() => h.pool.jobs.length === 3));
    for (let i = 0; i < 5; i++) await nextTurn();
    expect((h.real.statementCounts().claim ?? 0) - before).toBe(1);
    h.pool.release();
  });

  it("does not let a busy host hold back the tasks of other hosts queued behind it", async () => {
    const h = await harness({ dispatcher: { maxInFlight: 3 } });
    h.pool.hold();
    const busy = await h.submit(urlsOn("busy.example", 10), { perHostConcurrency: 1 });
    const other = await h.submit(["https://other.example/1", "https://other.example/2"]);
    await h.dispatcher.start();
    await within(WAIT_MS, "a crawl on busy.example and both on other.example", h.pool.until(() => h.pool.jobs.length === 3));
    expect(h.pool.jobs.map((j) => new URL(j.url).hostname).sort()).toEqual(["busy.example", "other.example", "other.example"]);
    h.pool.release();
    await within(WAIT_MS, "every completion", Promise.all([busy.done.until(10), other.done.until(2)]));
  });

  it("spaces the starts on one host by the submission's hostDelayMs", async () => {
    const hostDelayMs = 5;
    const h = await harness();
    const sub = await h.submit(urlsOn("a.example", 4), { hostDelayMs, perHostConcurrency: 4 });
    await h.dispatcher.start();
    await within(WAIT_MS, "4 completions", sub.done.until(4));
    // The gate admits at the time the dispatcher's look for work began; the crawl starts just after.
    const admitted = h.gate.admittedAt;
    const gaps = admitted.slice(1).map((at, i) => at - admitted[i]!);
    expect(gaps).toHaveLength(3);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(hostDelayMs);
    // Each job carries the delay: the thread keeps the host's connection for the next one.
    expect(h.pool.jobs.map((job) => job.hostDelayMs)).toEqual([hostDelayMs, hostDelayMs, hostDelayMs, hostDelayMs]);
  });

  it("spaces the requests leaving for a host by hostDelayMs from their departures, however late a worker sends them", async () => {
    const hostDelayMs = 30;
    const h = await harness();
    // Every other crawl leaves 50 ms after it is handed over, the others at once. Counted from the admissions
    // (as before), a late one and the prompt one after it would leave 10 ms apart, in reverse order.
    h.pool.departureDelayMs = (job) => (job.taskId % 2 === 0 ? 50 : 0);
    const delayed = await h.submit(urlsOn("a.example", 5), { hostDelayMs, perHostConcurrency: 4 });
    const prompt = await h.submit(urlsOn("b.example", 3));
    await h.dispatcher.start();
    await within(WAIT_MS, "every completion", Promise.all([delayed.done.until(5), prompt.done.until(3)]));
    const departures = h.pool.departures.filter((d) => d.host === "a.example");
    expect(departures.map((d) => d.taskId).sort((a, b) => a - b)).toEqual(delayed.tasks.map((t) => t.id));
    for (const [i, departure] of departures.entries()) {
      if (i === 0) continue;
      const previous = departures[i - 1]!;
      expect(departure.at - previous.at, JSON.stringify(departures)).toBeGreaterThanOrEqual(hostDelayMs);
      // Not even handed over before the previous request had left, plus the delay.
      expect(departure.handedOverAt - previous.at, JSON.stringify(departures)).toBeGreaterThanOrEqual(hostDelayMs);
    }
    // A host without a delay costs no departure report.
    expect(h.pool.reporting.sort((a, b) => a - b)).toEqual(delayed.tasks.map((t) => t.id));
  });

  it("reopens a delayed host after the delay from the end of a crawl that never reported leaving", async () => {
    const hostDelayMs = 30;
    const h = await harness();
    // Refused before any request (the SSRF guard): no departure comes; the host must not stay closed.
    h.pool.answer = () => ({ ok: false, error: { code: "BLOCKED_ADDRESS", message: "private address", retryable: false, beforeRequest: true } });
    h.pool.departureDelayMs = () => Number.POSITIVE_INFINITY;
    const sub = await h.submit(urlsOn("a.example", 3), { hostDelayMs, perHostConcurrency: 4, maxRetries: 0 });
    await h.dispatcher.start();
    await within(WAIT_MS, "3 completions", sub.done.until(3));
    for (const row of await h.read(sub.tasks)) expect(row).toMatchObject({ status: "FAILED", error: { code: "BLOCKED_ADDRESS" } });
    expect(h.pool.departures).toEqual([]);
  });

  it("retries a retryable failure after a backoff, then FAILED once maxRetries are used", async () => {
    const h = await harness();
    h.pool.answer = () => ({ ok: false, error: { code: "HTTP_STATUS", message: "HTTP 503", retryable: true, httpStatus: 503 } });
    const sub = await h.submit(["https://a.example/flaky"], { maxRetries: 2 });
    await h.dispatcher.start();
    await within(WAIT_MS, "the completion", sub.done.until(1));
    const [row] = await h.read(sub.tasks);
    expect(row).toMatchObject({ status: "FAILED", attempts: 3, error: { code: "HTTP_STATUS", message: "HTTP 503" } });
    expect(h.pool.crawlsOf(row!.id)).toBe(3);
    expect(sub.done.tasks).toEqual([row]);
  });

  it("a retried task that then succeeds ends SUCCEEDED, its attempts counted", async () => {
    const h = await harness();
    h.pool.answer = (job, attempt) =>
      attempt === 1 ? { ok: false, error: { code: "TIMEOUT", message: "no answer", retryable: true } } : pageFor(job.url);
    const sub = await h.submit(["https://a.example/once"], { maxRetries: 2 });
    await h.dispatcher.start();
    await within(WAIT_MS, "the completion", sub.done.until(1));
    const [row] = await h.read(sub.tasks);
    expect(row).toMatchObject({ status: "SUCCEEDED", attempts: 2, error: null });
    expect(sub.done.tasks).toEqual([row]);
  });

  it("a failure before any request was sent ends FAILED with attempts 0, not retried", async () => {
    const h = await harness();
    h.pool.answer = () => ({ ok: false, error: { code: "BLOCKED_ADDRESS", message: "private address", retryable: false, beforeRequest: true } });
    const sub = await h.submit(["https://a.example/private"], { maxRetries: 2 });
    await h.dispatcher.start();
    await within(WAIT_MS, "the completion", sub.done.until(1));
    const [row] = await h.read(sub.tasks);
    expect(row).toMatchObject({ status: "FAILED", attempts: 0, error: { code: "BLOCKED_ADDRESS" } });
    expect(h.pool.crawlsOf(row!.id)).toBe(1);
  });

  it("rejects a URL robots.txt disallows as ROBOTS_DISALLOWED without crawling it", async () => {
    const h = await harness({
      robots: { "https://a.example": { kind: "found", url: "https://a.example/robots.txt", body: "User-agent: *\nDisallow: /private\n" } },
    });
    const sub = await h.submit(["https://a.example/private/1", "https://a.example/public", "https://a.example/private/2"], { respectRobots: true });
    await h.dispatcher.start();
    await within(WAIT_MS, "3 completions", sub.done.until(3));
    const [private1, publicPage, private2] = await h.read(sub.tasks);
    for (const row of [private1!, private2!]) {
      expect(row).toMatchObject({ status: "FAILED", attempts: 0, error: { code: "ROBOTS_DISALLOWED" } });
      expect(h.pool.crawlsOf(row.id)).toBe(0);
    }
    expect(publicPage).toMatchObject({ status: "SUCCEEDED", attempts: 1 });
    expect(h.robotsFetched).toEqual(["https://a.example"]);
    expect(h.pool.jobs).toEqual([{ taskId: publicPage!.id, url: publicPage!.url, respectRobots: true, hostDelayMs: 0 }]);
  });

  it("records a crashed pool worker as FAILED INTERNAL and gives the slot back", async () => {
    const h = await harness();
    h.pool.answer = () => new Error("worker exited with code 1");
    const sub = await h.submit(urlsOn("a.example", 3), { perHostConcurrency: 1, maxRetries: 2 });
    await h.dispatcher.start();
    await within(WAIT_MS, "3 completions", sub.done.until(3));
    for (const row of await h.read(sub.tasks)) {
      expect(row).toMatchObject({ status: "FAILED", attempts: 1, worker: null, error: { code: "INTERNAL", message: "worker exited with code 1" } });
    }
    expect(h.pool.jobs).toHaveLength(3);
  });

  it("stop(grace): a crawl finishing within the grace is saved; one outliving it goes back to PENDING, unpublished", async () => {
    const h = await harness();
    h.pool.hold();
    const sub = await h.submit(["https://a.example/quick", "https://b.example/slow"]);
    const [quick, slow] = sub.tasks as [Task, Task];
    await h.dispatcher.start();
    await within(WAIT_MS, "both crawls", h.pool.until(() => h.pool.jobs.length === 2));
    const stopping = h.dispatcher.stop(20);
    h.pool.release(quick.id);
    await stopping;
    const [quickRow, slowRow] = await h.read(sub.tasks);
    expect(quickRow).toMatchObject({ status: "SUCCEEDED" });
    expect(slowRow).toMatchObject({ status: "PENDING", attempts: 1, startedAt: null });
    expect(sub.done.tasks).toEqual([quickRow]);
    // Its late result is ignored: the row stays PENDING for the next start.
    h.pool.release(slow.id);
    await within(WAIT_MS, "the late crawl", h.pool.until(() => h.pool.active("b.example") === 0));
    await nextTurn();
    await nextTurn();
    expect(await h.read([slow])).toEqual([slowRow]);
    expect(sub.done.tasks).toEqual([quickRow]);
    expect(h.dispatcher.inFlight).toBe(0);
  });

  it("stop(grace): a crawl that ends while stop() saves the last results still goes back to PENDING", async () => {
    const h = await harness();
    h.pool.hold();
    const sub = await h.submit(["https://a.example/saved", "https://b.example/late"]);
    const [saved, late] = sub.tasks as [Task, Task];
    await h.dispatcher.start();
    await within(WAIT_MS, "both crawls", h.pool.until(() => h.pool.jobs.length === 2));
    // The first result's write is under way (held) when the shutdown starts...
    const save = h.store.pause("finishAttempts");
    h.pool.release(saved.id);
    await within(WAIT_MS, "the first result's write", save.reached);
    const graceMs = 5;
    const stopping = h.dispatcher.stop(graceMs);
    // ...the grace runs out (a timer set after stop()'s and expiring later fires after it), so stop()
    // gives up on the running crawl and waits for that write; meanwhile the crawl ends.
    await setTimeout(graceMs * 4);
    h.pool.release(late.id);
    await within(WAIT_MS, "the late crawl", h.pool.until(() => h.pool.active("b.example") === 0));
    await nextTurn();
    save.resume();
    await stopping;
    const [savedRow, lateRow] = await h.read(sub.tasks);
    expect(savedRow).toMatchObject({ status: "SUCCEEDED" });
    expect(lateRow).toMatchObject({ status: "PENDING", attempts: 1 });
    expect(sub.done.tasks).toEqual([savedRow]);
  });

  it("stop() lets a claim in flight finish: the tasks it claimed go back to PENDING, unpublished", async () => {
    const h = await harness();
    h.pool.hold();
    const sub = await h.submit(["https://a.example/claimed-during-stop"]);
    // A store whose claim takes a while (any store with real I/O): the shutdown starts while it is under way.
    const claim = h.store.pause("claim");
    await h.dispatcher.start();
    await within(WAIT_MS, "the claim", claim.reached);
    const stopping = h.dispatcher.stop(0);
    await nextTurn();
    claim.resume();
    await stopping;
    // The claim committed and its task went to the pool (before stop() resolved, or, were stop() not to
    // wait for the claim, after it).
    await within(WAIT_MS, "the claimed task's crawl", h.pool.until(() => h.pool.jobs.length === 1));
    const [row] = await h.read(sub.tasks);
    expect(row).toMatchObject({ status: "PENDING", attempts: 1 });
    h.pool.release();
    await within(WAIT_MS, "the crawl", h.pool.until(() => h.pool.active("a.example") === 0));
    await nextTurn();
    expect(await h.read(sub.tasks)).toEqual([row]);
    expect(sub.done.tasks).toEqual([]);
  });

  it("start() puts the claims another process left RUNNING back to PENDING and runs them", async () => {
    const h = await harness();
    const sub = await h.submit(["https://a.example/orphan", "https://a.example/pending"]);
    const [orphan] = sub.tasks as [Task, Task];
    const dead = new TaskLifecycle({ store: h.real, bus: h.bus, owner: "a-process-that-crashed" });
    const [orphanClaim] = await dead.claim({ limit: 10, skipHosts: new Set(), admit: (c) => c.id === orphan.id });
    await h.dispatcher.start();
    await within(WAIT_MS, "2 completions", sub.done.until(2));
    const [orphanRow, pendingRow] = await h.read(sub.tasks);
    expect(orphanRow).toMatchObject({ status: "SUCCEEDED", attempts: 2 });
    expect(pendingRow).toMatchObject({ status: "SUCCEEDED", attempts: 1 });
    // The crashed process's claim can no longer end the task.
    expect(await dead.finishAttempts([{ id: orphan.id, attempt: orphanClaim!.task.attempts, worker: 1, kind: "fail", error: { code: "INTERNAL", message: "late" }, attemptMade: true }])).toEqual([]);
    expect(sub.done.countsById()).toEqual(new Map([[orphan.id, 1], [sub.tasks[1]!.id, 1]]));
  });

  // wake() while a pump runs asks it to look again; one arriving just as the pump ends must start a new one.
  it("never loses a wake() that arrives while the dispatcher is finishing a look for work", async () => {
    for (let ticks = 0; ticks <= 12; ticks++) {
      const h = await harness();
      // The dispatcher's first look finds nothing and then asks when a delayed task is due: it waits there.
      const pause = h.store.pause("nextRunAt");
      await h.dispatcher.start();
      await within(WAIT_MS, "the first look for work", pause.reached);
      // A submission commits after that look's claim, and wakes the dispatcher (as TaskService does),
      // `ticks` microtasks after the look resumes: at some offset the wake lands as the look ends.
      const sub = await h.submit(["https://a.example/late-submission"]);
      pause.resume();
      await microtasks(ticks);
      h.dispatcher.wake();
      await within(1_000, `the completion (wake ${ticks} microtasks after the look resumed)`, sub.done.until(1));
      await closers.pop()!();
    }
  });

  describe("with a failing database", () => {
    it("a claim that fails after taking host slots gives them all back: the host's tasks still all complete", async () => {
      const h = await harness();
      h.store.fail("claim", 3);
      const sub = await h.submit(urlsOn("a.example", 4), { perHostConcurrency: 2 });
      await h.dispatcher.start();
      await within(WAIT_MS, "4 completions", sub.done.until(4));
      expect(h.store.failures.claim).toBe(3);
      for (const row of await h.read(sub.tasks)) expect(row).toMatchObject({ status: "SUCCEEDED", attempts: 1 });
    });

    it("after a claim that failed holding one slot, a host with per-host limit N still runs N at once", async () => {
      const h = await harness();
      h.store.fail("claim", 1);
      h.store.claimFailsAfterAdmitting = 1;
      h.pool.hold();
      const sub = await h.submit(urlsOn("a.example", 6), { perHostConcurrency: 3 });
      await h.dispatcher.start();
      await within(WAIT_MS, "3 crawls at once on a.example", h.pool.until(() => h.pool.active("a.example") === 3));
      expect(h.store.failures.claim).toBe(1);
      h.pool.release();
      await within(WAIT_MS, "6 completions", sub.done.until(6));
      expect(h.pool.maxActive.get("a.example")).toBe(3);
    });

    it("results whose write fails a few times are saved once it heals: none lost, none crawled again, each published once", async () => {
      const h = await harness({ dispatcher: { resultWriteTries: 5 } });
      h.store.fail("finishAttempts", 3);
      const sub = await h.submit(["https://a.example/1", "https://b.example/1", "https://c.example/1"]);
      await h.dispatcher.start();
      await within(WAIT_MS, "3 completions", sub.done.until(3));
      expect(h.store.failures.finishAttempts).toBe(3);
      const rows = await h.read(sub.tasks);
      for (const row of rows) expect(row).toMatchObject({ status: "SUCCEEDED", attempts: 1 });
      expect(h.pool.jobs).toHaveLength(3);
      expect(sub.done.countsById()).toEqual(new Map(sub.tasks.map((t) => [t.id, 1])));
      expect(h.dispatcher.inFlight).toBe(0);
    });

    it("a result that cannot be saved within resultWriteTries is requeued, runs again once healthy, ends SUCCEEDED once", async () => {
      const h = await harness({ dispatcher: { resultWriteTries: 2 } });
      h.store.fail("finishAttempts");
      // The database heals as soon as the task has been put back.
      h.store.onEvent((event) => {
        if (event.kind === "requeued") h.store.heal("finishAttempts");
      });
      const requeued = h.store.next((event) => event.kind === "requeued");
      const sub = await h.submit(["https://a.example/lost-result"]);
      const [task] = sub.tasks as [Task];
      await h.dispatcher.start();
      await within(WAIT_MS, "the completion", sub.done.until(1));
      expect(await requeued).toMatchObject({ kind: "requeued", count: 1, rows: [{ id: task.id, status: "PENDING", attempts: 1 }] });
      expect(h.store.failures.finishAttempts).toBe(2);
      const [row] = await h.read([task]);
      expect(row).toMatchObject({ status: "SUCCEEDED", attempts: 2 });
      expect(h.pool.crawlsOf(task.id)).toBe(2);
      expect(sub.done.tasks).toEqual([row]);
    });

    it("while the requeue of an unsaved result fails too, the task keeps its host slot; once it commits the task runs again", async () => {
      const h = await harness({ dispatcher: { resultWriteTries: 1 } });
      h.store.fail("finishAttempts");
      h.store.fail("requeue", 2);
      let crawlsWhenRequeued: number[] = [];
      h.store.onEvent((event) => {
        if (event.kind !== "requeued") return;
        crawlsWhenRequeued = h.pool.jobs.map((j) => j.taskId);
        h.store.heal("finishAttempts");
      });
      const sub = await h.submit(urlsOn("a.example", 2), { perHostConcurrency: 1 });
      const [first, second] = sub.tasks as [Task, Task];
      await h.dispatcher.start();
      await within(WAIT_MS, "2 completions", sub.done.until(2));
      expect(h.store.failures.requeue).toBe(2);
      // The second task could not start before the first one's slot was given back with its requeue.
      expect(crawlsWhenRequeued).toEqual([first.id]);
      const [firstRow, secondRow] = await h.read(sub.tasks);
      expect(firstRow).toMatchObject({ status: "SUCCEEDED", attempts: 2 });
      expect(secondRow).toMatchObject({ status: "SUCCEEDED", attempts: 1 });
      expect(sub.done.countsById()).toEqual(new Map([[first.id, 1], [second.id, 1]]));
    });

    it("resumes by itself once the database heals, with no wake() from outside", async () => {
      const h = await harness();
      h.store.fail("claim", 4);
      const sub = await h.submit([...urlsOn("a.example", 2), ...urlsOn("b.example", 2)]);
      // start() wakes the dispatcher once; every claim it then makes fails until the fifth.
      await h.dispatcher.start();
      await within(WAIT_MS, "4 completions", sub.done.until(4));
      expect(h.store.failures.claim).toBe(4);
      for (const row of await h.read(sub.tasks)) expect(row).toMatchObject({ status: "SUCCEEDED", attempts: 1 });
    });
  });
});

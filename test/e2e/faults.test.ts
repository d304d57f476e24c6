/**
 * Faults: clients that vanish mid-wait or mid-stream, and pool threads that crash.
 *
 * (a) and (b) run the whole app in this process behind a real socket (`app.listen()`), so the test can
 * also read the server's side: the completion bus's live subscriptions and the service's open feeds.
 * (c) runs the real service (node dist/src/main.js) with a `--require` preload that can crash a pool
 * thread on demand (test/helpers/worker-crash-preload.cts): an uncaught exception in a thread must not
 * take the service down, so it cannot run inside the test runner's process.
 */
import { fileURLToPath } from "node:url";
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { gqlData } from "../../testkit/graphql-client.js";
import { startGatedSite, type GatedSite } from "../helpers/gated-site.js";
import { startInProcessApp, type InProcessApp } from "../helpers/in-process-app.js";
import { Batch, Result, TaskDone } from "../../src/client/operations.js";
import { SUBMIT, type TaskView } from "../helpers/queries.js";
import { startService, tempDatabase, type RunningService } from "../helpers/service.js";

/** Resolves once `condition` holds, checked every few ms (bounded); for server state that has no event. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A graphql-ws client on `url` that hands each of its sockets to `onSocket` (to drop it later). */
function wsClientWithSockets(url: string, options: Partial<Parameters<typeof createClient>[0]> = {}): Client {
  return createClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, ...options });
}

describe("clients that go away (in-process app, real socket)", () => {
  let site: FixtureSite;
  let gated: GatedSite;
  let app: InProcessApp;
  let url: string;

  beforeAll(async () => {
    site = await startFixtureSite();
    gated = await startGatedSite();
    app = await startInProcessApp({
      // A held page stays RUNNING for the whole file; a stop does not wait for it.
      CRAWLQ_TASK_TIMEOUT_MS: "120000",
      CRAWLQ_SHUTDOWN_GRACE_MS: "0",
      CRAWLQ_MAX_RETRIES: "0",
      CRAWLQ_PER_HOST_CONCURRENCY: "32",
    });
    url = await app.listen();
  });

  afterAll(async () => {
    await app?.close();
    await gated?.close();
    await site?.close();
  });

  async function submit(urls: string[]): Promise<TaskView[]> {
    const { data, errors } = await app.graphql(SUBMIT, { urls });
    expect(errors).toBeUndefined();
    return data!.submitCrawl.tasks;
  }

  // (a) The HTTP variant is in test/in-process/api.test.ts; this is the graphql-ws one. If the socket's close
  // did not abort the waits (server.ts: one AbortSignal per socket), every wait would hold its bus
  // subscription for its full 300 s and the count would never return to 0.
  it.each(["closes its socket cleanly", "drops its socket (terminate, no close frame)"])(
    "(a) a graphql-ws client that %s while result() and batch() wait leaves no waiter behind",
    async (how) => {
      const warnings: Error[] = [];
      const onWarning = (warning: Error) => warnings.push(warning);
      process.on("warning", onWarning);
      const [task] = await submit([site.url(`/hang?a=${how.length}`)]);
      const sockets: WebSocket[] = [];
      const client = wsClientWithSockets(url, { on: { connected: (socket) => sockets.push(socket as WebSocket) } });
      const outcomes: Array<"next" | "error" | "complete"> = [];
      const sink = {
        next: () => outcomes.push("next"),
        error: () => outcomes.push("error"),
        complete: () => outcomes.push("complete"),
      };
      for (let i = 0; i < 20; i++) {
        client.subscribe({ query: String(Result), variables: { id: task!.id, timeoutMs: 300_000 } }, sink);
        client.subscribe({ query: String(Batch), variables: { ids: [task!.id], timeoutMs: 300_000 } }, sink);
      }
      await until(() => app.bus.subscriptionCount() === 40, "40 live waits over one WebSocket");
      expect(app.service.openFeeds).toBe(40);
      expect(sockets).toHaveLength(1);

      if (how.startsWith("closes")) await client.dispose();
      else sockets[0]!.terminate();

      await until(() => app.bus.subscriptionCount() === 0, "every wait to end after the socket went");
      expect(app.service.openFeeds).toBe(0);
      // No wait answered: they ended because the client left, not because the task finished or timed out.
      expect(outcomes.filter((o) => o === "next")).toEqual([]);
      await client.dispose();
      // Forty waits share the socket's abort signal: no MaxListenersExceededWarning (Node reports it on the next tick).
      await new Promise((resolve) => setImmediate(resolve));
      process.off("warning", onWarning);
      expect(warnings.map((w) => w.name)).not.toContain("MaxListenersExceededWarning");
    },
  );

  // (b) If a dropped socket's stream were not replayed on resubscribe, the tasks finished while the client was
  // away (g5, g6) would be missing; if the replay sent a task twice or sent one not yet done, the per-connection
  // "each once" and "replayed = done before resubscribing" checks fail; if the dropped socket's feed leaked,
  // the subscription count would not return to 0 before the reconnect.
  it("(b) a taskDone(submissionId) stream whose socket is dropped halfway is whole after reconnect and resubscribe", async () => {
    const run = `b${Date.now()}`;
    const keys = Array.from({ length: 10 }, (_, i) => `${run}-g${i}`);
    const tasks = await submit(keys.map((k) => gated.url(k)));
    const byKey = new Map(keys.map((k, i) => [k, tasks[i]!.id]));
    const idsOf = (...ks: string[]) => ks.map((k) => byKey.get(k)!);
    // Every request is at the gate (RUNNING) before anything is released.
    await Promise.all(keys.map((k) => gated.arrived(k)));

    let connection = 0;
    let socket: WebSocket | null = null;
    let allowReconnect!: () => void;
    const reconnect = new Promise<void>((resolve) => (allowReconnect = resolve));
    const client = wsClientWithSockets(url, {
      retryAttempts: 1,
      retryWait: () => reconnect,
      on: {
        connected: (s) => {
          connection++;
          socket = s as WebSocket;
        },
      },
    });
    const received: Array<{ connection: number; task: TaskView }> = [];
    const waiters: Array<{ n: number; resolve: () => void }> = [];
    const errors: unknown[] = [];
    let completed!: () => void;
    const done = new Promise<void>((resolve) => (completed = resolve));
    const arrivedCount = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${received.length} of ${n} tasks: ${JSON.stringify(received)}`)), 10_000);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
        if (received.length >= n) waiters.at(-1)!.resolve();
      });
    client.subscribe<{ taskDone: TaskView }>(
      { query: String(TaskDone), variables: { submissionId: tasks[0]!.submissionId } },
      {
        next: (value) => {
          if (value.errors) errors.push(value.errors);
          else received.push({ connection, task: value.data!.taskDone });
          for (const w of waiters) if (received.length >= w.n) w.resolve();
        },
        error: (error) => {
          errors.push(error);
          completed();
        },
        complete: () => completed(),
      },
    );

    // First connection: five tasks finish while it listens (live events, once its subscription is live).
    await until(() => app.bus.subscriptionCount() === 1, "the stream's subscription to be live");
    for (const k of keys.slice(0, 5)) gated.release(k);
    await arrivedCount(5);
    expect(connection).toBe(1);
    socket!.terminate();
    // The server notices the dropped socket and ends its stream's feed.
    await until(() => app.bus.subscriptionCount() === 0, "the dropped socket's subscription to end");
    expect(app.service.openFeeds).toBe(0);

    // Two more finish while the client is away.
    gated.release(keys[5]!);
    gated.release(keys[6]!);
    const away = await app.graphql(Batch, { ids: idsOf(keys[5]!, keys[6]!), timeoutMs: 10_000 });
    expect(away.data?.batch.complete).toBe(true);

    // Reconnect: graphql-ws resubscribes the same operation; the seven done tasks are replayed first.
    allowReconnect();
    await arrivedCount(5 + 7);
    expect(connection).toBe(2);
    for (const k of keys.slice(7)) gated.release(k);
    await done;
    await client.dispose();

    expect(errors).toEqual([]);
    const before = received.filter((r) => r.connection === 1).map((r) => r.task.id);
    const after = received.filter((r) => r.connection === 2).map((r) => r.task.id);
    expect(before).toHaveLength(5);
    expect(new Set(before)).toEqual(new Set(idsOf(...keys.slice(0, 5))));
    // Each once per connection.
    expect(new Set(after).size).toBe(after.length);
    // The replay is exactly the tasks done before the resubscription, then the rest live.
    expect(new Set(after.slice(0, 7))).toEqual(new Set(idsOf(...keys.slice(0, 7))));
    expect(new Set(after.slice(7))).toEqual(new Set(idsOf(...keys.slice(7))));
    // Before + after, de-duplicated by id: every task exactly once.
    const union = new Map(received.map((r) => [r.task.id, r.task]));
    expect([...union.keys()].sort()).toEqual(tasks.map((t) => t.id).sort());
    for (const task of union.values()) expect(task.status).toBe("SUCCEEDED");
    await until(() => app.bus.subscriptionCount() === 0, "the stream's subscription to end after it completed");
    expect(app.service.openFeeds).toBe(0);
  });
});

/** `node --require` for the real service: pool threads that can be crashed on demand. */
const WORKER_CRASH_NODE_ARGS = ["--require", fileURLToPath(new URL("../helpers/worker-crash-preload.cjs", import.meta.url))];

// One service for the three crashes (a start costs ~2 s); the idle crash, which used to end the service, runs last.
describe("(c) a pool thread that crashes (real service, one pool thread)", () => {
  const db = tempDatabase();
  let site: FixtureSite;
  let service: RunningService;

  beforeAll(async () => {
    site = await startFixtureSite();
    service = await startService(
      db.url,
      {
        CRAWLQ_THREADS: "1",
        CRAWLQ_MAX_RETRIES: "0",
        // Long enough that only the crash can end the held page within the test's waits.
        CRAWLQ_TASK_TIMEOUT_MS: "60000",
        CRAWLQ_SHUTDOWN_GRACE_MS: "0",
        CRAWLQ_RESOLVE: "crash-robots.test=127.0.0.1",
      },
      { nodeArgs: WORKER_CRASH_NODE_ARGS },
    );
    await service.waitForOutput(/crawlq-test: worker \d+ up/);
  });

  afterAll(async () => {
    await service?.stop();
    await site?.close();
    db.remove();
  });

  /** Every pool thread started so far, in order; the last one is the thread running now. */
  const workersUp = () => [...service.output().matchAll(/crawlq-test: worker (\d+) up/g)].map((m) => Number(m[1]));

  /** The promise's value, unless the service exits first (then the test fails, with its output). */
  function unlessServiceDies<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([
      promise,
      service.exited.then((code) => {
        throw new Error(`the service exited (${code}):\n${service.output().slice(-3000)}`);
      }),
    ]);
  }

  /** Resolves with the id of the next pool thread to start (not one of `known`). */
  async function replacementFor(known: number[]): Promise<number> {
    const fresh = new RegExp(`crawlq-test: worker (?!(?:${known.join("|")}) up)\\d+ up`);
    await unlessServiceDies(service.waitForOutput(fresh));
    return workersUp().find((id) => !known.includes(id))!;
  }

  async function submit(urls: string[]): Promise<TaskView[]> {
    return (await unlessServiceDies(gqlData(service.url, SUBMIT, { urls }))).submitCrawl.tasks;
  }

  async function finished(tasks: TaskView[]): Promise<TaskView[]> {
    const { batch } = await unlessServiceDies(gqlData(service.url, Batch, { ids: tasks.map((t) => t.id), timeoutMs: 15_000 }));
    expect(batch.complete).toBe(true);
    return batch.tasks;
  }

  /** Work submitted now completes, on the thread that replaced the crashed one, and nothing is left running. */
  async function servesOnThread(worker: number) {
    const later = await finished(await submit([1, 2, 3, 4].map((n) => site.url(`/page/${n}?after-crash`))));
    for (const task of later) {
      expect(task.status).toBe("SUCCEEDED");
      expect(task.worker).toBe(worker);
    }
    const { pool } = await gqlData(service.url, `{ pool { threads running inFlight } }`);
    expect(pool).toEqual({ threads: 1, running: 0, inFlight: 0 });
    expect(service.process.exitCode).toBeNull();
  }

  // If the crash took the service down, every later call fails (unlessServiceDies says so); if the dispatcher
  // did not turn the pool's rejection into a result, the task would stay RUNNING and batch() would not complete;
  // if piscina did not replace the thread, no new "up" line would come and later tasks would never run.
  it("crashes while running a task: that task FAILS with INTERNAL, the thread is replaced, later tasks complete", async () => {
    const known = workersUp();
    const first = known.at(-1)!;
    const [warmUp] = await finished(await submit([site.url("/page/1?before-crash")]));
    expect(warmUp).toMatchObject({ status: "SUCCEEDED", worker: first });

    // Another task in flight on the same thread when it dies.
    const [bystander] = await submit([site.url("/hang?bystander")]);
    await site.waitForRequests("/hang?bystander", 1);
    const [victim] = await submit([site.url("/page/2?crash-worker-now")]);

    const [crashed] = await finished([victim!]);
    expect(crashed!.status).toBe("FAILED");
    expect(crashed!.error?.code).toBe("INTERNAL");
    expect(crashed!.error?.message).toMatch(/injected crash/);
    expect(crashed!.error?.message).not.toMatch(/\n\s+at /); // no stack trace
    expect(crashed!.attempts).toBe(1);
    // Every acknowledged task ends: the one that shared the thread is not left RUNNING (its page never answers,
    // and the task timeout is far beyond this wait).
    const [shared] = await finished([bystander!]);
    expect(shared!.done).toBe(true);

    await servesOnThread(await replacementFor(known));
  });

  // The host gate turns a failed robots.txt job into "unreachable", so the origin's task fails with
  // ROBOTS_DISALLOWED instead of waiting in PENDING for a verdict that never comes.
  it("crashes while fetching robots.txt: the origin's task fails ROBOTS_DISALLOWED, the thread is replaced, later tasks complete", async () => {
    const known = workersUp();
    const first = known.at(-1)!;
    const [task] = await finished(await submit([`http://crash-robots.test:${site.port}/page/1`]));
    expect(task!.status).toBe("FAILED");
    expect(task!.error?.code).toBe("ROBOTS_DISALLOWED");
    expect(task!.error?.message).toMatch(/robots\.txt .* unreachable .*injected crash/);
    await servesOnThread(await replacementFor(known));
  });

  // Piscina reports a thread that dies with no task on it as an 'error' event on the pool; with no listener
  // that event is thrown on the main thread and the whole service exits (found by this test; CrawlPool now
  // listens and the app logs it).
  it("crashes while idle: the service stays up, the thread is replaced, later tasks complete", async () => {
    const known = workersUp();
    const first = known.at(-1)!;
    const [warmUp] = await finished(await submit([site.url("/page/1?before-idle-crash")]));
    expect(warmUp).toMatchObject({ status: "SUCCEEDED", worker: first });
    const { pool } = await gqlData(service.url, `{ pool { inFlight running } }`);
    expect(pool).toEqual({ inFlight: 0, running: 0 });

    service.process.kill("SIGUSR2");
    await unlessServiceDies(service.waitForOutput(new RegExp(`crawlq-test: worker ${first} crashing \\(SIGUSR2\\)`)));
    await servesOnThread(await replacementFor(known));
    expect(service.output()).toMatch(/a pool thread died while idle/);
  });
});

import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import WebSocket from "ws";
import type { Task } from "../../src/tasks/task.js";
import { ALL_TASKS } from "../../src/tasks/task-store.js";
import { startFixtureSite } from "../../testkit/fixture-site.js";
import type { Document } from "../../testkit/graphql-client.js";
import { startInProcessApp, type InProcessApp } from "../helpers/in-process-app.js";
import { Result, TaskDone } from "../../src/client/operations.js";
import { SUBMIT } from "../helpers/queries.js";

let app: InProcessApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Resolves once `condition` holds (bounded). */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A raw graphql-ws connection: messages by operation id. */
async function wsConnection(url: string) {
  const socket = new WebSocket(url.replace(/^http/, "ws"), "graphql-transport-ws");
  const messages: Array<{ id?: string; type: string; payload?: any }> = [];
  socket.on("message", (data) => messages.push(JSON.parse(String(data))));
  await new Promise<void>((resolve, reject) => socket.once("open", resolve).once("error", reject));
  socket.send(JSON.stringify({ type: "connection_init" }));
  await until(() => messages.some((m) => m.type === "connection_ack"), "connection_ack");
  const subscribe = (id: string, query: Document<any, any>, variables: Record<string, unknown> = {}) =>
    socket.send(JSON.stringify({ id, type: "subscribe", payload: { query: String(query), variables } }));
  return { socket, messages, subscribe };
}

/** A terminal task that exists only on the bus (no row): what a subscriber's stream is fed. */
function fakeDone(id: number): Task {
  const at = new Date();
  return {
    id, submissionId: 1, ownerKeyId: null, url: `https://a.example/${id}`, host: "a.example", status: "SUCCEEDED",
    attempts: 1, worker: 1, error: null, createdAt: at, startedAt: at, finishedAt: at,
    result: { httpStatus: 200, finalUrl: `https://a.example/${id}`, contentType: "text/html", contentLength: 1000,
      title: "x".repeat(500), linkCount: 1, fetchMs: 1, parseMs: 1 },
  };
}

// Only the rate-limit tests submit these, and they never wait for them to run.
const UNUSED = "http://127.0.0.1:9/never";

describe("caps", () => {
  it("refuses a blocking wait past the per-key cap with TOO_MANY_WAITS, and takes one again once a wait ends", async () => {
    app = await startInProcessApp({ CRAWLQ_MAX_WAITS_PER_KEY: "3", CRAWLQ_TASK_TIMEOUT_MS: "120000" });
    const site = await startFixtureSite();
    onTestFinished(() => site.close());
    const { data } = await app.graphql(SUBMIT, { urls: [site.url("/hang")] });
    const id = data!.submitCrawl.tasks[0]!.id;
    const controllers = [1, 2, 3].map(() => new AbortController());
    const held = controllers.map((c) => app!.graphql(Result, { id, timeoutMs: 300_000 }, { signal: c.signal }).catch(() => null));
    await until(() => app!.service.openFeeds === 3, "three live waits");
    const started = Date.now();
    const refused = await app.graphql(Result, { id, timeoutMs: 300_000 });
    expect(refused.errors?.[0]?.extensions?.code).toBe("TOO_MANY_WAITS");
    // At once, not after the 300 s the wait asked for (a loose bound for a busy machine).
    expect(Date.now() - started).toBeLessThan(5_000);

    controllers[0]!.abort();
    await held[0];
    await until(() => app!.service.openFeeds === 2, "one wait to end");
    const again = await app.graphql(Result, { id, timeoutMs: 0 });
    expect(again.errors?.[0]?.extensions?.code).toBe("TIMEOUT");
    for (const c of controllers) c.abort();
    await Promise.all(held);
  });

  it("refuses a subscription past the per-connection cap on that operation only", async () => {
    app = await startInProcessApp({ CRAWLQ_MAX_SUBSCRIPTIONS_PER_CONNECTION: "2" });
    const ws = await wsConnection(await app.listen());
    ws.subscribe("a", TaskDone);
    ws.subscribe("b", TaskDone);
    ws.subscribe("c", TaskDone);
    await until(() => ws.messages.some((m) => m.id === "c"), "an answer for c");
    const c = ws.messages.find((m) => m.id === "c")!;
    expect(c.type).toBe("error");
    expect(c.payload[0].extensions.code).toBe("TOO_MANY_SUBSCRIPTIONS");
    expect(ws.socket.readyState).toBe(WebSocket.OPEN);
    // Ending one frees its place.
    ws.socket.send(JSON.stringify({ id: "a", type: "complete" }));
    await until(() => app!.bus.subscriptionCount() === 1, "a to end");
    ws.subscribe("d", TaskDone);
    await until(() => app!.bus.subscriptionCount() === 2, "d to be live");
    expect(ws.messages.some((m) => m.id === "d" && m.type === "error")).toBe(false);
    ws.socket.close();
  });

  it("refuses a subscription past the service-wide cap with TOO_MANY_SUBSCRIPTIONS", async () => {
    app = await startInProcessApp({ CRAWLQ_MAX_SUBSCRIPTIONS: "2" });
    const url = await app.listen();
    const sockets = await Promise.all([1, 2, 3].map(() => wsConnection(url)));
    sockets[0]!.subscribe("s", TaskDone);
    sockets[1]!.subscribe("s", TaskDone);
    await until(() => app!.bus.subscriptionCount() === 2, "two live subscriptions");
    sockets[2]!.subscribe("s", TaskDone);
    await until(() => sockets[2]!.messages.some((m) => m.id === "s"), "an answer");
    const answer = sockets[2]!.messages.find((m) => m.id === "s")!;
    expect(JSON.stringify(answer.payload)).toContain("TOO_MANY_SUBSCRIPTIONS");
    for (const s of sockets) s.socket.close();
  });

  it("ends a subscriber that falls too far behind with SLOW_SUBSCRIBER, keeping the service's memory bounded", async () => {
    app = await startInProcessApp({ CRAWLQ_SUBSCRIBER_BUFFER: "100" });
    const ws = await wsConnection(await app.listen());
    ws.subscribe("slow", TaskDone);
    await until(() => app!.bus.subscriptionCount() === 1, "the subscription to be live");
    // The client stops reading: the kernel buffers fill, then the service's sends wait, then its queue grows.
    (ws.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    for (let batch = 0; batch < 200 && app.service.openFeeds > 0; batch++) {
      app.bus.publish(Array.from({ length: 250 }, (_, i) => fakeDone(batch * 250 + i + 1)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(app.service.openFeeds).toBe(0);
    expect(app.bus.subscriptionCount()).toBe(0);
    (ws.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    await until(() => ws.messages.some((m) => m.id === "slow" && m.type === "complete"), "the stream to complete", 20_000);
    const last = ws.messages.filter((m) => m.id === "slow" && m.type === "next").at(-1)!;
    expect(last.payload.errors[0].extensions.code).toBe("SLOW_SUBSCRIBER");
    ws.socket.close();
  });
});

describe("rate limits", () => {
  it("limits operations per key per minute with RATE_LIMITED, HTTP 429 and a retry-after", async () => {
    app = await startInProcessApp({ CRAWLQ_RATE_OPERATIONS_PER_MINUTE: "5" });
    for (let i = 0; i < 5; i++) expect((await app.graphql("{ pool { threads } }")).errors).toBeUndefined();
    const response = await app.yoga.fetch("http://crawlq.test/graphql", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ pool { threads } }" }),
    });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await response.json()) as { errors: Array<{ extensions: Record<string, any> }> };
    expect(body.errors[0]!.extensions.code).toBe("RATE_LIMITED");
    expect(body.errors[0]!.extensions.retryAfterMs).toBeGreaterThan(0);
  });

  it("limits submitted URLs per key per minute; a refused submission stores nothing and spends nothing", async () => {
    app = await startInProcessApp({ CRAWLQ_RATE_URLS_PER_MINUTE: "10" });
    const urls = (n: number) => Array.from({ length: n }, (_, i) => `${UNUSED}?${i}`);
    expect((await app.graphql(SUBMIT, { urls: urls(8) })).errors).toBeUndefined();
    const refused = await app.graphql(SUBMIT, { urls: urls(3) });
    expect(refused.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
    const counts = await app.store.countByStatus(ALL_TASKS);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(8);
    expect((await app.graphql(SUBMIT, { urls: urls(2) })).errors).toBeUndefined();
  });
});

describe("fan-out", () => {
  it("executes a completion once per distinct selection, however many subscribers asked for it", async () => {
    const { sharedExecutionCounts } = await import("../../src/http/shared-execution.js");
    app = await startInProcessApp();
    const url = await app.listen();
    const sockets = await Promise.all(Array.from({ length: 20 }, () => wsConnection(url)));
    // 15 subscribers share one selection, 5 another (a different document).
    sockets.forEach((s, n) => s.subscribe("s", n < 15 ? TaskDone : "subscription { taskDone { id url } }"));
    await until(() => app!.bus.subscriptionCount() === 20, "20 live subscriptions");
    const before = { ...sharedExecutionCounts };
    app.bus.publish([fakeDone(1), fakeDone(2), fakeDone(3)]);
    await until(() => sockets.every((s) => s.messages.filter((m) => m.type === "next").length === 3), "every delivery");
    expect(sharedExecutionCounts.executed - before.executed).toBe(3 * 2);
    expect(sharedExecutionCounts.reused - before.reused).toBe(3 * 18);
    const first = sockets[0]!.messages.filter((m) => m.type === "next").map((m) => m.payload);
    for (const s of sockets.slice(1, 15)) expect(s.messages.filter((m) => m.type === "next").map((m) => m.payload)).toEqual(first);
    for (const s of sockets) s.socket.close();
  });
});

describe("a subscription over many done tasks", () => {
  it("taskDone(ids: 10,000 done ids) delivers them all without stalling the event loop", async () => {
    app = await startInProcessApp();
    const urls = Array.from({ length: 10_000 }, (_, i) => ({ url: `https://done.example/${i}`, host: "done.example" }));
    const options = { maxRetries: 0, perHostConcurrency: 1, hostDelayMs: 0, respectRobots: false };
    const { tasks } = await app.store.createSubmission(urls, options, Date.now(), null);
    // Ended without running (robots.txt would say so): 10,000 done tasks, no crawling.
    await app.store.reject(tasks.map((t) => t.id), { code: "ROBOTS_DISALLOWED", message: "test" }, Date.now());
    const ws = await wsConnection(await app.listen());
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    ws.subscribe("many", "subscription ($ids: [ID!]) { taskDone(ids: $ids) { id status } }", { ids: tasks.map((t) => String(t.id)) });
    await until(() => ws.messages.some((m) => m.id === "many" && m.type === "complete"), "the stream to complete", 20_000).catch((e) => {
      throw new Error(`${e.message}: ${ws.messages.length} messages, last ${JSON.stringify(ws.messages.at(-1)).slice(0, 300)}`);
    });
    lag.disable();
    expect(ws.messages.filter((m) => m.id === "many" && m.type === "next")).toHaveLength(10_000);
    // Before: one such subscription stalled the event loop for 19 s. A loose bound for a busy machine.
    expect(lag.max / 1e6).toBeLessThan(1_000);
    ws.socket.close();
  });
});

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import type { ConnectionEvent } from "../../src/client/client.js";
import type { CrawlqClient } from "../../src/client/client.js";
import { CrawlqClientError, CrawlqConnectionError } from "../../src/client/errors.js";
import { followSubmission, type DoneTask } from "../../src/client/follow.js";
import { Pool, Result, SubmitCrawl, TaskDone } from "../../src/client/operations.js";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { unusedPort } from "../helpers/cli.js";
import { testClient } from "../helpers/client.js";
import { startInProcessApp, type InProcessApp } from "../helpers/in-process-app.js";

let site: FixtureSite;
let app: InProcessApp;
let url: string;
let client: CrawlqClient;

beforeAll(async () => {
  site = await startFixtureSite();
  app = await startInProcessApp();
  url = await app.listen();
  client = testClient(url);
});

afterAll(async () => {
  await client.close();
  await app.close();
  await site.close();
});

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail("expected a rejection"),
    (error: unknown) => error,
  );
}

describe("the typed client", () => {
  it("runs typed operations over HTTP", async () => {
    const { submitCrawl } = await client.request(SubmitCrawl, { urls: [site.url("/page/1")] });
    expect(submitCrawl.tasks).toHaveLength(1);
    const { result } = await client.request(Result, { id: submitCrawl.tasks[0]!.id, timeoutMs: 10_000 });
    expect(result).toMatchObject({ status: "SUCCEEDED", submissionId: submitCrawl.id, result: { title: "Page 1", httpStatus: 200 } });
    expect((await client.request(Pool)).pool.threads).toBe(2);
  });

  it("turns the server's errors into CrawlqClientError with their code, message and extensions", async () => {
    const bad = await failure(client.request(SubmitCrawl, { urls: ["https://ok.example/", "ftp://x/"] }));
    expect(bad).toBeInstanceOf(CrawlqClientError);
    expect(bad).toMatchObject({ code: "BAD_USER_INPUT", invalid: [{ index: 1, value: "ftp://x/", reason: "scheme must be http or https, not ftp" }] });
    const missing = await failure(client.request(Result, { id: "424242", timeoutMs: 0 }));
    expect(missing).toMatchObject({ name: "CrawlqClientError", code: "NOT_FOUND", message: "No task with id 424242" });
  });

  it("an answer that is not GraphQL is HTTP_<status>; a server that cannot be reached is CrawlqConnectionError", async () => {
    const proxy = testClient(url, { fetch: async () => new Response("<html>Bad Gateway</html>", { status: 502, statusText: "Bad Gateway" }) });
    expect(await failure(proxy.request(Pool))).toMatchObject({ code: "HTTP_502", status: 502 });
    const port = await unusedPort();
    const nowhere = testClient(`http://127.0.0.1:${port}/graphql`);
    const refused = await failure(nowhere.request(Pool));
    expect(refused).toBeInstanceOf(CrawlqConnectionError);
    expect((refused as Error).message).toBe(`cannot reach crawlq at http://127.0.0.1:${port}/graphql: connect ECONNREFUSED 127.0.0.1:${port}`);
    const watched = await new Promise<unknown>((resolve) => nowhere.subscribe(TaskDone, {}, { next: () => {}, error: resolve, complete: () => resolve(null) }));
    expect(watched).toBeInstanceOf(CrawlqConnectionError);
    await nowhere.close();
  });

  it("followSubmission reports each task once, live or already done; a subscription's error is typed", async () => {
    const urls = Array.from({ length: 30 }, (_, i) => site.url(`/page/${i + 1}`));
    const { submitCrawl } = await client.request(SubmitCrawl, { urls });
    const live: DoneTask[] = [];
    await followSubmission(client, submitCrawl.id, { total: urls.length, onTask: (task) => live.push(task) });
    expect(live.map((t) => t.url).sort()).toEqual([...urls].sort());
    expect(new Set(live.map((t) => t.id)).size).toBe(urls.length);

    // Done already: replayed in full, and the size is asked of the server.
    const replayed: DoneTask[] = [];
    await followSubmission(client, submitCrawl.id, { onTask: (task) => replayed.push(task) });
    expect(replayed.map((t) => t.id).sort()).toEqual(live.map((t) => t.id).sort());

    expect(await failure(followSubmission(client, "424242", { onTask: () => {} }))).toMatchObject({ code: "NOT_FOUND" });
    const streamed = await new Promise<unknown>((resolve) =>
      client.subscribe(TaskDone, { submissionId: "424242" }, { next: () => {}, error: resolve, complete: () => resolve(null) }),
    );
    expect(streamed).toMatchObject({ name: "CrawlqClientError", code: "NOT_FOUND" });
  });

  it("reports a loss the server caused after graphql-ws closed its idle socket, then the reconnection", { timeout: 30_000 }, async () => {
    // The race a restart sets up: the server ends every stream, graphql-ws closes the idle socket itself
    // (1000), and the socket's next try finds nobody. Sockets are tracked so the idle close is waited for.
    const sockets: WebSocket[] = [];
    class TrackedWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        sockets.push(this);
      }
    }
    const first = await startInProcessApp();
    const firstUrl = await first.listen();
    const events: ConnectionEvent[] = [];
    const watcher = testClient(firstUrl, { webSocketImpl: TrackedWebSocket, onConnection: (event) => events.push(event) });
    const { submitCrawl } = await watcher.request(SubmitCrawl, { urls: [site.url("/page/1")] });
    await followSubmission(watcher, submitCrawl.id, { total: 1, onTask: () => {} });
    await vi.waitFor(() => expect(sockets.every((socket) => socket.readyState === WebSocket.CLOSED)).toBe(true));
    expect(events).toEqual(["connected"]);

    await first.close();
    const done: unknown[] = [];
    const dispose = watcher.subscribe(TaskDone, {}, { next: (data) => done.push(data), error: (error) => done.push(error), complete: () => {} });
    await vi.waitFor(() => expect(events).toEqual(["connected", "lost"]));

    const second = await startInProcessApp({ PORT: new URL(firstUrl).port });
    try {
      await second.listen();
      await vi.waitFor(() => expect(events).toEqual(["connected", "lost", "reconnected"]), { timeout: 15_000 });
      expect(done).toEqual([]);
    } finally {
      dispose();
      await watcher.close();
      await second.close();
    }
  });
});

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClient as createWsClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import type { Document } from "../../testkit/graphql-client.js";
import { databaseFor, TEST_BACKENDS } from "../helpers/backends.js";
import { withRows } from "../helpers/database-rows.js";
import { startService, TEST_ENV, type RunningService } from "../helpers/service.js";
import { Batch, Result, TaskById, TaskDone } from "../../src/client/operations.js";
import { SUBMIT, type SubmitData, type TaskView } from "../helpers/queries.js";

const cliJs = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** Runs the `crawlq` command against the test database; returns stdout. */
function crawlq(databaseUrl: string, ...args: string[]): string {
  return execFileSync(process.execPath, [cliJs, ...args], {
    env: { ...process.env, ...TEST_ENV, DATABASE_URL: databaseUrl },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** One GraphQL operation over HTTP with a key; the status and body. */
async function call(url: string, key: string | null, query: Document<any, any>, variables: Record<string, unknown> = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query: String(query), variables }),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: Array<{ message: string; extensions?: any }> } };
}

describe.each(TEST_BACKENDS)("API keys on $name", (backend) => {
  const database = databaseFor(backend);
  let site: FixtureSite;
  let service: RunningService;
  let alice: string;
  let bob: string;
  let admin: string;

  beforeAll(async () => {
    site = await startFixtureSite();
    alice = crawlq(database().url, "keys", "create", "alice").trim();
    bob = crawlq(database().url, "keys", "create", "bob").trim();
    admin = crawlq(database().url, "keys", "create", "ops", "--admin").trim();
    service = await startService(database().url);
  }, 60_000); // three CLI processes, then the service: slow when the machine is busy

  afterAll(async () => {
    await service?.stop();
    await site?.close();
  });

  it("prints a key once and stores only its hash; list shows names and roles, never keys", async () => {
    expect(alice).toMatch(/^cq_[A-Za-z0-9_-]{43}$/);
    const listed = crawlq(database().url, "keys", "list");
    expect(listed).toMatch(/^alice\tclient\t/m);
    expect(listed).toMatch(/^ops\tadmin\t/m);
    expect(listed).not.toContain(alice);
    const stored = await withRows(database().url, (rows) => rows.all<{ hash: string }>(`SELECT hash FROM "ApiKey"`));
    expect(stored).toHaveLength(3);
    expect(JSON.stringify(stored)).not.toContain(alice);
  });

  it("refuses a request with no key, or an unknown one, with 401 and UNAUTHENTICATED", async () => {
    for (const key of [null, "cq_not-a-key"]) {
      const { status, body } = await call(service.url, key, "{ pool { threads } }");
      expect(status).toBe(401);
      expect(body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      expect(body.errors?.[0]?.extensions?.http).toBeUndefined();
    }
    const sse = await fetch(service.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ query: String(TaskDone) }),
    });
    expect(sse.status).toBe(401);
    await sse.body?.cancel();
  });

  it("closes a WebSocket without a key with 4401, and serves one with a key in connectionParams", async () => {
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
      const socket = new WebSocket(service.url.replace(/^http/, "ws"), "graphql-transport-ws");
      socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init" })));
      socket.on("close", (code, reason) => resolve({ code, reason: String(reason) }));
    });
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/API key/);

    const client = createWsClient({
      url: service.url.replace(/^http/, "ws"),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${alice}` },
    });
    const answer = await new Promise<any>((resolve, reject) =>
      client.subscribe({ query: "{ pool { threads } }" }, { next: resolve, error: reject, complete: () => {} }),
    );
    expect(answer.data.pool.threads).toBe(2);
    await client.dispose();
  });

  it("isolates keys: another key's tasks are NOT_FOUND everywhere, never streamed, never counted", async () => {
    const aliceUnfiltered: TaskView[] = [];
    const bobUnfiltered: TaskView[] = [];
    const clients = [alice, bob].map((key) =>
      createWsClient({
        url: service.url.replace(/^http/, "ws"),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        connectionParams: { authorization: `Bearer ${key}` },
      }),
    );
    const streams = [aliceUnfiltered, bobUnfiltered].map((into, i) => {
      let live!: () => void;
      const acknowledged = new Promise<void>((resolve) => (live = resolve));
      clients[i]!.on("connected", () => live());
      clients[i]!.subscribe({ query: String(TaskDone) }, { next: (r: any) => into.push(r.data.taskDone), error: () => {}, complete: () => {} });
      return acknowledged;
    });
    await Promise.all(streams);

    const submitted = await call(service.url, alice, SUBMIT, { urls: [site.url("/page/1"), site.url("/page/2")] });
    const { submitCrawl } = submitted.body.data as SubmitData;
    const [first, second] = submitCrawl.tasks.map((t) => t.id);
    const done = await call(service.url, alice, Batch, { submissionId: submitCrawl.id, timeoutMs: 10_000 });
    expect(done.body.data.batch.complete).toBe(true);

    expect((await call(service.url, bob, TaskById, { id: first })).body.data.task).toBeNull();
    const notFound = async (query: Document<any, any>, variables: Record<string, unknown>) =>
      (await call(service.url, bob, query, variables)).body.errors?.[0]?.extensions?.code;
    expect(await notFound(Result, { id: first, timeoutMs: 0 })).toBe("NOT_FOUND");
    expect(await notFound(Batch, { ids: [first, second], timeoutMs: 0 })).toBe("NOT_FOUND");
    expect(await notFound(Batch, { submissionId: submitCrawl.id, timeoutMs: 0 })).toBe("NOT_FOUND");
    expect(await notFound(`mutation { cancelTask(id: "${first}") { id } }`, {})).toBe("NOT_FOUND");
    expect(await notFound(TaskDone, { submissionId: submitCrawl.id })).toBe("NOT_FOUND");
    expect((await call(service.url, bob, "{ tasks { id } }")).body.data.tasks).toEqual([]);
    expect((await call(service.url, bob, "{ pool { succeeded } }")).body.data.pool.succeeded).toBe(0);
    expect((await call(service.url, alice, "{ pool { succeeded } }")).body.data.pool.succeeded).toBe(2);
    expect((await call(service.url, admin, "{ pool { succeeded } }")).body.data.pool.succeeded).toBe(2);
    expect((await call(service.url, admin, TaskById, { id: first })).body.data.task.id).toBe(first);

    // Both unfiltered streams were live before the tasks finished: alice got both, bob none.
    await new Promise<void>((resolve) => {
      const check = () => (aliceUnfiltered.length === 2 ? resolve() : setTimeout(check, 5));
      check();
    });
    expect(aliceUnfiltered.map((t) => t.id).sort()).toEqual([first, second].sort());
    expect(bobUnfiltered).toEqual([]);
    for (const client of clients) await client.dispose();
  });

  it("a revoked key is refused from then on", async () => {
    const carol = crawlq(database().url, "keys", "create", "carol").trim();
    expect((await call(service.url, carol, "{ pool { threads } }")).status).toBe(200);
    crawlq(database().url, "keys", "revoke", "carol");
    expect((await call(service.url, carol, "{ pool { threads } }")).status).toBe(401);
  });
});

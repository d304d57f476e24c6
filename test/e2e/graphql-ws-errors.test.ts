import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { databaseFor, TEST_BACKENDS } from "../helpers/backends.js";
import { startService, type RunningService } from "../helpers/service.js";

/** A raw graphql-ws connection: every message the server sends, and how the socket ended. */
async function rawConnection(url: string) {
  const socket = new WebSocket(url.replace(/^http/, "ws"), "graphql-transport-ws");
  const messages: Array<{ id?: string; type: string; payload?: any }> = [];
  const waiters: Array<() => void> = [];
  let closed: { code: number; reason: string } | null = null;
  socket.on("message", (data) => {
    messages.push(JSON.parse(String(data)));
    for (const wake of waiters.splice(0)) wake();
  });
  socket.on("close", (code, reason) => {
    closed = { code, reason: String(reason) };
    for (const wake of waiters.splice(0)) wake();
  });
  await new Promise<void>((resolve, reject) => socket.once("open", resolve).once("error", reject));
  const next = async (predicate: (m: (typeof messages)[number]) => boolean) => {
    for (;;) {
      const found = messages.find(predicate);
      if (found) return found;
      if (closed) throw new Error(`socket closed (${closed.code} ${closed.reason}) before the message came`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const send = (message: object) => socket.send(JSON.stringify(message));
  send({ type: "connection_init" });
  await next((m) => m.type === "connection_ack");
  return { send, next, socket, closed: () => closed };
}

describe.each(TEST_BACKENDS)("graphql-ws operations that fail, on $name", (backend) => {
  const db = databaseFor(backend);
  let service: RunningService;

  beforeAll(async () => {
    service = await startService(db().url);
  });

  afterAll(async () => {
    await service?.stop();
  });

  it("a syntax error is an error message for that operation only: the socket and its other operations go on", async () => {
    const ws = await rawConnection(service.url);
    // Open first, so the broken operation would end it if it took the socket down.
    ws.send({ id: "all", type: "subscribe", payload: { query: "subscription { taskDone { id } }" } });
    ws.send({ id: "1", type: "subscribe", payload: { query: 'subscription { taskDone(ids: ["1"]) { id ' } });
    const error = await ws.next((m) => m.id === "1");
    expect(error.type).toBe("error");
    expect(error.payload[0].message).toMatch(/Syntax Error/);
    expect(ws.closed()).toBeNull();

    ws.send({ id: "2", type: "subscribe", payload: { query: "{ pool { threads } }" } });
    const answer = await ws.next((m) => m.id === "2" && m.type === "next");
    expect(answer.payload.data.pool.threads).toBe(2);
    expect(ws.closed()).toBeNull();
    ws.socket.close();
    // Nothing was printed as a crash: no stack trace on the service's output.
    expect(service.output()).not.toMatch(/\n\s+at /);
  });
});

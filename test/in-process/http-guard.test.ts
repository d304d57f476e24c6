import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ConfigError, loadConfig } from "../../src/config.js";
import { startInProcessApp, type InProcessApp } from "../helpers/in-process-app.js";
import { TEST_ENV } from "../helpers/service.js";

// Who may call the API: CORS (off unless origins are listed), the Origin check (browsers on other sites),
// and the Host check (DNS rebinding while bound to loopback). HTTP and SSE through yoga.fetch, WebSocket
// upgrades through a real socket.

const QUERY = JSON.stringify({ query: "{ pool { pending } }" });
const APP_ORIGIN = "https://app.example";

let closed: InProcessApp;
let listed: InProcessApp;

beforeAll(async () => {
  closed = await startInProcessApp();
  listed = await startInProcessApp({ CRAWLQ_CORS_ORIGINS: `${APP_ORIGIN}, http://tool.example:8080/`, CRAWLQ_ALLOWED_HOSTS: "crawlq.proxy.example" });
});

afterAll(async () => {
  await closed?.close();
  await listed?.close();
});

async function post(app: InProcessApp, headers: Record<string, string>, init: { method?: string; body?: string | null } = {}) {
  const response = await app.yoga.fetch("http://127.0.0.1:4000/graphql", {
    method: init.method ?? "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json", ...headers },
    body: init.body === undefined ? QUERY : init.body,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? null : JSON.parse(text) };
}

const corsHeaders = (headers: Headers) => [...headers.keys()].filter((name) => name.startsWith("access-control-"));

describe("CORS is off unless origins are listed", () => {
  it("sends no CORS header at all by default, and refuses a foreign Origin with 403", async () => {
    const answer = await post(closed, { host: "127.0.0.1:4000", origin: "http://evil.example" });
    expect(answer.status).toBe(403);
    expect(answer.body.errors[0].extensions.code).toBe("ORIGIN_NOT_ALLOWED");
    expect(corsHeaders(answer.headers)).toEqual([]);
  });

  it("answers a request without Origin (a script, a CLI) with no CORS header", async () => {
    const answer = await post(closed, { host: "127.0.0.1:4000" });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ data: { pool: { pending: 0 } } });
    expect(corsHeaders(answer.headers)).toEqual([]);
  });

  it("answers its own origin (GraphiQL served by the service), default ports included", async () => {
    for (const [host, origin] of [
      ["127.0.0.1:4000", "http://127.0.0.1:4000"],
      ["localhost:4000", "http://localhost:4000"],
      ["[::1]:4000", "http://[::1]:4000"],
      ["localhost:80", "http://localhost"],
    ]) {
      const answer = await post(closed, { host: host!, origin: origin! });
      expect(answer.status, `${host} ${origin}`).toBe(200);
      expect(corsHeaders(answer.headers)).toEqual([]);
    }
  });

  it("does not take another port or scheme on the same host for its own origin", async () => {
    expect((await post(closed, { host: "127.0.0.1:4000", origin: "http://127.0.0.1:3000" })).status).toBe(403);
    expect((await post(closed, { host: "127.0.0.1:4000", origin: "null" })).status).toBe(403);
  });

  it("allows exactly the listed origins, echoing only the caller's and never with credentials", async () => {
    const answer = await post(listed, { host: "127.0.0.1:4000", origin: APP_ORIGIN });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("access-control-allow-origin")).toBe(APP_ORIGIN);
    expect(answer.headers.get("access-control-allow-credentials")).toBeNull();
    expect(answer.headers.get("vary")).toMatch(/Origin/);

    const normalised = await post(listed, { host: "127.0.0.1:4000", origin: "http://tool.example:8080" });
    expect(normalised.headers.get("access-control-allow-origin")).toBe("http://tool.example:8080");

    const foreign = await post(listed, { host: "127.0.0.1:4000", origin: "https://app.example.evil.example" });
    expect(foreign.status).toBe(403);
    expect(corsHeaders(foreign.headers)).toEqual([]);
  });

  it("answers a listed origin's preflight", async () => {
    const answer = await post(
      listed,
      { host: "127.0.0.1:4000", origin: APP_ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
      { method: "OPTIONS", body: null },
    );
    expect(answer.status).toBe(204);
    expect(answer.headers.get("access-control-allow-origin")).toBe(APP_ORIGIN);
    expect(answer.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("refuses '*' and anything but an exact origin in CRAWLQ_CORS_ORIGINS", () => {
    for (const value of ["*", "https://app.example/path", "app.example", "null"]) {
      expect(() => loadConfig({ ...TEST_ENV, CRAWLQ_CORS_ORIGINS: value }), value).toThrow(ConfigError);
    }
  });

  it("refuses a foreign Origin on an SSE subscription too", async () => {
    const response = await closed.yoga.fetch("http://127.0.0.1:4000/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", host: "127.0.0.1:4000", origin: "http://evil.example" },
      body: JSON.stringify({ query: "subscription { taskDone { id } }" }),
    });
    expect(response.status).toBe(403);
    await response.body?.cancel();
  });
});

describe("DNS rebinding: bound to loopback, only loopback host names are answered", () => {
  it.each(["127.0.0.1:4000", "127.0.0.1", "127.8.9.10:4000", "localhost:4000", "LOCALHOST", "[::1]:4000", "[::1]"])(
    "answers Host %s",
    async (host) => {
      expect((await post(closed, { host })).status).toBe(200);
    },
  );

  it.each(["evil.example:4000", "evil.example", "localhost.evil.example", "127.0.0.1.nip.io:4000", "10.0.0.1:4000", "[::2]:4000"])(
    "refuses Host %s with 421, same-origin or not",
    async (host) => {
      const answer = await post(closed, { host, origin: `http://${host}` });
      expect(answer.status).toBe(421);
      expect(answer.body.errors[0].extensions.code).toBe("HOST_NOT_ALLOWED");
    },
  );

  it("answers the names CRAWLQ_ALLOWED_HOSTS adds (a reverse proxy's), on any port", async () => {
    expect((await post(listed, { host: "crawlq.proxy.example" })).status).toBe(200);
    expect((await post(listed, { host: "crawlq.proxy.example:8443", origin: "https://crawlq.proxy.example:8443" })).status).toBe(200);
    expect((await post(listed, { host: "other.proxy.example" })).status).toBe(421);
  });
});

describe("over a real socket", () => {
  let url: string;
  beforeAll(async () => {
    url = await closed.listen();
  });

  /** Opens a graphql-ws WebSocket with these headers; resolves "open" or the refusal's HTTP status. */
  function upgrade(headers: Record<string, string>): Promise<number | "open"> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url.replace(/^http/, "ws"), "graphql-transport-ws", { headers });
      socket.once("open", () => {
        socket.close();
        resolve("open");
      });
      socket.once("unexpected-response", (_request, response) => {
        resolve(response.statusCode ?? 0);
        response.resume();
        socket.terminate();
      });
      socket.once("error", reject);
    });
  }

  it("upgrades a WebSocket without Origin, or from its own origin", async () => {
    const { host } = new URL(url);
    expect(await upgrade({})).toBe("open");
    expect(await upgrade({ origin: `http://${host}` })).toBe("open");
  });

  it("refuses the upgrade from a foreign Origin with 403", async () => {
    expect(await upgrade({ origin: "http://evil.example" })).toBe(403);
  });

  it("refuses the upgrade for a rebound Host name with 421", async () => {
    const port = new URL(url).port;
    expect(await upgrade({ host: `evil.example:${port}`, origin: `http://evil.example:${port}` })).toBe(421);
  });

  it("refuses an HTTP request for a rebound Host name with 421", async () => {
    const { port } = new URL(url);
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(
        url,
        { method: "POST", headers: { host: `evil.example:${port}`, "content-type": "application/json" } },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.once("error", reject);
      request.end(QUERY);
    });
    expect(status).toBe(421);
  });
});

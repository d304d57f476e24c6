import { request as httpRequest } from "node:http";
import v8 from "node:v8";
import vm from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startInProcessApp, type InProcessApp } from "../helpers/in-process-app.js";

// What one request may carry: graphql-armor's limits (each with its own code), a cap on variables, a
// bounded parse cache and the request body limit. Every refusal must come fast: before the fixes, 20,000
// aliases took seconds to answer (with data), 100,000 variables could take the process down and 48
// distinct 100 KB operations stayed cached on the heap.

let app: InProcessApp;

beforeAll(async () => {
  app = await startInProcessApp();
});

afterAll(async () => {
  await app?.close();
});

let listening: Promise<string> | undefined;
/** The app's URL on a real socket, opened on first use. */
const socketUrl = () => (listening ??= app.listen());

interface Answer {
  status: number;
  ms: number;
  body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, any> }> };
}

async function post(target: InProcessApp, body: string): Promise<Answer> {
  const started = performance.now();
  const response = await target.yoga.fetch("http://127.0.0.1:4000/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json" },
    body,
  });
  const text = await response.text();
  return { status: response.status, ms: performance.now() - started, body: JSON.parse(text) };
}

const operation = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });

const TASK_FIELDS =
  "id url status attempts worker createdAt startedAt finishedAt submissionId done " +
  "result { httpStatus title linkCount contentLength contentType fetchMs parseMs finalUrl } error { code message }";

function expectRefused(answer: Answer, code: string): void {
  expect(answer.body.data ?? null).toBeNull();
  expect(answer.body.errors?.map((e) => e.extensions?.["code"])).toEqual([code]);
  expect(answer.status).toBe(400);
}

describe("each GraphQL limit refuses with its own code", () => {
  it("depth (default 6)", async () => {
    const deep = `{ __type(name: "Task") { fields { type { ofType { ofType { ofType { name } } } } } } }`;
    const answer = await post(app, operation(deep));
    expectRefused(answer, "MAX_DEPTH_EXCEEDED");
    expect(answer.body.errors![0]!.message).toBe("Query depth limit of 6 exceeded, found 7.");
  });

  it("aliases (default 15)", async () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: pool { pending }`).join(" ");
    expectRefused(await post(app, operation(`{ ${aliases} }`)), "MAX_ALIASES_EXCEEDED");
    const fifteen = Array.from({ length: 15 }, (_, i) => `a${i}: pool { pending }`).join(" ");
    expect((await post(app, operation(`{ ${fifteen} }`))).body.errors).toBeUndefined();
  });

  it("directives (default 20)", async () => {
    const directives = "@include(if: true) ".repeat(21);
    expectRefused(await post(app, operation(`{ pool { pending ${directives} } }`)), "MAX_DIRECTIVES_EXCEEDED");
  });

  it("cost (default 50,000): one full page of 1,000 tasks fits, two do not", async () => {
    const page = `tasks(first: 1000) { ${TASK_FIELDS} }`;
    expect((await post(app, operation(`{ ${page} }`))).body.errors).toBeUndefined();
    expectRefused(await post(app, operation(`{ a: ${page} b: ${page} }`)), "MAX_COST_EXCEEDED");
  });

  it("tokens (default: the larger of max URLs per submission and max batch ids, plus 1,000)", async () => {
    const answer = await post(app, operation(`{ pool { ${"pending ".repeat(11_000)} } }`));
    expectRefused(answer, "MAX_TOKENS_EXCEEDED");
    expect(app.config.graphql.maxTokens).toBe(11_000);
  });

  it("variables (default 100)", async () => {
    const declared = Array.from({ length: 101 }, (_, i) => `$v${i}: Boolean`).join(" ");
    expectRefused(await post(app, operation(`query(${declared}) { pool { pending } }`)), "MAX_VARIABLES_EXCEEDED");
  });

  it("a full submitCrawl written inline is within every limit", async () => {
    const urls = Array.from({ length: 10_000 }, (_, i) => JSON.stringify(`https://example.com/${i}`));
    // The last URL is bad, so the call fails validation and stores nothing, after passing every limit.
    urls[9_999] = JSON.stringify("ftp://example.com/");
    const answer = await post(app, operation(`mutation { submitCrawl(urls: [${urls.join(",")}]) { id } }`));
    expect(answer.body.errors?.[0]?.extensions?.["code"]).toBe("BAD_USER_INPUT");
  });
});

const aliases20k = () => `{ ${Array.from({ length: 20_000 }, (_, i) => `a${i}: pool { pending }`).join(" ")} }`;

/** 100,000 variables, each declared and used (2 MB of text). */
function variables100k(): string {
  const declared = Array.from({ length: 100_000 }, (_, i) => `$v${i}: ID!`).join(" ");
  const used = Array.from({ length: 100_000 }, (_, i) => `$v${i}`).join(" ");
  return operation(`query(${declared}) { batch(ids: [${used}], timeoutMs: 0) { done } }`);
}

describe("the probes: refused in milliseconds", () => {
  it("20,000 aliases of `pool { pending }` (480 KB): the token limit", async () => {
    const query = aliases20k();
    expect(query.length).toBeGreaterThan(450_000);
    const answer = await post(app, operation(query));
    expectRefused(answer, "MAX_TOKENS_EXCEEDED");
    // Far below the 11–18 s the work took before the limits (a bound loose enough for a busy machine).
    expect(answer.ms).toBeLessThan(5_000);
  });

  it("100,000 declared-then-used variables: the token limit", async () => {
    const body = variables100k();
    expect(body.length).toBeLessThan(2 * 1024 * 1024);
    const answer = await post(app, body);
    expectRefused(answer, "MAX_TOKENS_EXCEEDED");
    // Far below the 11–18 s the work took before the limits (a bound loose enough for a busy machine).
    expect(answer.ms).toBeLessThan(5_000);
  });

  describe("with the outer limits raised, the next one still holds", () => {
    let manyTokens: InProcessApp;
    beforeAll(async () => {
      manyTokens = await startInProcessApp({
        CRAWLQ_MAX_REQUEST_BODY_BYTES: String(64 * 1024 * 1024),
        CRAWLQ_GRAPHQL_MAX_TOKENS: "10000000",
      });
    });
    afterAll(async () => {
      await manyTokens?.close();
    });

    it("100,000 variables with the token limit raised too: the variables cap, before validation does the work", async () => {
      const answer = await post(manyTokens, variables100k());
      expectRefused(answer, "MAX_VARIABLES_EXCEEDED");
      // No time bound here: most of the time is parsing 2 MB of operation text, which the raised token limit
      // lets through; the code shows the cap, not validation, refused it.
    });

    it("20,000 aliases with the token limit raised: the alias limit, before validation does the work", async () => {
      const answer = await post(manyTokens, operation(aliases20k()));
      expectRefused(answer, "MAX_ALIASES_EXCEEDED");
      // Far below the 11–18 s the work took before the limits (a bound loose enough for a busy machine).
    expect(answer.ms).toBeLessThan(5_000);
    });
  });
});

describe("the parse cache is bounded by size", () => {
  it("48 distinct 100 KB operations leave the heap where it was", async () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    // ~100 KB and 9,000 tokens each: within the token limit, so each is parsed (and was cached). graphql-js
    // then gives up validating so much repetition ("Validation aborted."); the parse is cached before that.
    const queries = Array.from({ length: 48 }, (_, n) => `query Q${n} { pool { ${"__typename ".repeat(9_000)} } }`);
    expect(queries[0]!.length).toBeGreaterThan(99_000);
    await post(app, operation("{ pool { pending } }"));
    gc();
    const before = process.memoryUsage().heapUsed;
    for (const query of queries) {
      const answer = await post(app, operation(query));
      expect(answer.body.errors?.[0]?.extensions?.["code"]).not.toBe("MAX_TOKENS_EXCEEDED");
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // Cached, each document took ~4 MB (about 200 MB in all).
    expect(grown).toBeLessThan(30 * 1024 * 1024);
  });
});

describe("the request body limit (default 2 MiB)", () => {
  it("refuses a 3 MB body with 413 before reading it", async () => {
    const answer = await post(app, operation("{ pool { pending } }", { padding: "x".repeat(3 * 1024 * 1024) }));
    expect(answer.status).toBe(413);
    expect(answer.body.errors?.[0]?.extensions?.["code"]).toBe("REQUEST_ENTITY_TOO_LARGE");
  });

  it("lets through a maximal submission of realistic URLs: 10,000 of 120 characters", async () => {
    const urls = Array.from({ length: 10_000 }, (_, i) => `https://www.example.com/${String(i).padStart(5, "0")}/${"a".repeat(90)}`);
    expect(urls[0]!.length).toBe(120);
    // One bad URL: the whole body is read and validated (BAD_USER_INPUT), and nothing is stored.
    urls[9_999] = "not a url";
    const body = operation("mutation($urls: [String!]!) { submitCrawl(urls: $urls) { id } }", { urls });
    expect(body.length).toBeGreaterThan(1_200_000);
    const answer = await post(app, body);
    expect(answer.body.errors?.[0]?.extensions?.["code"]).toBe("BAD_USER_INPUT");
    expect(answer.body.errors?.[0]?.extensions?.["invalid"]).toHaveLength(1);
  });

  it("refuses a chunked body (no Content-Length) once it passes the limit", async () => {
    const url = await socketUrl();
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(url, { method: "POST", headers: { "content-type": "application/json" } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.once("error", (error) => ((error as NodeJS.ErrnoException).code === "EPIPE" ? undefined : reject(error)));
      request.write(`{"query":"{ pool { pending } }","variables":{"padding":"`);
      for (let i = 0; i < 48; i++) request.write("x".repeat(64 * 1024));
      request.end(`"}}`);
    });
    expect(status).toBe(413);
  });
});

describe("a malformed request says so and no more", () => {
  it("answers a body that is not JSON with a fixed 400, not the parser's message", async () => {
    const response = await app.yoga.fetch("http://127.0.0.1:4000/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: '{"query": "{ pool { pending } }", secret-token-xyz',
    });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body).toEqual({ errors: [{ message: "POST body sent invalid JSON.", extensions: { code: "BAD_REQUEST" } }] });
  });

  it("answers variables that are not JSON (GET) with a fixed 400", async () => {
    const response = await app.yoga.fetch(
      "http://127.0.0.1:4000/graphql?query=%7Bpool%7Bpending%7D%7D&variables=%7Bsecret-token-xyz",
      { headers: { accept: "application/json" } },
    );
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(text).not.toContain("secret-token-xyz");
    expect(JSON.parse(text).errors[0].extensions.code).toBe("BAD_REQUEST");
  });
});

describe("over WebSocket, the same limits", () => {
  /** A raw graphql-ws connection: the messages received, and the close code once closed. */
  async function connect(url: string) {
    const socket = new WebSocket(url.replace(/^http/, "ws"), "graphql-transport-ws");
    const messages: Array<{ id?: string; type: string; payload?: any }> = [];
    let closedWith: number | null = null;
    const changed: Array<() => void> = [];
    const wake = () => changed.splice(0).forEach((resolve) => resolve());
    socket.on("message", (data) => {
      messages.push(JSON.parse(String(data)));
      wake();
    });
    socket.on("close", (code) => {
      closedWith = code;
      wake();
    });
    await new Promise<void>((resolve, reject) => socket.once("open", resolve).once("error", reject));
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise<void>((resolve) => changed.push(resolve));
    };
    socket.send(JSON.stringify({ type: "connection_init" }));
    await until(() => messages.some((m) => m.type === "connection_ack"));
    return { socket, messages, until, closed: () => closedWith };
  }

  it("a refused operation is that operation's error, with its code; the socket goes on", async () => {
    const ws = await connect(await socketUrl());
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: pool { pending }`).join(" ");
    ws.socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: `{ ${aliases} }` } }));
    await ws.until(() => ws.messages.some((m) => m.id === "1"));
    const refusal = ws.messages.find((m) => m.id === "1")!;
    expect(refusal.type).toBe("error");
    expect(refusal.payload[0].extensions.code).toBe("MAX_ALIASES_EXCEEDED");

    ws.socket.send(JSON.stringify({ id: "2", type: "subscribe", payload: { query: "{ pool { pending } }" } }));
    await ws.until(() => ws.messages.some((m) => m.id === "2" && m.type === "next"));
    expect(ws.closed()).toBeNull();
    ws.socket.close();
  });

  it("a message larger than the body limit closes the socket (1009)", async () => {
    const ws = await connect(await socketUrl());
    const query = `{ pool { pending } } # ${"x".repeat(3 * 1024 * 1024)}`;
    ws.socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query } }));
    await ws.until(() => ws.closed() !== null);
    expect(ws.closed()).toBe(1009);
  });
});

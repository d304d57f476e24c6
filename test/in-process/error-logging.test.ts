import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { migrateSqlite } from "../../src/tasks/store/sqlite/migrate.js";
import { TEST_ENV } from "../helpers/service.js";

// A client's mistake is logged at debug, as one line without a stack; only what the service did not
// expect is logged at error level. Before the fix, an invalid variable was logged at error level with
// graphql-js's stack trace.

interface LogLine {
  level: number;
  msg: string;
  err?: { stack?: string };
  [key: string]: unknown;
}

const lines: LogLine[] = [];
let app: App;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "crawlq-logging-"));
  const config = loadConfig({ ...TEST_ENV, LOG_LEVEL: "debug", PORT: "0", DATABASE_URL: `file:${path.join(dir, "crawlq.db")}` });
  migrateSqlite(config.databaseUrl);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  app = await createApp(config, pino({ level: "debug" }, sink));
});

afterAll(async () => {
  await app?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  lines.length = 0;
});

async function send(body: string): Promise<{ errors?: Array<{ extensions?: Record<string, unknown> }> }> {
  const response = await app.yoga.fetch("http://127.0.0.1:4000/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json" },
    body,
  });
  return (await response.json()) as { errors?: Array<{ extensions?: Record<string, unknown> }> };
}

const WAIT = "query($id: ID!, $t: Int) { result(id: $id, timeoutMs: $t) { id } }";

function expectLoggedAsClientError(): void {
  expect(lines.filter((line) => line.level >= 40), JSON.stringify(lines)).toEqual([]);
  const entries = lines.filter((line) => line.msg === "client error in a GraphQL operation");
  expect(entries).toHaveLength(1);
  expect(entries[0]!.level).toBe(20);
  expect(JSON.stringify(entries[0])).not.toMatch(/stack|\n {4}at /);
}

describe("client errors are logged at debug, without a stack", () => {
  it("an invalid variable", async () => {
    const body = await send(JSON.stringify({ query: WAIT, variables: { id: "1", t: "abc" } }));
    expect(body.errors).toHaveLength(1);
    expectLoggedAsClientError();
  });

  it("a validation error", async () => {
    await send(JSON.stringify({ query: "{ pool { nope } }" }));
    expectLoggedAsClientError();
  });

  it("one of our coded errors (NOT_FOUND)", async () => {
    const body = await send(JSON.stringify({ query: WAIT, variables: { id: "999999", t: 0 } }));
    expect(body.errors?.[0]?.extensions?.["code"]).toBe("NOT_FOUND");
    expectLoggedAsClientError();
  });

  it("a GraphQL limit", async () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: pool { pending }`).join(" ");
    const body = await send(JSON.stringify({ query: `{ ${aliases} }` }));
    expect(body.errors?.[0]?.extensions?.["code"]).toBe("MAX_ALIASES_EXCEEDED");
    expectLoggedAsClientError();
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { capturedLogs, startInProcessApp, type InProcessApp } from "../helpers/in-process-app.js";

// A client's mistake is logged at debug, as one line without a stack; only what the service did not
// expect is logged at error level. Before the fix, an invalid variable was logged at error level with
// graphql-js's stack trace.

const { logger, lines } = capturedLogs();
let app: InProcessApp;

beforeAll(async () => {
  app = await startInProcessApp({ LOG_LEVEL: "debug" }, { logger });
});

afterAll(async () => {
  await app?.close();
});

beforeEach(() => {
  lines.length = 0;
});

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
    const body = await app.graphql(WAIT, { id: "1", t: "abc" });
    expect(body.errors).toHaveLength(1);
    expectLoggedAsClientError();
  });

  it("a validation error", async () => {
    await app.graphql("{ pool { nope } }");
    expectLoggedAsClientError();
  });

  it("one of our coded errors (NOT_FOUND)", async () => {
    const body = await app.graphql(WAIT, { id: "999999", t: 0 });
    expect(body.errors?.[0]?.extensions?.["code"]).toBe("NOT_FOUND");
    expectLoggedAsClientError();
  });

  it("a GraphQL limit", async () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: pool { pending }`).join(" ");
    const body = await app.graphql(`{ ${aliases} }`);
    expect(body.errors?.[0]?.extensions?.["code"]).toBe("MAX_ALIASES_EXCEEDED");
    expectLoggedAsClientError();
  });
});

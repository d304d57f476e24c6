import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Batch, SubmitCrawl } from "../../src/client/operations.js";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { capturedLogs, startInProcessApp, type InProcessApp } from "../helpers/in-process-app.js";

// What the service logs, through the logger main.ts builds (createLogger), captured as JSON lines.

const { logger, lines } = capturedLogs();
let app: InProcessApp;
let site: FixtureSite;

beforeAll(async () => {
  site = await startFixtureSite();
  app = await startInProcessApp({ LOG_LEVEL: "debug" }, { logger });
});

afterAll(async () => {
  await app?.close();
  await site?.close();
});

beforeEach(() => {
  lines.length = 0;
});

const send = (query: string): Promise<any> => app.graphql(query);

describe("request ids", () => {
  it("an unexpected error's answer carries the requestId its error line carries", async () => {
    const countByStatus = app.service.countByStatus;
    app.service.countByStatus = async () => {
      throw new Error("the disk is on fire at /var/lib/secret");
    };
    try {
      const first = await send("{ pool { pending } }");
      const second = await send("{ pool { pending } }");
      const errorLines = lines.filter((l) => l.level === 50 && l.msg === "unexpected error in a GraphQL operation");
      expect(errorLines).toHaveLength(2);
      for (const [i, body] of [first, second].entries()) {
        expect(body.errors).toHaveLength(1);
        const [error] = body.errors;
        expect(error.message).toBe("Unexpected error.");
        expect(error.extensions.code).toBe("INTERNAL_SERVER_ERROR");
        expect(error.extensions.requestId).toMatch(/^[0-9a-f-]{36}$/);
        expect(errorLines[i]!.requestId).toBe(error.extensions.requestId);
        expect(JSON.stringify(body)).not.toMatch(/disk|secret|stack/);
      }
      expect(first.errors[0].extensions.requestId).not.toBe(second.errors[0].extensions.requestId);
    } finally {
      app.service.countByStatus = countByStatus;
    }
  });

  it("a client's error is answered without one (it is not masked) and logged at debug with it", async () => {
    const body = await send("query { result(id: \"999\", timeoutMs: 0) { id } }");
    expect(body.errors[0].extensions).toEqual({ code: "NOT_FOUND", ids: ["999"] });
    const [line] = lines.filter((l) => l.msg === "client error in a GraphQL operation");
    expect(line).toMatchObject({ level: 20, code: "NOT_FOUND" });
    expect(line!.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("over WebSocket too, each operation has its own", async () => {
    const url = await app.listen();
    const { createClient } = await import("graphql-ws");
    const { WebSocket } = await import("ws");
    const client = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
    const countByStatus = app.service.countByStatus;
    app.service.countByStatus = async () => {
      throw new Error("the disk is on fire");
    };
    try {
      const errors = await new Promise<any[]>((resolve, reject) =>
        client.subscribe({ query: "{ pool { pending } }" }, { next: (r) => resolve(r.errors as any[]), error: reject, complete: () => {} }),
      );
      expect(errors[0].message).toBe("Unexpected error.");
      const [line] = lines.filter((l) => l.level === 50);
      expect(line!.requestId).toBe(errors[0].extensions.requestId);
    } finally {
      app.service.countByStatus = countByStatus;
      await client.dispose();
    }
  });
});

describe("task lines", () => {
  it("one info line per submission (with its request's id); one debug line per terminal transition", async () => {
    const { data } = await app.graphql(SubmitCrawl, { urls: [site.url("/page/1"), site.url("/status/404")] });
    const submission = data!.submitCrawl;
    await app.graphql(Batch, { submissionId: submission.id, timeoutMs: 20_000 });

    const submitted = lines.filter((l) => l.msg === "submission accepted");
    expect(submitted).toHaveLength(1);
    expect(submitted[0]).toMatchObject({ level: 30, submissionId: Number(submission.id), urls: 2, key: null });
    expect(submitted[0]!.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const finished = lines.filter((l) => l.msg === "task finished");
    const [page, notFound] = submission.tasks.map((t) => Number(t.id));
    expect(finished.map(({ level, taskId, status, code }) => ({ level, taskId, status, code })).sort((a, b) => Number(a.taskId) - Number(b.taskId))).toEqual([
      { level: 20, taskId: page, status: "SUCCEEDED", code: null },
      { level: 20, taskId: notFound, status: "FAILED", code: "HTTP_STATUS" },
    ]);

  });
});

describe("format", () => {
  const loggerJs = fileURLToPath(new URL("../../src/logger.js", import.meta.url));
  const logOnce = (tty: boolean) =>
    execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `${tty ? 'Object.defineProperty(process.stdout, "isTTY", { value: true });' : ""}
         const { createLogger } = await import(${JSON.stringify(loggerJs)});
         createLogger("info").info({ submissionId: 7 }, "hello");`,
      ],
      { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } },
    );

  it("JSON lines when stdout is not a terminal", () => {
    expect(JSON.parse(logOnce(false))).toMatchObject({ level: 30, service: "crawlq", submissionId: 7, msg: "hello" });
  });

  it("pino-pretty's lines on a terminal", () => {
    const output = logOnce(true);
    expect(output).toMatch(/INFO.*hello/);
    expect(output).toMatch(/submissionId: 7/);
    expect(output.trimStart().startsWith("{")).toBe(false);
  });
});

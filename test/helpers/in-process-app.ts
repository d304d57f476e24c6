import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { createApp, type App } from "../../src/app.js";
import { loadConfig, type Config } from "../../src/config.js";
import { createLogger, type Logger } from "../../src/logger.js";
import { migrateSqlite } from "../../src/tasks/store/sqlite/migrate.js";
import type { Document } from "../../testkit/graphql-client.js";
import { TEST_ENV } from "./service.js";

export interface InProcessApp extends App {
  config: Config;
  /** POSTs one operation to `yoga.fetch` (no socket); resolves with the parsed body. */
  graphql: <TResult = any, TVariables = Record<string, unknown>>(
    query: Document<TResult, TVariables>,
    variables?: TVariables,
    init?: { signal?: AbortSignal },
  ) => Promise<GraphQLBody<TResult>>;
  /** Stops the app and removes its database. */
  close: () => Promise<void>;
}

export interface GraphQLBody<T> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: Record<string, any> }>;
}

/**
 * The whole app in this process (real SQLite file in a temp folder, real pool), composed by createApp as
 * `npm start` does, without opening a socket unless the test calls `listen`. It logs nothing unless given
 * a `logger` (see capturedLogs).
 */
export async function startInProcessApp(env: Record<string, string> = {}, options: { logger?: Logger } = {}): Promise<InProcessApp> {
  const dir = mkdtempSync(path.join(tmpdir(), "crawlq-inproc-"));
  const config = loadConfig({ ...TEST_ENV, LOG_LEVEL: "silent", PORT: "0", DATABASE_URL: `file:${path.join(dir, "crawlq.db")}`, ...env });
  migrateSqlite(config.databaseUrl);
  const app = await createApp(config, options.logger ?? createLogger(config.logLevel));
  const graphql = async <TResult, TVariables>(query: Document<TResult, TVariables>, variables?: TVariables, init: { signal?: AbortSignal } = {}) => {
    const response = await app.yoga.fetch("http://crawlq.test/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
      body: JSON.stringify({ query: String(query), variables: variables ?? {} }),
      signal: init.signal,
    });
    return (await response.json()) as GraphQLBody<TResult>;
  };
  return {
    ...app,
    config,
    graphql,
    close: async () => {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One parsed line of the service's JSON log. */
export interface LogLine {
  level: number;
  msg: string;
  requestId?: string;
  err?: { stack?: string };
  [key: string]: unknown;
}

/** A logger built as main.ts builds it (createLogger), at debug, whose lines land parsed in `lines`. */
export function capturedLogs(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: createLogger("debug", sink), lines };
}

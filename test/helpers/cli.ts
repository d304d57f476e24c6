import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { EXPORT_COLUMNS, type ExportRecord } from "../../src/client/export-format.js";
import { withRows } from "./database-rows.js";

const cliJs = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

/**
 * Runs `crawlq ARGS` in a child process, asynchronously (a fixture site in the test's process must keep
 * answering meanwhile). `env` is added to the test's environment; CRAWLQ_SERVER and CRAWLQ_API_KEY are
 * removed from it first, so only what a test passes reaches the CLI.
 */
export function runCli(args: readonly string[], options: { env?: Record<string, string>; input?: string; onStderr?: (text: string) => void } = {}): Promise<CliRun> {
  const { CRAWLQ_SERVER: _server, CRAWLQ_API_KEY: _key, ...inherited } = process.env;
  const started = performance.now();
  const child = spawn(process.execPath, [cliJs, ...args], { env: { ...inherited, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    options.onStderr?.(stderr);
  });
  child.stdin.end(options.input ?? "");
  return new Promise((resolve) =>
    child.once("close", (code) => resolve({ code, stdout, stderr, wallMs: performance.now() - started })),
  );
}

/** A task row as read from the Task table (instants in epoch ms, on either backend). */
export type TaskRow = Record<string, string | number | null> & { id: number; submissionId: number };

/**
 * Task rows read straight from the database (beside the service, on either backend), in id order: those
 * of the submissions, or with `{ ids }` those tasks.
 */
export function readTaskRows(databaseUrl: string, submissionIds: readonly (string | number)[] | { ids: readonly number[] }): Promise<TaskRow[]> {
  const [column, values] = "ids" in submissionIds ? ["id", submissionIds.ids] : ["submissionId", submissionIds];
  return withRows(databaseUrl, (db) =>
    db.all<TaskRow>(`SELECT * FROM "Task" WHERE "${column}" IN (${values.map(() => "?").join(", ")}) ORDER BY id`, values.map(Number)),
  );
}

/**
 * What the export must say of a row, derived from the database columns by hand (an oracle independent of
 * src/client/export-format.ts): the result's fields only when SUCCEEDED, the error only when FAILED.
 */
export function expectedRecord(row: TaskRow): ExportRecord {
  const succeeded = row["status"] === "SUCCEEDED";
  const failed = row["status"] === "FAILED";
  const instant = (v: string | number | null) => (v === null ? null : new Date(Number(v)).toISOString());
  const result = (column: string) => (succeeded ? row[column]! : null);
  return {
    id: String(row.id),
    submissionId: String(row.submissionId),
    url: row["url"]!,
    status: row["status"]!,
    attempts: row["attempts"]!,
    httpStatus: result("httpStatus"),
    finalUrl: result("finalUrl"),
    contentType: result("contentType"),
    contentLength: result("contentLength"),
    title: result("title"),
    linkCount: result("linkCount"),
    fetchMs: result("fetchMs"),
    parseMs: result("parseMs"),
    errorCode: failed ? row["errorCode"]! : null,
    errorMessage: failed ? row["errorMessage"]! : null,
    createdAt: instant(row["createdAt"]!),
    startedAt: instant(row["startedAt"]!),
    finishedAt: instant(row["finishedAt"]!),
  };
}

/** The records of a JSON Lines text, in order. */
export function parseJsonLines(text: string): ExportRecord[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as ExportRecord);
}

/** An RFC 4180 reader (quoted fields, doubled quotes, CR/LF inside quotes; CRLF or LF between records). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(field), (field = "");
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      (row = []), (field = "");
    } else field += c;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}

/** A record as CSV shows it: every cell a string, null empty. */
export function asCsvCells(record: ExportRecord): string[] {
  return EXPORT_COLUMNS.map((column) => (record[column] === null ? "" : String(record[column])));
}

/** A port nothing listens on now (bound on 127.0.0.1, then released). */
export function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * How a task is written to a file: the one definition of the columns, shared by `crawlq submit --output`
 * and the service's `GET /submissions/:id/results.{jsonl,csv}`.
 *
 * Each task is one flat record (the result's and the error's fields beside the task's own; null where a
 * field does not apply), so JSON Lines and CSV carry the same fields under the same names:
 * - `.jsonl`: one JSON object per line, keys in column order, ids and instants as strings (as the API
 *   gives them), numbers as numbers;
 * - `.csv`: RFC 4180: a header row, CRLF line ends, fields quoted when they hold a comma, a quote, CR or LF
 *   (quotes doubled), null as an empty field.
 */
import { stringify } from "csv-stringify/sync";
import type { TaskFieldsFragment } from "./generated/graphql.js";

/** JSON Lines (`.jsonl`) or CSV (`.csv`). */
export type ExportFormat = "jsonl" | "csv";

/** Every format, for option choices. */
export const EXPORT_FORMATS: readonly ExportFormat[] = ["jsonl", "csv"];

/**
 * What is exported of a task: the client's TaskFields selection but `worker` (a thread number) and `done`
 * (the status says it).
 */
export type ExportableTask = Omit<TaskFieldsFragment, "worker" | "done">;

type Cell = string | number | null;

// The columns, in order: name → value. Everything else derives from this table.
const COLUMNS = {
  id: (t) => t.id,
  submissionId: (t) => t.submissionId,
  url: (t) => t.url,
  status: (t) => t.status,
  attempts: (t) => t.attempts,
  httpStatus: (t) => t.result?.httpStatus ?? null,
  finalUrl: (t) => t.result?.finalUrl ?? null,
  contentType: (t) => t.result?.contentType ?? null,
  contentLength: (t) => t.result?.contentLength ?? null,
  title: (t) => t.result?.title ?? null,
  linkCount: (t) => t.result?.linkCount ?? null,
  fetchMs: (t) => t.result?.fetchMs ?? null,
  parseMs: (t) => t.result?.parseMs ?? null,
  errorCode: (t) => t.error?.code ?? null,
  errorMessage: (t) => t.error?.message ?? null,
  createdAt: (t) => t.createdAt,
  startedAt: (t) => t.startedAt,
  finishedAt: (t) => t.finishedAt,
} satisfies Record<string, (task: ExportableTask) => Cell>;

export type ExportColumn = keyof typeof COLUMNS;

/** Column names in order: the CSV header, and the keys of every JSON line. */
export const EXPORT_COLUMNS = Object.keys(COLUMNS) as ExportColumn[];

/** One task as a flat record. */
export type ExportRecord = Record<ExportColumn, Cell>;

export function toExportRecord(task: ExportableTask): ExportRecord {
  const record = {} as ExportRecord;
  for (const column of EXPORT_COLUMNS) record[column] = COLUMNS[column](task);
  return record;
}

/** The media type each format is served with. */
export const EXPORT_MEDIA_TYPES: Record<ExportFormat, string> = {
  jsonl: "application/jsonl; charset=utf-8",
  csv: "text/csv; charset=utf-8; header=present",
};

const CSV_OPTIONS = { record_delimiter: "\r\n", quoted_match: /[\r\n]/ } as const;

/** What a file of this format starts with: the CSV header row; nothing for JSON Lines. */
export function exportHeader(format: ExportFormat): string {
  return format === "csv" ? stringify([EXPORT_COLUMNS], CSV_OPTIONS) : "";
}

/** The tasks as lines of the format (each line ends with its line break). */
export function formatTasks(format: ExportFormat, tasks: readonly ExportableTask[]): string {
  if (tasks.length === 0) return "";
  const records = tasks.map(toExportRecord);
  if (format === "jsonl") return records.map((r) => `${JSON.stringify(r)}\n`).join("");
  return stringify(
    records.map((r) => EXPORT_COLUMNS.map((c) => r[c])),
    CSV_OPTIONS,
  );
}

/** The format a file name asks for (`.jsonl`, `.ndjson`, `.csv`), or null. */
export function exportFormatOf(path: string): ExportFormat | null {
  const extension = /\.([a-z]+)$/i.exec(path)?.[1]?.toLowerCase();
  if (extension === "jsonl" || extension === "ndjson") return "jsonl";
  if (extension === "csv") return "csv";
  return null;
}

import { toExportRecord, type ExportableTask } from "../client/export-format.js";
import { oneLine } from "./errors.js";

/** Where a command writes its answer (stdout, unless a test says otherwise). */
export interface Out {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const TASK_COLUMNS = ["ID", "STATUS", "ATTEMPTS", "HTTP", "TITLE / ERROR", "URL"] as const;

/** A task's cells in TASK_COLUMNS order. */
function taskCells(task: ExportableTask): string[] {
  const detail = task.error ? `${task.error.code}: ${task.error.message}` : (task.result?.title ?? "");
  return [task.id, task.status, String(task.attempts), task.result ? String(task.result.httpStatus) : "", oneLine(detail), task.url];
}

/** Tasks as a table with a header, one row each; wide cells are cut to fit a terminal. */
export function formatTaskTable(tasks: readonly ExportableTask[], width?: number): string {
  return formatTable([[...TASK_COLUMNS], ...tasks.map(taskCells)], width);
}

/**
 * One task as a line for a stream (`crawlq watch`): the table's cells without a header, or its export
 * record as JSON.
 */
export function formatTaskLine(task: ExportableTask, json: boolean): string {
  return json ? `${JSON.stringify(toExportRecord(task))}\n` : `${taskCells(task).join("  ")}\n`;
}

/** Rows of cells as aligned columns (two spaces apart). With `width`, the widest column is cut to fit it. */
export function formatTable(rows: readonly string[][], width?: number): string {
  const count = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: count }, (_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  if (width !== undefined) {
    const excess = widths.reduce((sum, w) => sum + w + 2, -2) - width;
    const widest = widths.indexOf(Math.max(...widths));
    if (excess > 0) widths[widest] = Math.max(10, widths[widest]! - excess);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => {
          const w = widths[i]!;
          const fitted = cell.length > w ? `${cell.slice(0, w - 1)}…` : cell;
          return i === row.length - 1 ? fitted : fitted.padEnd(w);
        })
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
    .concat("\n");
}

/** Prints tasks: a table (cut to the terminal's width on a TTY), or with `json` their export records. */
export function printTasks(out: Out, tasks: readonly ExportableTask[], json: boolean): void {
  if (json) out.write(`${JSON.stringify(tasks.map(toExportRecord))}\n`);
  else out.write(formatTaskTable(tasks, out.isTTY ? out.columns : undefined));
}

/** Prints one task: a table of one row, or with `json` its export record. */
export function printTask(out: Out, task: ExportableTask, json: boolean): void {
  if (json) out.write(`${JSON.stringify(toExportRecord(task))}\n`);
  else printTasks(out, [task], false);
}

/** 12345 → "12,345". */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

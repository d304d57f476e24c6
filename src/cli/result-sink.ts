import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { finished } from "node:stream/promises";
import { exportFormatOf, exportHeader, formatTasks, type ExportableTask, type ExportFormat } from "../client/export-format.js";
import { UsageError } from "./errors.js";

/** Where `--output` writes each result as it arrives. */
export interface ResultSink {
  write(task: ExportableTask): void;
  /** Flushes and closes; rejects if a write failed. */
  close(): Promise<void>;
}

/** The format for `--output PATH`: `--format` if given, else from the extension; `-` defaults to JSON Lines. */
export function outputFormat(path: string, format: ExportFormat | undefined): ExportFormat {
  if (format) return format;
  if (path === "-") return "jsonl";
  const byName = exportFormatOf(path);
  if (byName === null) throw new UsageError(`cannot tell the format of ${path}: name it .jsonl or .csv, or pass --format jsonl|csv`);
  return byName;
}

/** Opens PATH (or stdout for `-`) and writes the format's header; a file that cannot be created is a usage error. */
export async function openResultSink(path: string, format: ExportFormat, stdout: NodeJS.WritableStream = process.stdout): Promise<ResultSink> {
  let stream: NodeJS.WritableStream = stdout;
  let failure: Error | null = null;
  if (path !== "-") {
    const file = createWriteStream(path);
    try {
      await Promise.race([once(file, "open"), once(file, "error").then(([error]) => Promise.reject(error as Error))]);
    } catch (error) {
      throw new UsageError(`cannot write ${path}: ${(error as { code?: string }).code ?? (error as Error).message}`);
    }
    stream = file;
  }
  // A full disk, or stdout closed by the reader (`| head`): stop writing, and say so at the end.
  stream.on("error", (error: Error & { code?: string }) => (failure ??= new Error(`cannot write ${path}: ${error.code ?? error.message}`)));
  stream.write(exportHeader(format));
  return {
    write: (task) => {
      if (failure === null) stream.write(formatTasks(format, [task]));
    },
    async close() {
      if (stream !== stdout) {
        stream.end();
        await finished(stream).catch(() => {});
      }
      if (failure) throw failure;
    },
  };
}

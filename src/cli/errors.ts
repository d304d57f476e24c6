import { CommanderError } from "commander";
import { CrawlqClientError, CrawlqConnectionError } from "../client/errors.js";

/** The exit codes of every `crawlq` command (README: "Scripts (the CLI)"). */
export const EXIT = {
  /** Done, and every task reported succeeded. */
  ok: 0,
  /** A task failed or was cancelled, or the server refused the request (NOT_FOUND, TIMEOUT, UNAUTHENTICATED, …). */
  failed: 1,
  /** Bad flags or arguments, an unreadable or empty URL file, or input the server refused as BAD_USER_INPUT. */
  usage: 2,
  /** The server could not be reached, or a lost connection was not regained. */
  unreachable: 3,
} as const;

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * What to print for an error that ends a command, as one line (never a stack), and the exit code. Commander's
 * own errors are printed by Commander already: their line is empty.
 */
export function describeFailure(error: unknown): { line: string; exitCode: number } {
  if (error instanceof CommanderError) return { line: "", exitCode: error.exitCode === 0 ? EXIT.ok : EXIT.usage };
  if (error instanceof UsageError) return { line: oneLine(error.message), exitCode: EXIT.usage };
  if (error instanceof CrawlqConnectionError) return { line: oneLine(error.message), exitCode: EXIT.unreachable };
  if (error instanceof CrawlqClientError) {
    const hint = error.code === "UNAUTHENTICATED" ? " (pass --key KEY or set CRAWLQ_API_KEY)" : "";
    const exitCode = error.code === "BAD_USER_INPUT" ? EXIT.usage : EXIT.failed;
    return { line: oneLine(`${error.code}: ${error.message}${hint}`), exitCode };
  }
  return { line: oneLine(error instanceof Error ? error.message : String(error)), exitCode: EXIT.failed };
}

/** Any text on one line: line breaks (a server message, a URL from a file) become spaces. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}

/** Whether a task's outcome makes a command exit 1: it FAILED or was CANCELLED. */
export function isFailure(status: string): boolean {
  return status === "FAILED" || status === "CANCELLED";
}

/** A command's exit code for the tasks it reports: 1 when any failed or was cancelled (unless allowed), else 0. */
export function outcomeExitCode(failures: number, allowFailures = false): number {
  return failures > 0 && !allowFailures ? EXIT.failed : EXIT.ok;
}

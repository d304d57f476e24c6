import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const mainJs = fileURLToPath(new URL("../../src/main.js", import.meta.url));

/** A temp folder for one test file's SQLite files; remove() deletes it. */
export function tempDatabase(): { url: string; dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), "crawlq-test-"));
  return { url: `file:${path.join(dir, "crawlq.db")}`, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RunningService {
  /** http://127.0.0.1:PORT/graphql */
  url: string;
  process: ChildProcess;
  /** Everything the process printed so far. */
  output: () => string;
  /** Resolves once the output (so far or later) matches. */
  waitForOutput: (pattern: RegExp) => Promise<void>;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM and wait for the exit. */
  stop: () => Promise<number | string>;
}

/** Test defaults: the fixture site is on loopback, so private targets are allowed unless a test says otherwise. */
export const TEST_ENV: Record<string, string> = {
  CRAWLQ_ALLOW_PRIVATE: "1",
  CRAWLQ_THREADS: "2",
  CRAWLQ_CONCURRENCY_PER_THREAD: "8",
  CRAWLQ_RETRY_BASE_MS: "50",
  CRAWLQ_TASK_TIMEOUT_MS: "5000",
  LOG_LEVEL: "warn",
};

/** How to start the service's node process, beyond its environment. */
export interface StartServiceOptions {
  /** Arguments for node itself, before the script, e.g. `["--max-old-space-size=256"]` as `npm start` passes. */
  nodeArgs?: string[];
}

/**
 * Starts the real service the way `npm start` does (node dist/src/main.js: migrations, then listen) on a
 * random port, and resolves once it prints its "listening on" line.
 */
export async function startService(
  databaseUrl: string,
  env: Record<string, string> = {},
  options: StartServiceOptions = {},
): Promise<RunningService> {
  const merged = { ...TEST_ENV, ...env };
  // The in-flight limit fixed at threads × concurrency (what it was before it adapted), unless the test sets
  // it: two test files share 2 cores, and that load is not what a contract test's limit should follow (the
  // adaptive controller has tests of its own, on a fake clock).
  merged.CRAWLQ_MAX_IN_FLIGHT ??= String(Number(merged.CRAWLQ_THREADS) * Number(merged.CRAWLQ_CONCURRENCY_PER_THREAD));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), mainJs], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", DATABASE_URL: databaseUrl, ...merged },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /listening on (http:\/\/\S+\/graphql)/.exec(output);
      if (match) {
        child.stdout!.off("data", onData);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", onData);
    void exited.then((code) => reject(new Error(`service exited (${code}) before listening:\n${output}`)));
  });
  const waitForOutput = (pattern: RegExp) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!pattern.test(output)) return;
        child.stdout!.off("data", check);
        child.stderr!.off("data", check);
        resolve();
      };
      child.stdout!.on("data", check);
      child.stderr!.on("data", check);
      check();
    });
  return {
    url,
    process: child,
    output: () => output,
    waitForOutput,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

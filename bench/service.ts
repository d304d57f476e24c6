/**
 * The service under test, started as `npm start` starts it (package.json's start script, node options
 * included: migrations, then listen) in a child process, plus the probes the benchmark needs: its statement counters (SIGUSR2,
 * CRAWLQ_DEBUG_COUNTERS=1) and its memory (/proc/PID/status).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux
const projectRoot = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The command `npm start` runs (package.json "start", e.g. `exec node dist/src/main.js`), as [node options...,
 * script], so the benchmark starts the service exactly as an operator does, node flags included.
 */
export function startCommand(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(projectRoot, "package.json"), "utf8")) as { scripts?: { start?: string } };
  const words = (pkg.scripts?.start ?? "node dist/src/main.js").trim().split(/\s+/);
  // `exec node ...`: the shell npm runs becomes node, so signals reach it (see the README's "Operating").
  if (words[0] === "exec") words.shift();
  if (words[0] !== "node") throw new Error(`cannot run the start script without a shell: ${pkg.scripts?.start}`);
  return words.slice(1).map((w) => (w.endsWith(".js") && !w.startsWith("-") ? path.resolve(projectRoot, w) : w));
}

export interface BenchService {
  url: string;
  pid: number;
  /** Statement counts per store operation, read from the process itself. */
  counters(): Promise<Record<string, number>>;
  /** The main thread's process.memoryUsage() as of the last counters() call. */
  mainMemory(): NodeJS.MemoryUsage | null;
  /** Resident set size now and its peak over the process's life (VmRSS, VmHWM), in MB. */
  memory(): { rssMb: number; peakMb: number };
  /** CPU time (user + system, all threads) the process has used so far, in ms. */
  cpuMs(): number;
  /** CPU time of each thread (tid → ms); the main thread's tid is the pid. */
  threadCpuMs(): Record<string, number>;
  /** CPU time of the main thread alone (the event loop: GraphQL, database, dispatcher), in ms. */
  mainThreadCpuMs(): number;
  /**
   * The whole `crawlq-counters` line (SIGUSR2): statement counts, `memory`, and whatever live gauges this
   * build prints (e.g. `subscriptions`, `openFeeds`); a field a build does not print is absent.
   */
  diagnostics(): Promise<Record<string, unknown>>;
  /** Open file descriptors of the process (sockets, files, pipes, event fds), counted in /proc/PID/fd. */
  openFds(): number;
  /** SIGTERM (graceful stop; also what writes --cpu-prof profiles), then waits for the exit. */
  stop(timeoutMs?: number): Promise<number | string>;
}

/** utime + stime of a /proc stat file, in ms (fields 14 and 15; the command name may contain spaces). */
export function statCpuMs(file: string): number {
  const stat = readFileSync(file, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

export async function startBenchService(
  env: Record<string, string>,
  nodeArgs: string[] = [],
  logFile: string | null = null,
  /** The service's working directory (the project's by default); its `.env` is read, as `npm start` reads one. */
  cwd: string = projectRoot,
): Promise<BenchService> {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...startCommand()], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let buffered = "";
  let tail = "";
  const lineListeners = new Set<(line: string) => void>();
  child.stdout!.on("data", (chunk: Buffer) => {
    if (logFile !== null) appendFileSync(logFile, chunk);
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      tail = (tail + line + "\n").slice(-4000);
      for (const listener of [...lineListeners]) listener(line);
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
    process.stderr.write(chunk);
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  const nextLine = (prefix: string, timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        lineListeners.delete(listener);
        reject(new Error(`no "${prefix}" line from the service within ${timeoutMs} ms; output:\n${tail}`));
      }, timeoutMs);
      const listener = (line: string) => {
        if (!line.includes(prefix)) return;
        clearTimeout(timer);
        lineListeners.delete(listener);
        resolve(line);
      };
      lineListeners.add(listener);
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`service exited (${code}); output:\n${tail}`));
      });
    });

  let lastMemory: NodeJS.MemoryUsage | null = null;
  const countersLine = async () => {
    const line = nextLine("crawlq-counters ", 10_000);
    child.kill("SIGUSR2");
    return JSON.parse((await line).slice((await line).indexOf("{"))) as Record<string, unknown>;
  };
  const listening = await nextLine("listening on", 60_000);
  const url = /listening on (http:\/\/\S+\/graphql)/.exec(listening)![1]!;
  const pid = child.pid!;

  return {
    url,
    pid,
    async counters() {
      const line = nextLine("crawlq-counters ", 10_000);
      child.kill("SIGUSR2");
      // Everything but memory and the two live gauges is a statement count.
      const { memory, subscriptions: _subscriptions, openFeeds: _openFeeds, ...counts } = JSON.parse(
        (await line).slice((await line).indexOf("{")),
      ) as Record<string, number> & { memory?: NodeJS.MemoryUsage };
      lastMemory = memory ?? null;
      return counts;
    },
    mainMemory: () => lastMemory,
    memory() {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
      return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
    },
    cpuMs: () => statCpuMs(`/proc/${pid}/stat`),
    threadCpuMs: () =>
      Object.fromEntries(
        readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
          try {
            return [[tid, statCpuMs(`/proc/${pid}/task/${tid}/stat`)]];
          } catch {
            return []; // the thread ended meanwhile
          }
        }),
      ),
    mainThreadCpuMs: () => statCpuMs(`/proc/${pid}/task/${pid}/stat`),
    diagnostics: countersLine,
    openFds: () => readdirSync(`/proc/${pid}/fd`).length,
    async stop(timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

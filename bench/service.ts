/**
 * The service under test, started as `npm start` starts it (node dist/src/main.js: migrations, then
 * listen) in a child process, plus the probes the benchmark needs: its statement counters (SIGUSR2,
 * CRAWLQ_DEBUG_COUNTERS=1) and its memory (/proc/PID/status).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux
const mainJs = fileURLToPath(new URL("../src/main.js", import.meta.url));

export interface BenchService {
  url: string;
  pid: number;
  /** Statement counts per repository method, read from the process itself. */
  counters(): Promise<Record<string, number>>;
  /** Resident set size now and its peak over the process's life (VmRSS, VmHWM), in MB. */
  memory(): { rssMb: number; peakMb: number };
  /** CPU time (user + system, all threads) the process has used so far, in ms. */
  cpuMs(): number;
  /** CPU time of each thread (tid → ms); the main thread's tid is the pid. */
  threadCpuMs(): Record<string, number>;
  /** CPU time of the main thread alone (the event loop: GraphQL, database, dispatcher), in ms. */
  mainThreadCpuMs(): number;
  /** SIGTERM (graceful stop; also what writes --cpu-prof profiles), then waits for the exit. */
  stop(timeoutMs?: number): Promise<number | string>;
}

/** utime + stime of a /proc stat file, in ms (fields 14 and 15; the command name may contain spaces). */
function statCpuMs(file: string): number {
  const stat = readFileSync(file, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

export async function startBenchService(env: Record<string, string>, nodeArgs: string[] = []): Promise<BenchService> {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, mainJs], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let buffered = "";
  let tail = "";
  const lineListeners = new Set<(line: string) => void>();
  child.stdout!.on("data", (chunk: Buffer) => {
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

  const listening = await nextLine("listening on", 60_000);
  const url = /listening on (http:\/\/\S+\/graphql)/.exec(listening)![1]!;
  const pid = child.pid!;

  return {
    url,
    pid,
    async counters() {
      const line = nextLine("crawlq-counters ", 10_000);
      child.kill("SIGUSR2");
      return JSON.parse((await line).slice((await line).indexOf("{"))) as Record<string, number>;
    },
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
    async stop(timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

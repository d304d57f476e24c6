import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** A process started by a test and the service it runs, once it has printed its "listening on" line. */
export interface Spawned {
  child: ChildProcess;
  /** http://127.0.0.1:PORT/graphql */
  url: string;
  output: () => string;
  /** The exit code, or the signal's name. */
  exited: Promise<number | string>;
}

/**
 * Runs `command args` (node, npm, ...) with exactly `env` in `cwd` and resolves once the service in it
 * prints "crawlq listening on URL"; rejects if it exits first.
 */
export async function spawnService(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Spawned> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /crawlq listening on (http:\/\/\S+\/graphql)\n/.exec(output);
      if (!match) return;
      child.stdout!.off("data", onData);
      resolve(match[1]!);
    };
    child.stdout!.on("data", onData);
    void exited.then((code) => reject(new Error(`${command} exited (${code}) before listening:\n${output}`)));
  });
  return { child, url, output: () => output, exited };
}

/** The ids of the live processes whose parent is `pid` (Linux /proc). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Field 4 (ppid) follows the command name, which may contain spaces and parentheses.
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === pid) children.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return children;
}

/** Whether process `pid` still exists (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Resolves once `pid` is gone, or rejects after `timeoutMs`. */
export async function gone(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} is still running`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

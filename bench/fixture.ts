/**
 * The benchmark's fixture: the tests' fixture site (testkit/fixture-site.ts, one per latency) plus a
 * "gate" site whose `/gate/:n` requests are held until released, so the benchmark can keep every pool
 * slot busy on purpose (the waiters measurement needs tasks that stay PENDING until it says so).
 *
 * Runs in the benchmark's process (`inproc`) or in a child process of its own (`child`, the default):
 * a child keeps the site's request handling off the event loop of the client being measured.
 * Loopback only.
 */
import { fork, type ChildProcess } from "node:child_process";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { startFixtureSite, type FixtureSite } from "../testkit/fixture-site.js";

export interface FixtureOrigins {
  /** latency (ms) → origin of a fixture site with that added latency */
  sites: Record<number, string>;
  /** origin of the gate site */
  gate: string;
}

/** What the benchmark may ask of the fixture, wherever it runs. */
export interface Fixture {
  origins: FixtureOrigins;
  /** Gate requests held right now. */
  held(): Promise<number>;
  /** Answers every held gate request (and any that arrive later, until `close`d again). */
  release(): Promise<number>;
  /** Holds gate requests again. */
  hold(): Promise<void>;
  /** Forgets the fixture sites' request logs (they grow by one record per request). */
  resetStats(): Promise<void>;
  /** CPU time the fixture's process has used so far (user + system), in ms. */
  cpuMs(): Promise<number>;
  /** Total requests the sites received since the last reset. */
  requests(): Promise<number>;
  /**
   * The /bench/:n pages the sites served since the last reset, by the User-Agent that asked: with one
   * agent per instance, which instance ran each task.
   */
  benchPagesByAgent(): Promise<Record<string, number[]>>;
  /**
   * The /bench/:n requests the sites received since the last reset, by Host header (name:port): how many,
   * and the most in flight at once (arrival to response end; one still open counts until now). Only page
   * requests: a host's robots.txt fetch is outside the per-host limit.
   */
  benchPagesByHost(): Promise<Record<string, { requests: number; maxConcurrent: number }>>;
  close(): Promise<void>;
}

interface Local {
  origins: FixtureOrigins;
  ops: Record<string, () => Promise<unknown> | unknown>;
  close(): Promise<void>;
}

async function startLocal(latencies: number[]): Promise<Local> {
  const sites = new Map<number, FixtureSite>();
  for (const latency of latencies) sites.set(latency, await startFixtureSite({ latencyMs: latency }));

  const heldResponses: ServerResponse[] = [];
  let open = false;
  const answer = (res: ServerResponse, path: string) => {
    const body = `<!doctype html><html><head><title>Gate</title></head><body><a href="/">${path}</a></body></html>`;
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };
  const gate = createServer((req, res) => {
    const path = req.url ?? "/";
    if (!path.startsWith("/gate/")) {
      res.writeHead(404, { "content-type": "text/plain", "content-length": 0 });
      res.end();
      return;
    }
    if (open) return answer(res, path);
    heldResponses.push(res);
    res.on("close", () => {
      const i = heldResponses.indexOf(res);
      if (i >= 0) heldResponses.splice(i, 1);
    });
  });
  await new Promise<void>((resolve) => gate.listen(0, "127.0.0.1", resolve));
  const gateOrigin = `http://127.0.0.1:${(gate.address() as AddressInfo).port}`;

  return {
    origins: { sites: Object.fromEntries([...sites].map(([l, s]) => [l, s.origin])), gate: gateOrigin },
    ops: {
      held: () => heldResponses.length,
      release: () => {
        open = true;
        const n = heldResponses.length;
        for (const res of heldResponses.splice(0)) answer(res, "released");
        return n;
      },
      hold: () => {
        open = false;
      },
      resetStats: () => {
        for (const site of sites.values()) site.resetStats();
      },
      requests: () => [...sites.values()].reduce((sum, site) => sum + site.requestCount(), 0),
      benchPagesByAgent: () => {
        const byAgent: Record<string, number[]> = {};
        for (const site of sites.values()) {
          for (const record of site.requestLog) {
            const page = /^\/bench\/(\d+)/.exec(record.path);
            if (page) (byAgent[record.userAgent] ??= []).push(Number(page[1]));
          }
        }
        return byAgent;
      },
      benchPagesByHost: () => {
        const edges = new Map<string, Array<[number, number]>>();
        for (const site of sites.values()) {
          for (const record of site.requestLog) {
            if (!record.path.startsWith("/bench/")) continue;
            let list = edges.get(record.host);
            if (!list) edges.set(record.host, (list = []));
            list.push([record.start, 1], [record.end ?? Infinity, -1]);
          }
        }
        const byHost: Record<string, { requests: number; maxConcurrent: number }> = {};
        for (const [host, list] of edges) {
          // At the same instant an end goes before a start: a slot handed on is not two at once.
          list.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
          let now = 0;
          let max = 0;
          for (const [, step] of list) max = Math.max(max, (now += step));
          byHost[host] = { requests: list.length / 2, maxConcurrent: max };
        }
        return byHost;
      },
      cpuMs: () => {
        const usage = process.cpuUsage();
        return (usage.user + usage.system) / 1000;
      },
    },
    async close() {
      for (const res of heldResponses.splice(0)) res.destroy();
      gate.closeAllConnections();
      await new Promise<void>((resolve) => gate.close(() => resolve()));
      await Promise.all([...sites.values()].map((site) => site.close()));
    },
  };
}

/** Starts the fixture in this process or in a child process. */
export async function startFixture(mode: "child" | "inproc", latencies: number[]): Promise<Fixture> {
  if (mode === "inproc") {
    const local = await startLocal(latencies);
    const call = async <T>(op: string) => (await local.ops[op]!()) as T;
    return fixtureOver(local.origins, call, () => local.close());
  }
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--fixture-child", latencies.join(",")], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let nextId = 0;
  const pending = new Map<number, (value: unknown) => void>();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const origins = await new Promise<FixtureOrigins>((resolve, reject) => {
    child.once("message", (m: { ready: FixtureOrigins }) => resolve(m.ready));
    void exited.then(() => reject(new Error("fixture process exited before it was ready")));
  });
  child.on("message", (m: { id: number; result: unknown }) => pending.get(m.id)?.(m.result));
  const call = <T>(op: string) =>
    new Promise<T>((resolve) => {
      const id = nextId++;
      pending.set(id, (value) => {
        pending.delete(id);
        resolve(value as T);
      });
      child.send({ id, op });
    });
  return fixtureOver(origins, call, async () => {
    await call("close");
    await exited;
  });
}

/** The Fixture operations over one way of invoking them (a direct call, or a message to the child). */
function fixtureOver(
  origins: FixtureOrigins,
  call: <T>(op: string) => Promise<T>,
  close: () => Promise<void>,
): Fixture {
  return {
    origins,
    held: () => call<number>("held"),
    release: () => call<number>("release"),
    hold: () => call<void>("hold"),
    resetStats: () => call<void>("resetStats"),
    requests: () => call<number>("requests"),
    benchPagesByAgent: () => call<Record<string, number[]>>("benchPagesByAgent"),
    benchPagesByHost: () => call<Record<string, { requests: number; maxConcurrent: number }>>("benchPagesByHost"),
    cpuMs: () => call<number>("cpuMs"),
    close,
  };
}

// Child-process entry.
if (process.argv[2] === "--fixture-child" && process.send) {
  const latencies = (process.argv[3] ?? "0").split(",").map(Number);
  const local = await startLocal(latencies);
  process.on("message", (m: { id: number; op: string }) => {
    void (async () => {
      if (m.op === "close") {
        await local.close();
        process.send!({ id: m.id, result: null }, () => process.disconnect());
        return;
      }
      const result = await local.ops[m.op]!();
      process.send!({ id: m.id, result: result ?? null });
    })();
  });
  process.send({ ready: local.origins });
}

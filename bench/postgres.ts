/**
 * The benchmark's PostgreSQL databases: each configuration of a run gets a database of its own, created
 * empty on the server named by `--postgres-url` (the services migrate it at start, as in production) and
 * dropped at the end. The run never touches any other database: it only creates and drops names it made,
 * `crawlq_bench_<pid>_<random>_<label>`.
 */
import { randomBytes } from "node:crypto";
import { withPgClient } from "../testkit/postgres.js";
import { statCpuMs } from "./service.js";

export const DEFAULT_POSTGRES_URL = process.env.CRAWLQ_TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";

export interface BenchDatabase {
  /** postgresql://…/crawlq_bench_… */
  url: string;
  name: string;
  /** Drops the database (closing whatever is still connected to it). */
  drop(): Promise<void>;
}

const RUN = `${process.pid}_${randomBytes(3).toString("hex")}`;

/** A new, empty database on the server of `adminUrl` (which names an existing database to connect to). */
export async function createBenchDatabase(adminUrl: string, label: string): Promise<BenchDatabase> {
  const name = `crawlq_bench_${RUN}_${label.replace(/[^a-z0-9_]/gi, "_")}`.toLowerCase();
  await withPgClient(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await withPgClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

/** The server's version string and its settings that matter for commit latency. */
export async function describeServer(adminUrl: string): Promise<Record<string, string>> {
  return withPgClient(adminUrl, async (c) => {
    const settings = await c.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'fsync', 'wal_sync_method', 'shared_buffers', 'max_connections')`,
    );
    return Object.fromEntries(settings.rows.map((r) => [r.name, r.setting]));
  });
}

/**
 * CPU time (ms) each of the server's backend processes connected to `database` has used so far (pid →
 * ms), from /proc/PID/stat (the server runs on this machine): the database's share of a run, which the
 * run's other meters do not see.
 */
export async function backendCpuMs(adminUrl: string, database: string): Promise<Map<number, number>> {
  const pids = await withPgClient(adminUrl, (c) => c.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1`, [database]));
  const cpu = new Map<number, number>();
  for (const { pid } of pids.rows) {
    try {
      cpu.set(pid, statCpuMs(`/proc/${pid}/stat`));
    } catch {
      // the backend ended meanwhile
    }
  }
  return cpu;
}

/**
 * CPU used between two backendCpuMs snapshots: a backend that started in between counts whole; one that
 * ended in between (the pools close idle connections after 10 s) is lost, so this is a lower bound.
 */
export function backendCpuUsed(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, now] of after) ms += now - (before.get(pid) ?? 0);
  return ms;
}

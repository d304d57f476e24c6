import { PostgresKeyStore } from "../auth/postgres-key-store.js";
import { PostgresInstanceRegistry } from "../cluster/postgres-instance-registry.js";
import type { Config } from "../config.js";
import { PostgresCompletionBus } from "../tasks/bus/postgres-bus.js";
import { migratePostgres } from "../tasks/store/postgres/migrate.js";
import { openPool } from "../tasks/store/postgres/pool.js";
import { PostgresTaskStore } from "../tasks/store/postgres/postgres-task-store.js";
import { ALL_TASKS } from "../tasks/task-store.js";
import type { Backend } from "./backend.js";

/** Connections an instance's pool may open (a cluster of N instances needs N × 9 of the server's max_connections). */
const CONNECTIONS_PER_INSTANCE = 8;

/**
 * PostgreSQL: several instances on one database. Claims are taken under a cluster-wide lock with the
 * per-host limits counted in the database; completions travel over LISTEN/NOTIFY; each instance holds a
 * lease in the Instance table. No lock of the whole database: other instances are expected.
 */
export function postgresBackend(config: Config): Backend {
  const url = config.databaseUrl;
  const redacted = new URL(url);
  redacted.password = redacted.password ? "***" : "";
  const description = `PostgreSQL ${redacted.toString()}`;
  return {
    description,
    lock: async () => ({ release: () => {} }),
    // The first thing that connects: a server that cannot be reached is named in the one line main prints.
    anyActiveKeys: () =>
      PostgresKeyStore.anyActiveIn(url).catch((error: unknown) => {
        throw new Error(`cannot use ${description}: ${error instanceof Error ? error.message : String(error)}`);
      }),
    migrate: async () => void (await migratePostgres(url)),
    open: async (logger) => {
      // One pool per instance, shared by the store (which ends it at close), the key store and the lease; the
      // bus's listening connection is the only other: CONNECTIONS_PER_INSTANCE + 1 in all.
      const pool = openPool(url, CONNECTIONS_PER_INSTANCE, `crawlq-${process.pid}`);
      const store = await PostgresTaskStore.open(pool);
      const bus = await PostgresCompletionBus.start({
        databaseUrl: url,
        reader: {
          findByIds: (ids) => store.findByIds(ids, ALL_TASKS),
          listFinishedSince: (since, limit) => store.listFinishedSince(since, limit),
        },
        logger,
        // Named after the process: an operator (or a test) can find it in pg_stat_activity.
        applicationName: `crawlq-events-${process.pid}`,
      });
      return { store, bus, keys: new PostgresKeyStore(pool), instances: new PostgresInstanceRegistry(pool) };
    },
    openKeys: async () => {
      // Safe beside running instances: migrations take an advisory lock and skip what is applied.
      await migratePostgres(url);
      return new PostgresKeyStore(url);
    },
  };
}

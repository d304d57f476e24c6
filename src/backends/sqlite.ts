import { SqliteKeyStore } from "../auth/sqlite-key-store.js";
import { LocalInstanceRegistry } from "../cluster/instance-registry.js";
import type { Config } from "../config.js";
import { InProcessCompletionBus } from "../tasks/bus/in-process-bus.js";
import { migrateSqlite } from "../tasks/store/sqlite/migrate.js";
import { lockDatabaseFile, SqliteTaskStore } from "../tasks/store/sqlite/sqlite-task-store.js";
import type { Backend } from "./backend.js";

/**
 * SQLite, the embedded default: one process per file (a file lock), so completions stay in the process
 * (the in-process bus) and the only instance is this one.
 */
export function sqliteBackend(config: Config): Backend {
  const url = config.databaseUrl;
  return {
    description: `SQLite file ${url.slice("file:".length)}`,
    lock: async () => lockDatabaseFile(url),
    anyActiveKeys: async () => SqliteKeyStore.anyActiveIn(url),
    migrate: async () => migrateSqlite(url),
    open: async () => ({
      store: await SqliteTaskStore.open(url, config.sqliteSynchronous),
      bus: new InProcessCompletionBus(),
      keys: new SqliteKeyStore(url),
      instances: new LocalInstanceRegistry(),
    }),
    openKeys: async () => {
      // A database that has the keys table is left alone, so this works beside a running service.
      if (!SqliteKeyStore.tableExists(url)) migrateSqlite(url);
      return new SqliteKeyStore(url);
    },
  };
}

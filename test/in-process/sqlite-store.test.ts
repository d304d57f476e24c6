import Database from "better-sqlite3";
import { TASK_STATUSES } from "../../src/tasks/task-state.js";
import type { TaskScope } from "../../src/tasks/task-store.js";
import { useFreshSqlite } from "./fresh-sqlite.js";
import { describeTaskStoreContract, type RawTasks } from "./store-contract.js";

// Each test gets a migrated SQLite file of its own (a copy of one template migrated once for this file).
const sqlite = useFreshSqlite();

/** A connection of its own to the store's file, for the contract's GROUP BY and purge. */
function rawSqlite(databaseUrl: string): RawTasks {
  const file = databaseUrl.replace(/^file:/, "");
  const onFile = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(file);
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };
  return {
    async countByStatus(scope: TaskScope) {
      const rows = onFile((db) =>
        scope.kind === "all"
          ? db.prepare<[], { status: string; n: number }>("SELECT status, COUNT(*) AS n FROM Task GROUP BY status").all()
          : db.prepare<[number], { status: string; n: number }>("SELECT status, COUNT(*) AS n FROM Task WHERE ownerKeyId = ? GROUP BY status").all(scope.keyId),
      );
      return { ...Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])), ...Object.fromEntries(rows.map((r) => [r.status, r.n])) };
    },
    async deleteTasks(ids) {
      onFile((db) => db.prepare("DELETE FROM Task WHERE id IN (SELECT value FROM json_each(?))").run(JSON.stringify(ids)));
    },
  };
}

describeTaskStoreContract("SQLite", async () => {
  const opened = await sqlite.open();
  return { ...opened, raw: rawSqlite(opened.databaseUrl) };
});

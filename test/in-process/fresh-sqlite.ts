import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";
import { migrateSqlite } from "../../src/tasks/store/sqlite/migrate.js";
import { SqliteTaskStore } from "../../src/tasks/store/sqlite/sqlite-task-store.js";

export interface OpenedSqliteStore {
  store: SqliteTaskStore;
  databaseUrl: string;
  /** Closes the store (and those openAnother gave) and deletes its file. */
  cleanup: () => Promise<void>;
  /** Another store on the same file (a second connection pair, as a second instance would have). */
  openAnother: () => Promise<SqliteTaskStore>;
}

/**
 * Fresh, migrated SQLite stores for one test file. migrateSqlite runs the Prisma CLI (about a second), so
 * it migrates one template file in beforeAll; each `open()` copies the template to a new file of its own.
 * Call at the top level of a test file (it registers the beforeAll/afterAll hooks).
 */
export function useFreshSqlite(): { open: () => Promise<OpenedSqliteStore> } {
  let dir = "";
  let template = "";
  let files = 0;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "crawlq-inproc-"));
    template = path.join(dir, "template.db");
    migrateSqlite(`file:${template}`);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    async open() {
      const file = path.join(dir, `store-${++files}.db`);
      copyFileSync(template, file);
      const databaseUrl = `file:${file}`;
      const store = await SqliteTaskStore.open(databaseUrl, "NORMAL");
      const others: SqliteTaskStore[] = [];
      let closed = false;
      return {
        store,
        databaseUrl,
        async openAnother() {
          const other = await SqliteTaskStore.open(databaseUrl, "NORMAL");
          others.push(other);
          return other;
        },
        async cleanup() {
          if (!closed) await Promise.all([store, ...others].map((s) => s.close()));
          closed = true;
          // The WAL and shared-memory files go too.
          for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
        },
      };
    },
  };
}

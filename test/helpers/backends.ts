import { afterAll, beforeAll } from "vitest";
import { dropTemplate, freshPostgres } from "./postgres.js";
import { tempDatabase } from "./service.js";

/** A database of the test's own on one backend; `remove` deletes it. */
export interface TestDatabase {
  url: string;
  remove: () => Promise<void>;
}

/**
 * The database engines every contract test runs on (`describe.each(TEST_BACKENDS)`): the same tests, once
 * per backend, each on a fresh database of its own. PostgreSQL must be running (see .ci/run); when it is
 * not, its half fails.
 *
 * On both backends (test/e2e): futures-api, subscriptions, graphql-sse, graphql-ws-errors, thousand-tasks,
 * api-keys, exports, lifetime, cli, crawling/retries and crawling/politeness; test/in-process/store-contract.
 * PostgreSQL only: several-instances (a cluster needs a shared database).
 * SQLite only, and why:
 * - database-faults: a full or failing disk under the SQLite file (a tmpfs); PostgreSQL's storage is the
 *   server's, not the service's.
 * - startup-guards: the SQLite file lock (one process per file); the bind-address guards do not touch the
 *   database.
 * - dotenv: `.env` loading, checked through the default SQLite path.
 * - cli-reconnect, faults, supervision, browser, crawling/{robots,ssrf,limits,hostile-pages}: the CLI's
 *   reconnection, worker-thread faults and supervision, the web UI and the crawler's own rules: nothing in
 *   them depends on the backend; what they need of the store is run on both by the files above.
 */
export interface TestBackend {
  name: "SQLite" | "PostgreSQL";
  /** A new, empty database; the service migrates it at start. */
  database: () => Promise<TestDatabase>;
}

export const SQLITE: TestBackend = {
  name: "SQLite",
  database: async () => {
    const db = tempDatabase();
    return { url: db.url, remove: async () => db.remove() };
  },
};

export const POSTGRES: TestBackend = {
  name: "PostgreSQL",
  database: async () => {
    const db = await freshPostgres();
    return { url: db.url, remove: db.drop };
  },
};

export const TEST_BACKENDS: readonly TestBackend[] = [SQLITE, POSTGRES];

// Every test file that imports this runs in a process of its own, which copies its PostgreSQL databases
// from a template of its own (see freshPostgres): drop it once the file is done, or one is left per file.
afterAll(() => dropTemplate());

/**
 * A fresh database of `backend` for the tests of the enclosing describe, created before them and removed
 * after them; call the result in tests and hooks registered after this call.
 */
export function databaseFor(backend: TestBackend): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await backend.database();
  });
  afterAll(async () => {
    await db?.remove();
  });
  return () => {
    if (!db) throw new Error("the database is not created yet: read it in a test or a hook");
    return db;
  };
}

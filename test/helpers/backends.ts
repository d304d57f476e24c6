import { afterAll, beforeAll } from "vitest";
import { freshPostgres } from "./postgres.js";
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

import { afterAll } from "vitest";
import { PostgresTaskStore } from "../../src/tasks/store/postgres/postgres-task-store.js";
import { dropTemplate, freshPostgres } from "../helpers/postgres.js";
import { describeTaskStoreContract, type OpenedTaskStore } from "./store-contract.js";

// Each test gets a migrated database of its own (a copy of a template migrated once per process). No
// PostgreSQL: every test fails at its first connection, none is skipped.
afterAll(() => dropTemplate());

/** A store on a fresh database, and more stores on the same database (the other instances). */
export async function openPostgresStore(): Promise<OpenedTaskStore & { url: string }> {
  const database = await freshPostgres();
  const stores = [await PostgresTaskStore.open(database.url)];
  return {
    store: stores[0]!,
    url: database.url,
    async openAnother() {
      const other = await PostgresTaskStore.open(database.url);
      stores.push(other);
      return other;
    },
    async cleanup() {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      await database.drop();
    },
  };
}

describeTaskStoreContract("PostgreSQL", openPostgresStore);

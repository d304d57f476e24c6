import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KeyStore } from "../../src/auth/api-keys.js";
import { PostgresKeyStore } from "../../src/auth/postgres-key-store.js";
import { SqliteKeyStore } from "../../src/auth/sqlite-key-store.js";
import { dropTemplate, emptyPostgres, freshPostgres } from "../helpers/postgres.js";
import { useFreshSqlite } from "./fresh-sqlite.js";

const sqlite = useFreshSqlite();
afterAll(() => dropTemplate());

interface KeyBackend {
  name: string;
  /** A key store on a migrated database of its own, and the cleanup that removes it. */
  open: () => Promise<{ keys: KeyStore; databaseUrl: string; cleanup: () => Promise<void> }>;
  /** A database URL with nothing migrated yet (no file, an empty database), and its cleanup. */
  unmigrated: () => Promise<{ databaseUrl: string; cleanup: () => Promise<void> }>;
  anyActiveIn: (databaseUrl: string) => Promise<boolean>;
}

const BACKENDS: KeyBackend[] = [
  {
    name: "SQLite",
    async open() {
      const { store, databaseUrl, cleanup } = await sqlite.open();
      // The key store has a connection of its own; the task store is not needed.
      await store.close();
      const keys = new SqliteKeyStore(databaseUrl);
      return { keys, databaseUrl, cleanup: async () => (await keys.close(), await cleanup()) };
    },
    async unmigrated() {
      const dir = mkdtempSync(path.join(tmpdir(), "crawlq-keys-"));
      return { databaseUrl: `file:${path.join(dir, "none.db")}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
    anyActiveIn: async (databaseUrl) => SqliteKeyStore.anyActiveIn(databaseUrl),
  },
  {
    name: "PostgreSQL",
    async open() {
      const database = await freshPostgres();
      const keys = new PostgresKeyStore(database.url);
      return { keys, databaseUrl: database.url, cleanup: async () => (await keys.close(), await database.drop()) };
    },
    async unmigrated() {
      const database = await emptyPostgres();
      return { databaseUrl: database.url, cleanup: database.drop };
    },
    anyActiveIn: (databaseUrl) => PostgresKeyStore.anyActiveIn(databaseUrl),
  },
];

describe.each(BACKENDS)("KeyStore: $name", (backend) => {
  let keys: KeyStore;
  let databaseUrl: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ keys, databaseUrl, cleanup } = await backend.open());
  });
  afterEach(() => cleanup());

  it("creates a key, shown once, that authenticates as its caller; only its record is listed", async () => {
    const { key, record } = await keys.create("ci-runner", false);
    expect(key).toMatch(/^cq_[A-Za-z0-9_-]{43}$/);
    expect(record).toEqual({ id: record.id, name: "ci-runner", admin: false, createdAt: expect.any(Date), revokedAt: null });
    expect(Math.abs(record.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
    const admin = await keys.create("ops", true);
    expect(await keys.authenticate(key)).toEqual({ keyId: record.id, name: "ci-runner", admin: false });
    expect(await keys.authenticate(admin.key)).toEqual({ keyId: admin.record.id, name: "ops", admin: true });
    expect(await keys.list()).toEqual([record, admin.record]);
  });

  it("does not authenticate an unknown key", async () => {
    await keys.create("a", false);
    expect(await keys.authenticate("cq_not-a-key")).toBeNull();
  });

  it("refuses a bad name and a name that exists, revoked or not", async () => {
    await expect(keys.create("has space", false)).rejects.toMatchObject({ code: "BAD_KEY_NAME" });
    await expect(keys.create("", false)).rejects.toMatchObject({ code: "BAD_KEY_NAME" });
    await keys.create("taken", false);
    await expect(keys.create("taken", true)).rejects.toMatchObject({ code: "KEY_EXISTS" });
    await keys.revoke("taken");
    await expect(keys.create("taken", false)).rejects.toMatchObject({ code: "KEY_EXISTS" });
    expect((await keys.list()).map((k) => k.name)).toEqual(["taken"]);
  });

  it("revokes a key once: it no longer authenticates, and stays listed with when it was revoked", async () => {
    const { key } = await keys.create("old", false);
    expect(await keys.revoke("old")).toBe(true);
    expect(await keys.revoke("old")).toBe(false);
    expect(await keys.revoke("never-was")).toBe(false);
    expect(await keys.authenticate(key)).toBeNull();
    const [record] = await keys.list();
    expect(record!.revokedAt).toBeInstanceOf(Date);
  });

  it("anyActive: whether any key is active", async () => {
    expect(await keys.anyActive()).toBe(false);
    await keys.create("one", false);
    expect(await keys.anyActive()).toBe(true);
    await keys.revoke("one");
    expect(await keys.anyActive()).toBe(false);
  });

  it("anyActiveIn reads the database before the service opens it: false when it is not migrated yet", async () => {
    const unmigrated = await backend.unmigrated();
    try {
      expect(await backend.anyActiveIn(unmigrated.databaseUrl)).toBe(false);
    } finally {
      await unmigrated.cleanup();
    }
    expect(await backend.anyActiveIn(databaseUrl)).toBe(false);
    await keys.create("one", false);
    expect(await backend.anyActiveIn(databaseUrl)).toBe(true);
  });
});

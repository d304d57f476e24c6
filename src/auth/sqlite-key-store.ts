import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import { assertValidKeyName, generateKey, hashKey, keyExistsError, type ApiKeyRecord, type Caller, type KeyStore } from "./api-keys.js";

const TABLE_EXISTS = `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ApiKey'`;
const ANY_ACTIVE = `SELECT 1 FROM ApiKey WHERE revokedAt IS NULL LIMIT 1`;

type KeyRow = { id: number; name: string; admin: number; createdAt: number; revokedAt: number | null };

/** The KeyStore in the SQLite file the tasks live in (its own connection; every statement is tiny). */
export class SqliteKeyStore implements KeyStore {
  readonly #db: Database.Database;
  readonly #sql;

  /** Whether the database file exists and has the ApiKey table (its migrations are applied). */
  static tableExists(databaseUrl: string): boolean {
    return SqliteKeyStore.#peek(databaseUrl, (db) => db.prepare(TABLE_EXISTS).get() !== undefined);
  }

  /** Whether the database has an active key, read before any migration (false for no file, no table). */
  static anyActiveIn(databaseUrl: string): boolean {
    return SqliteKeyStore.#peek(
      databaseUrl,
      (db) => db.prepare(TABLE_EXISTS).get() !== undefined && db.prepare(ANY_ACTIVE).get() !== undefined,
    );
  }

  static #peek(databaseUrl: string, read: (db: Database.Database) => boolean): boolean {
    const file = databaseUrl.replace(/^file:/, "");
    if (!existsSync(file)) return false;
    const db = new Database(file, { readonly: true });
    try {
      return read(db);
    } finally {
      db.close();
    }
  }

  constructor(databaseUrl: string) {
    this.#db = new Database(databaseUrl.replace(/^file:/, ""));
    this.#db.pragma("busy_timeout = 5000");
    const db = this.#db;
    this.#sql = {
      insert: db.prepare(`INSERT INTO ApiKey (name, hash, admin, createdAt) VALUES (?, ?, ?, ?) RETURNING *`),
      byName: db.prepare<[string], KeyRow>(`SELECT * FROM ApiKey WHERE name = ?`),
      list: db.prepare<[], KeyRow>(`SELECT * FROM ApiKey ORDER BY id`),
      revoke: db.prepare(`UPDATE ApiKey SET revokedAt = ? WHERE name = ? AND revokedAt IS NULL`),
      byHash: db.prepare<[string], KeyRow>(`SELECT * FROM ApiKey WHERE hash = ? AND revokedAt IS NULL`),
      anyActive: db.prepare(ANY_ACTIVE),
    };
  }

  async create(name: string, admin: boolean): Promise<{ key: string; record: ApiKeyRecord }> {
    assertValidKeyName(name);
    if (this.#sql.byName.get(name)) throw keyExistsError(name);
    const key = generateKey();
    const row = this.#sql.insert.get(name, hashKey(key), admin ? 1 : 0, Date.now()) as KeyRow;
    return { key, record: toRecord(row) };
  }

  async list(): Promise<ApiKeyRecord[]> {
    return this.#sql.list.all().map(toRecord);
  }

  async revoke(name: string): Promise<boolean> {
    return this.#sql.revoke.run(Date.now(), name).changes > 0;
  }

  async authenticate(key: string): Promise<Caller | null> {
    const row = this.#sql.byHash.get(hashKey(key));
    return row ? { keyId: row.id, name: row.name, admin: row.admin === 1 } : null;
  }

  async anyActive(): Promise<boolean> {
    return this.#sql.anyActive.get() !== undefined;
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

function toRecord(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    admin: row.admin === 1,
    createdAt: new Date(row.createdAt),
    revokedAt: row.revokedAt === null ? null : new Date(row.revokedAt),
  };
}

import pg from "pg";
import { usePool } from "../tasks/store/postgres/pool.js";
import { assertValidKeyName, generateKey, hashKey, keyExistsError, type ApiKeyRecord, type Caller, type KeyStore } from "./api-keys.js";

const ANY_ACTIVE = `SELECT 1 FROM "ApiKey" WHERE "revokedAt" IS NULL LIMIT 1`;
// What a database that is not there yet, or not migrated yet, answers (invalid_catalog_name, undefined_table).
const NOT_THERE_YET = new Set(["3D000", "42P01"]);

type KeyRow = { id: number; name: string; admin: boolean; createdAt: Date; revokedAt: Date | null };

/** The KeyStore in the PostgreSQL database the tasks live in (the store's pool, or a small one of its own). */
export class PostgresKeyStore implements KeyStore {
  readonly #pool: pg.Pool;
  readonly #release: () => Promise<void>;

  /**
   * Whether the database has an active key, read before any migration: false when the database or its
   * ApiKey table does not exist yet. Rejects when the server cannot be reached.
   */
  static async anyActiveIn(databaseUrl: string): Promise<boolean> {
    const client = new pg.Client({ connectionString: databaseUrl });
    try {
      await client.connect();
      return (await client.query(ANY_ACTIVE)).rowCount! > 0;
    } catch (error) {
      if (NOT_THERE_YET.has((error as { code?: string }).code ?? "")) return false;
      throw error;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** On a URL (a pool of its own, ended at close) or on a shared pool (left open). */
  constructor(source: string | pg.Pool) {
    ({ pool: this.#pool, release: this.#release } = usePool(source, 2));
  }

  async create(name: string, admin: boolean): Promise<{ key: string; record: ApiKeyRecord }> {
    assertValidKeyName(name);
    const key = generateKey();
    // The unique name decides: of two instances creating the same name at once, one gets KEY_EXISTS.
    const { rows } = await this.#pool.query<KeyRow>(
      `INSERT INTO "ApiKey" (name, hash, admin) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING *`,
      [name, hashKey(key), admin],
    );
    if (!rows[0]) throw keyExistsError(name);
    return { key, record: toRecord(rows[0]) };
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (await this.#pool.query<KeyRow>(`SELECT * FROM "ApiKey" ORDER BY id`)).rows.map(toRecord);
  }

  async revoke(name: string): Promise<boolean> {
    const result = await this.#pool.query(`UPDATE "ApiKey" SET "revokedAt" = now() WHERE name = $1 AND "revokedAt" IS NULL`, [name]);
    return (result.rowCount ?? 0) > 0;
  }

  async authenticate(key: string): Promise<Caller | null> {
    const { rows } = await this.#pool.query<KeyRow>({
      name: "crawlq_authenticate",
      text: `SELECT * FROM "ApiKey" WHERE hash = $1 AND "revokedAt" IS NULL`,
      values: [hashKey(key)],
    });
    const row = rows[0];
    return row ? { keyId: row.id, name: row.name, admin: row.admin } : null;
  }

  async anyActive(): Promise<boolean> {
    return ((await this.#pool.query(ANY_ACTIVE)).rowCount ?? 0) > 0;
  }

  async close(): Promise<void> {
    await this.#release();
  }
}

function toRecord(row: KeyRow): ApiKeyRecord {
  return { id: row.id, name: row.name, admin: row.admin, createdAt: row.createdAt, revokedAt: row.revokedAt };
}

import Database from "better-sqlite3";
import pg from "pg";

/** The columns that hold instants: epoch milliseconds on SQLite, timestamptz on PostgreSQL. */
const INSTANTS = new Set(["createdAt", "startedAt", "finishedAt", "runAt", "revokedAt"]);

/**
 * Rows read and written straight in a test's database, beside the service, on either backend. SQL is
 * written once for both: identifiers double-quoted, `?` placeholders; instants are epoch milliseconds
 * both ways, whatever the backend stores.
 */
export interface DatabaseRows {
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Inserts the rows (each with the same columns) into `table`; their new ids, in order. */
  insert(table: string, rows: ReadonlyArray<Record<string, unknown>>): Promise<number[]>;
  close(): Promise<void>;
}

const quoted = (columns: readonly string[]) => columns.map((c) => `"${c}"`).join(", ");

function sqliteRows(file: string): DatabaseRows {
  const db = new Database(file);
  return {
    all: async <T>(sql: string, params: readonly unknown[] = []) => db.prepare(sql).all(...params) as T[],
    insert: async (table, rows) => {
      if (rows.length === 0) return [];
      const columns = Object.keys(rows[0]!);
      const statement = db.prepare(
        `INSERT INTO "${table}" (${quoted(columns)}) VALUES (${columns.map((c) => `@${c}`).join(", ")}) RETURNING id`,
      );
      return db.transaction(() => rows.map((row) => (statement.get(row) as { id: number }).id))();
    },
    close: async () => void db.close(),
  };
}

function postgresRows(url: string): DatabaseRows {
  const client = new pg.Client({ connectionString: url });
  const connected = client.connect();
  const fromInstants = (row: Record<string, unknown>) => {
    for (const [column, value] of Object.entries(row)) if (value instanceof Date) row[column] = value.getTime();
    return row;
  };
  return {
    all: async <T>(sql: string, params: readonly unknown[] = []) => {
      await connected;
      let n = 0;
      const { rows } = await client.query(sql.replace(/\?/g, () => `$${++n}`), [...params]);
      return rows.map(fromInstants) as T[];
    },
    insert: async (table, rows) => {
      await connected;
      if (rows.length === 0) return [];
      const columns = Object.keys(rows[0]!);
      const ids: number[] = [];
      // Thousands of rows a statement, as one JSON parameter: a few statements for 100,000 rows.
      for (let start = 0; start < rows.length; start += 5000) {
        const chunk = rows.slice(start, start + 5000).map((row) =>
          Object.fromEntries(Object.entries(row).map(([c, v]) => [c, INSTANTS.has(c) && typeof v === "number" ? new Date(v).toISOString() : v])),
        );
        const { rows: inserted } = await client.query(
          `INSERT INTO "${table}" (${quoted(columns)})
           SELECT ${quoted(columns)} FROM json_populate_recordset(NULL::"${table}", $1::json) WITH ORDINALITY ORDER BY ordinality
           RETURNING id`,
          [JSON.stringify(chunk)],
        );
        ids.push(...inserted.map((r: { id: number }) => r.id));
      }
      return ids;
    },
    close: async () => {
      await connected.catch(() => {});
      await client.end();
    },
  };
}

/** Opens the database of `databaseUrl` (`file:…` or `postgresql://…`). */
export function openRows(databaseUrl: string): DatabaseRows {
  return databaseUrl.startsWith("file:") ? sqliteRows(databaseUrl.slice("file:".length)) : postgresRows(databaseUrl);
}

/** Runs `work` on the database and closes it. */
export async function withRows<T>(databaseUrl: string, work: (db: DatabaseRows) => Promise<T>): Promise<T> {
  const db = openRows(databaseUrl);
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

/** How many tasks are in each status (a service may be running beside it). */
export function statusCounts(databaseUrl: string): Promise<Record<string, number>> {
  return withRows(databaseUrl, async (db) => {
    const rows = await db.all<{ status: string; n: number | string }>(`SELECT status, COUNT(*) AS n FROM "Task" GROUP BY status`);
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  });
}

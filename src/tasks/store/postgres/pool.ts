import pg from "pg";

/** Connections of one pg.Pool, and whether ending them is this user's job. */
export interface PoolUse {
  pool: pg.Pool;
  /** Ends the pool if it was opened for this user; leaves a shared one open for its owner. */
  release(): Promise<void>;
}

/**
 * A pool opened from a URL (owned: `release` ends it), or one the backend shares between the store, the
 * key store and the instance registry (so an instance holds one pool's connections, not one per part).
 */
export function usePool(source: string | pg.Pool, max: number): PoolUse {
  if (typeof source !== "string") return { pool: source, release: async () => {} };
  const pool = openPool(source, max);
  return { pool, release: () => pool.end() };
}

/** A pg.Pool of at most `max` connections to `databaseUrl`. */
export function openPool(databaseUrl: string, max: number, applicationName = "crawlq"): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, application_name: applicationName });
  // An idle connection that breaks (a server restart, pg_terminate_backend) is dropped by the pool; the
  // next query opens another and reports its own error. Without a listener the pool's event would crash
  // the process.
  pool.on("error", () => {});
  return pool;
}

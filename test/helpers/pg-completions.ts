import pg from "pg";
import type { CompletionReader } from "../../src/tasks/bus/postgres-bus.js";
import type { Task } from "../../src/tasks/task.js";
import type { TaskStatus } from "../../src/tasks/task-state.js";

/**
 * Committed completions made with plain SQL, for the PostgreSQL completion bus's tests: the bus must
 * see what the database's triggers announce, whoever wrote it. Also a reader of the same rows.
 */
export interface TaskSpec {
  id: number;
  submissionId?: number;
  ownerKeyId?: number | null;
}

type Row = Record<string, unknown>;

function toTask(row: Row): Task {
  return {
    id: row.id as number,
    submissionId: row.submissionId as number,
    ownerKeyId: row.ownerKeyId as number | null,
    url: row.url as string,
    host: row.host as string,
    status: row.status as TaskStatus,
    attempts: row.attempts as number,
    worker: row.worker as number | null,
    result: null,
    error: row.errorCode === null ? null : { code: row.errorCode as string, message: row.errorMessage as string },
    createdAt: row.createdAt as Date,
    startedAt: row.startedAt as Date | null,
    finishedAt: row.finishedAt as Date | null,
  };
}

/**
 * A pool for a test's own SQL. pool.end() resolves before its clients' sockets have closed, so dropping the
 * database right after can terminate them; the pool then emits 'error', which must not crash the run.
 */
export function testPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  pool.on("error", () => {});
  return pool;
}

/** Reads the Task table with SQL, as the bus's reader (every scope). */
export function sqlReader(db: pg.Pool): CompletionReader {
  return {
    findByIds: async (ids) => (await db.query(`SELECT * FROM "Task" WHERE id = ANY($1::int[])`, [ids])).rows.map(toTask),
    listFinishedSince: async (since, limit) =>
      (
        await db.query(
          `SELECT * FROM "Task" WHERE "finishedAt" >= $1 AND status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
            ORDER BY "finishedAt", id LIMIT $2`,
          [new Date(since), limit],
        )
      ).rows.map(toTask),
  };
}

/** Inserts PENDING tasks with the given ids (and their submissions); one statement. */
export async function insertTasks(db: pg.Pool | pg.PoolClient, specs: readonly TaskSpec[]): Promise<void> {
  const submissions = [...new Set(specs.map((s) => s.submissionId ?? 1))];
  await db.query(
    `INSERT INTO "Submission" (id, "perHostConcurrency") SELECT unnest($1::int[]), 4 ON CONFLICT (id) DO NOTHING`,
    [submissions],
  );
  await db.query(
    `INSERT INTO "Task" (id, "submissionId", "ownerKeyId", url, host)
     SELECT id, sub, owner, 'https://a.example/' || id, 'a.example'
       FROM unnest($1::int[], $2::int[], $3::int[]) AS t(id, sub, owner)`,
    [specs.map((s) => s.id), specs.map((s) => s.submissionId ?? 1), specs.map((s) => s.ownerKeyId ?? null)],
  );
}

let lastFinishedAt = 0;

/**
 * Ends the tasks in one UPDATE (one notification per 500 ids, ascending), with one finishedAt that is later
 * than any given before in this process, so (finishedAt, id) order is commit order for one writer.
 * Returns the rows written, as the lifecycle would publish them.
 */
export async function finishTasks(db: pg.Pool | pg.PoolClient, ids: readonly number[]): Promise<Task[]> {
  lastFinishedAt = Math.max(lastFinishedAt + 1, Date.now());
  const { rows } = await db.query(
    `UPDATE "Task" SET status = (ARRAY['SUCCEEDED', 'FAILED', 'CANCELLED'])[1 + id % 3], "finishedAt" = $2, attempts = 1
      WHERE id = ANY($1::int[]) AND status = 'PENDING' RETURNING *`,
    [ids, new Date(lastFinishedAt)],
  );
  return rows.map(toTask).sort((a, b) => a.id - b.id);
}

/** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK if it throws). */
export async function inTransaction<T>(db: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
}

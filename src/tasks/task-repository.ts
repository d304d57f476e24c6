import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import Database from "better-sqlite3";
import { PrismaClient } from "../generated/prisma/client.js";
import type { CrawlFailure } from "../crawler/types.js";
import type { PageResult, Task, SubmissionOptions } from "./task.js";
import { TRANSITIONS, type TaskStatus, type TransitionName } from "./task-state.js";

/** A task the dispatcher may start, with its submission's politeness settings. */
export interface RunnableTask {
  id: number;
  url: string;
  host: string;
  perHostConcurrency: number;
  hostDelayMs: number;
  respectRobots: boolean;
}

/** The end of one attempt, as the dispatcher reports it. */
export type AttemptOutcome =
  | { id: number; worker: number | null; kind: "succeeded"; page: PageResult }
  | { id: number; worker: number | null; kind: "failed"; error: Pick<CrawlFailure, "code" | "message"> }
  | { id: number; worker: number | null; kind: "retry"; error: Pick<CrawlFailure, "code" | "message">; runAt: number };

type TaskRow = {
  id: number;
  submissionId: number;
  url: string;
  host: string;
  status: string;
  attempts: number;
  maxRetries: number;
  worker: number | null;
  httpStatus: number | null;
  finalUrl: string | null;
  contentType: string | null;
  contentLength: number | null;
  title: string | null;
  linkCount: number | null;
  fetchMs: number | null;
  parseMs: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  // Epoch milliseconds from better-sqlite3; Dates from Prisma.
  createdAt: Date | number;
  startedAt: Date | number | null;
  finishedAt: Date | number | null;
};

// A transition's guard as SQL: the row must still be in one of the `from` states.
const from = (t: TransitionName) => `status IN (${TRANSITIONS[t].from.map((s) => `'${s}'`).join(",")})`;
const to = (t: TransitionName) => `'${TRANSITIONS[t].to}'`;

type Sqlite = Database.Database;
type CommitKind = "acknowledge" | "claim";
type Stmt = Database.Statement<unknown[], TaskRow>;

/**
 * The only code that touches the database. Every status write is one conditional statement built
 * from TRANSITIONS (`UPDATE ... WHERE id = ? AND status IN (<from>)`) and returns the row it changed,
 * so callers publish exactly what committed.
 *
 * Two connections to the one SQLite file, in the same thread:
 * - every write and every hot read goes through `#db`, a better-sqlite3 connection with statements
 *   prepared once. Prisma's raw queries cost ~0.1–0.3 ms of JS per call (argument mapping, a fresh
 *   `prepare`, row mapping, its query pipeline) and made the database the main thread's largest cost at
 *   1,000+ pages/s. Each write is one synchronous transaction (`db.transaction`), committed before the
 *   method returns, and nothing else can run in between, so no interleaving is possible.
 * - Prisma (the schema, the migrations, the generated client) serves the cold, read-only operator queries
 *   (`list`, `countByStatus`). WAL mode lets its reads run beside the other connection's writes; since
 *   Prisma never writes, the two connections never wait on each other's write lock.
 */
export class TaskRepository {
  readonly #prisma: PrismaClient;
  readonly #db: Sqlite;
  readonly #sql: ReturnType<typeof prepare>;
  // Built once: better-sqlite3's transaction() wrapper is costly to create per call.
  readonly #inTransaction: (fn: () => unknown) => unknown;
  readonly #synchronous: "FULL" | "NORMAL";
  #currentSync: "FULL" | "NORMAL";
  /** Statements issued per method (a few integer increments; read by the benchmark's debug hook). */
  readonly #counts: Record<string, number> = {};

  private constructor(prisma: PrismaClient, db: Sqlite, synchronous: "FULL" | "NORMAL") {
    this.#prisma = prisma;
    this.#db = db;
    this.#sql = prepare(db);
    this.#inTransaction = db.transaction((fn: () => unknown) => fn());
    this.#synchronous = synchronous;
    this.#currentSync = synchronous;
  }

  static async open(databaseUrl: string, synchronous: "FULL" | "NORMAL"): Promise<TaskRepository> {
    const adapter = new PrismaBetterSQLite3({ url: databaseUrl }, { timestampFormat: "unixepoch-ms" });
    const prisma = new PrismaClient({ adapter });
    // WAL lets readers run beside the single writer; see README for what synchronous=NORMAL trades.
    // journal_mode is stored in the file, so it holds for both connections.
    await prisma.$queryRawUnsafe("PRAGMA journal_mode = WAL");
    await prisma.$queryRawUnsafe("PRAGMA busy_timeout = 5000");
    // The same file the adapter opens (it strips "file:" the same way).
    const db = new Database(databaseUrl.replace(/^file:/, ""));
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma("busy_timeout = 5000");
    return new TaskRepository(prisma, db, synchronous);
  }

  async close(): Promise<void> {
    this.#db.close();
    await this.#prisma.$disconnect();
  }

  /** How many statements each method has issued so far (and `findByIdsRows`: ids asked of findByIds). */
  counts(): Record<string, number> {
    return { ...this.#counts };
  }

  #count(name: string, by = 1): void {
    this.#counts[name] = (this.#counts[name] ?? 0) + by;
  }

  /** Writes the submission and all its tasks in one transaction; returns them in input order. */
  async createSubmission(
    entries: ReadonlyArray<{ url: string; host: string }>,
    options: SubmissionOptions,
  ): Promise<{ id: number; tasks: Task[] }> {
    this.#count("createSubmission");
    const now = Date.now();
    const { insertSubmission, insertTask } = this.#sql;
    return this.#transaction("acknowledge", () => {
      const submissionId = Number(
        insertSubmission.run(now, options.perHostConcurrency, options.hostDelayMs, options.respectRobots ? 1 : 0)
          .lastInsertRowid,
      );
      const createdAt = new Date(now);
      const tasks = entries.map((e): Task => ({
        id: Number(insertTask.run(submissionId, e.url, e.host, options.maxRetries, now, now).lastInsertRowid),
        submissionId,
        url: e.url,
        host: e.host,
        status: "PENDING",
        attempts: 0,
        maxRetries: options.maxRetries,
        worker: null,
        result: null,
        error: null,
        createdAt,
        startedAt: null,
        finishedAt: null,
      }));
      return { id: submissionId, tasks };
    });
  }

  async findByIds(ids: readonly number[]): Promise<Task[]> {
    if (ids.length === 0) return [];
    this.#count("findByIds");
    this.#count("findByIdsRows", ids.length);
    return this.#sql.findByIds.all(JSON.stringify(ids)).map(toTask);
  }

  async findBySubmission(submissionId: number): Promise<Task[] | null> {
    this.#count("findBySubmission");
    if (this.#sql.submissionExists.get(submissionId) === undefined) return null;
    return this.#sql.findBySubmission.all(submissionId).map(toTask);
  }

  /** Keyset pagination in id (submission) order. */
  async list(filter: { status?: TaskStatus; first: number; afterId?: number }): Promise<Task[]> {
    this.#count("list");
    const rows = await this.#prisma.task.findMany({
      where: { status: filter.status, id: filter.afterId === undefined ? undefined : { gt: filter.afterId } },
      orderBy: { id: "asc" },
      take: filter.first,
    });
    return rows.map(toTask);
  }

  async countByStatus(): Promise<Record<TaskStatus, number>> {
    this.#count("countByStatus");
    const groups = await this.#prisma.task.groupBy({ by: ["status"], _count: { _all: true } });
    const counts: Record<TaskStatus, number> = { PENDING: 0, RUNNING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 };
    for (const g of groups) counts[g.status as TaskStatus] = g._count._all;
    return counts;
  }

  /**
   * Oldest runnable PENDING tasks (runAt reached), skipping hosts the dispatcher cannot use now.
   * A read only: `start` claims them.
   */
  async findRunnable(limit: number, skipHosts: readonly string[], now: number): Promise<RunnableTask[]> {
    this.#count("findRunnable");
    const rows = (
      skipHosts.length === 0
        ? this.#sql.findRunnableAnyHost.all(now, limit)
        : this.#sql.findRunnable.all(now, JSON.stringify(skipHosts), limit)
    ) as unknown as Array<
      Omit<RunnableTask, "respectRobots"> & { respectRobots: number }
    >;
    return rows.map((r) => ({ ...r, respectRobots: Boolean(r.respectRobots) }));
  }

  /** Earliest runAt among PENDING tasks not yet runnable (retry backoff), or null. */
  async nextRunAt(now: number): Promise<number | null> {
    this.#count("nextRunAt");
    const row = this.#sql.nextRunAt.get(now) as unknown as { next: number | null } | undefined;
    return row?.next ?? null;
  }

  /** PENDING → RUNNING for the given ids; returns the tasks actually claimed. */
  async start(ids: readonly number[], now: number): Promise<Task[]> {
    if (ids.length === 0) return [];
    this.#count("start");
    const { start } = this.#sql;
    return this.#changed("claim", ids, (id) => start.get(now, id));
  }

  /**
   * Records the ends of many attempts in one transaction (succeed, fail or retry, each conditional
   * on the task still RUNNING). Returns the rows written, in the order given (the order the attempts ended).
   */
  async finishAttempts(outcomes: readonly AttemptOutcome[], now: number): Promise<Task[]> {
    this.#count("finishAttempts");
    const { succeed, fail, retry } = this.#sql;
    return this.#changed("acknowledge", outcomes, (o) => {
      switch (o.kind) {
        case "succeeded": {
          const p = o.page;
          return succeed.get(now, o.worker, p.httpStatus, p.finalUrl, p.contentType, p.contentLength, p.title, p.linkCount, p.fetchMs, p.parseMs, o.id);
        }
        case "failed":
          return fail.get(now, o.worker, o.error.code, o.error.message, o.id);
        case "retry":
          return retry.get(o.worker, o.error.code, o.error.message, o.runAt, o.id);
      }
    });
  }

  /** PENDING → FAILED without an attempt (robots.txt disallows the URL). */
  async reject(ids: readonly number[], error: Pick<CrawlFailure, "code" | "message">, now: number): Promise<Task[]> {
    if (ids.length === 0) return [];
    this.#count("reject");
    const { reject } = this.#sql;
    return this.#changed("acknowledge", ids, (id) => reject.get(now, error.code, error.message, id));
  }

  /** PENDING → CANCELLED; null when the task was not PENDING (it is then returned as it stands by the caller). */
  async cancel(id: number, now: number): Promise<Task | null> {
    this.#count("cancel");
    const row = this.#transaction("acknowledge", () => this.#sql.cancel.get(now, id));
    return row ? toTask(row) : null;
  }

  /** RUNNING → PENDING: for the given ids (shutdown), or for all (start-up after a crash). */
  async requeue(ids?: readonly number[]): Promise<number> {
    if (ids && ids.length === 0) return 0;
    this.#count("requeue");
    const { requeue, requeueAll } = this.#sql;
    return this.#transaction("claim", () =>
      ids ? ids.reduce((n, id) => n + requeue.run(id).changes, 0) : requeueAll.run().changes,
    );
  }

  /** Runs one conditional write per item in a single transaction; returns the rows that changed. */
  #changed<T>(kind: CommitKind, items: readonly T[], write: (item: T) => TaskRow | undefined): Task[] {
    return this.#transaction(kind, () => {
      const rows: TaskRow[] = [];
      for (const item of items) {
        const row = write(item);
        if (row) rows.push(row);
      }
      return rows;
    }).map(toTask);
  }

  /**
   * One synchronous transaction. An "acknowledge" commit (a submission, a terminal state, a retry) is
   * synced as CRAWLQ_SQLITE_SYNCHRONOUS says (FULL: fsync before returning). A "claim" commit
   * (PENDING → RUNNING, RUNNING → PENDING) is never fsynced on its own (synchronous=NORMAL): losing it to a
   * power cut leaves the task PENDING or RUNNING, and both run again at the next start, as after any crash.
   * SQLite's WAL is sequential, so the next synced commit makes every earlier one durable too.
   */
  #transaction<T>(kind: CommitKind, fn: () => T): T {
    const level = kind === "claim" ? "NORMAL" : this.#synchronous;
    if (level !== this.#currentSync) {
      this.#sql.synchronous[level].run();
      this.#currentSync = level;
    }
    return this.#inTransaction(fn) as T;
  }
}

/** Every statement the hot paths use, prepared once per connection. */
function prepare(db: Sqlite) {
  const task = (sql: string) => db.prepare<unknown[], TaskRow>(sql) as Stmt;
  return {
    synchronous: { FULL: db.prepare("PRAGMA synchronous = FULL"), NORMAL: db.prepare("PRAGMA synchronous = NORMAL") },
    insertSubmission: db.prepare(
      `INSERT INTO Submission (createdAt, perHostConcurrency, hostDelayMs, respectRobots) VALUES (?, ?, ?, ?)`,
    ),
    insertTask: db.prepare(
      `INSERT INTO Task (submissionId, url, host, status, attempts, maxRetries, runAt, createdAt)
       VALUES (?, ?, ?, 'PENDING', 0, ?, ?, ?)`,
    ),
    findByIds: task(`SELECT * FROM Task WHERE id IN (SELECT value FROM json_each(?))`),
    submissionExists: db.prepare(`SELECT id FROM Submission WHERE id = ?`),
    findBySubmission: task(`SELECT * FROM Task WHERE submissionId = ? ORDER BY id`),
    // INDEXED BY: walk PENDING rows in id order and stop at the limit. Left to itself the planner picks the
    // (status, runAt) index for "runAt <= ?" and then sorts every PENDING row, which costs milliseconds
    // per call once the backlog holds tens of thousands of tasks.
    findRunnable: task(
      `SELECT t.id, t.url, t.host, s.perHostConcurrency, s.hostDelayMs, s.respectRobots
         FROM Task t INDEXED BY Task_status_id_idx JOIN Submission s ON s.id = t.submissionId
        WHERE t.status = 'PENDING' AND t.runAt <= ?
          AND t.host NOT IN (SELECT value FROM json_each(?))
        ORDER BY t.id LIMIT ?`,
    ),
    // The common case (no host to skip) without the json_each subquery.
    findRunnableAnyHost: task(
      `SELECT t.id, t.url, t.host, s.perHostConcurrency, s.hostDelayMs, s.respectRobots
         FROM Task t INDEXED BY Task_status_id_idx JOIN Submission s ON s.id = t.submissionId
        WHERE t.status = 'PENDING' AND t.runAt <= ?
        ORDER BY t.id LIMIT ?`,
    ),
    nextRunAt: task(`SELECT MIN(runAt) AS next FROM Task WHERE status = 'PENDING' AND runAt > ?`),
    start: task(
      `UPDATE Task SET status = ${to("start")}, attempts = attempts + 1, startedAt = ?
        WHERE id = ? AND ${from("start")} RETURNING *`,
    ),
    succeed: task(
      `UPDATE Task SET status = ${to("succeed")}, finishedAt = ?, errorCode = NULL, errorMessage = NULL,
              worker = ?, httpStatus = ?, finalUrl = ?, contentType = ?, contentLength = ?, title = ?,
              linkCount = ?, fetchMs = ?, parseMs = ?
        WHERE id = ? AND ${from("succeed")} RETURNING *`,
    ),
    fail: task(
      `UPDATE Task SET status = ${to("fail")}, finishedAt = ?, worker = ?, errorCode = ?, errorMessage = ?
        WHERE id = ? AND ${from("fail")} RETURNING *`,
    ),
    retry: task(
      `UPDATE Task SET status = ${to("retry")}, worker = ?, errorCode = ?, errorMessage = ?, runAt = ?
        WHERE id = ? AND ${from("retry")} RETURNING *`,
    ),
    reject: task(
      `UPDATE Task SET status = ${to("reject")}, finishedAt = ?, errorCode = ?, errorMessage = ?
        WHERE id = ? AND ${from("reject")} RETURNING *`,
    ),
    cancel: task(
      `UPDATE Task SET status = ${to("cancel")}, finishedAt = ? WHERE id = ? AND ${from("cancel")} RETURNING *`,
    ),
    requeue: db.prepare(`UPDATE Task SET status = ${to("requeue")}, startedAt = NULL WHERE id = ? AND ${from("requeue")}`),
    requeueAll: db.prepare(`UPDATE Task SET status = ${to("requeue")}, startedAt = NULL WHERE ${from("requeue")}`),
  };
}

function toTask(r: TaskRow): Task {
  const status = r.status as TaskStatus;
  return {
    id: r.id,
    submissionId: r.submissionId,
    url: r.url,
    host: r.host,
    status,
    attempts: r.attempts,
    maxRetries: r.maxRetries,
    worker: r.worker,
    result:
      status === "SUCCEEDED"
        ? {
            httpStatus: r.httpStatus ?? 0,
            finalUrl: r.finalUrl ?? r.url,
            contentType: r.contentType,
            contentLength: r.contentLength ?? 0,
            title: r.title,
            linkCount: r.linkCount ?? 0,
            fetchMs: r.fetchMs ?? 0,
            parseMs: r.parseMs ?? 0,
          }
        : null,
    error: r.errorCode ? { code: r.errorCode, message: r.errorMessage ?? "" } : null,
    createdAt: asDate(r.createdAt),
    startedAt: r.startedAt == null ? null : asDate(r.startedAt),
    finishedAt: r.finishedAt == null ? null : asDate(r.finishedAt),
  };
}

// better-sqlite3 rows carry epoch milliseconds for DATETIME columns; Prisma's carry Dates.
function asDate(v: Date | number | string): Date {
  return v instanceof Date ? v : new Date(typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v);
}

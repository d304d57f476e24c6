import { mkdirSync } from "node:fs";
import path from "node:path";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import Database from "better-sqlite3";
import { PrismaClient } from "../../../generated/prisma/client.js";
import type { Submission, SubmissionOptions, Task, TaskError } from "../../task.js";
import type { TaskStatus } from "../../task-state.js";
import type { AttemptOutcome, ClaimedTask, ClaimRequest, TaskPage, TaskScope, TaskStore } from "../../task-store.js";
import type { CheckedUrl } from "../../validate-urls.js";
import { FairClaim, type HostVisit, type SubmissionLoad } from "../claim-politeness.js";
import { countsOf, listTasksQuery, newTask, optionsOf, toTask } from "../task-row.js";
import { prepareStatements, type Statements, type TaskRow } from "./statements.js";

export type SqliteSynchronous = "FULL" | "NORMAL";

/** Held while this process owns the database file; see {@link lockDatabaseFile}. */
export interface DatabaseLock {
  /** Lets another process take the file (the OS also does when this process ends, however it ends). */
  release(): void;
}

/** Another live process holds the database file's lock. */
export class DatabaseInUseError extends Error {
  readonly code = "DATABASE_IN_USE";
}

/**
 * Takes the one-process-per-file lock before anything touches the database (migrations included): an
 * exclusive SQLite lock on `<file>.lock`, a file of its own so the store's two connections to the database
 * are not affected. The OS drops the lock with the process, so a crashed owner leaves nothing stale.
 * Throws DatabaseInUseError at once if another process holds it.
 */
export function lockDatabaseFile(databaseUrl: string): DatabaseLock {
  const file = databaseUrl.replace(/^file:/, "");
  if (file === ":memory:") return { release: () => {} };
  mkdirSync(path.dirname(file), { recursive: true });
  const lockFile = `${file}.lock`;
  const db = new Database(lockFile, { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    // Never committed: the transaction holds the exclusive lock until the connection closes.
    db.exec("BEGIN EXCLUSIVE");
  } catch (error) {
    db.close();
    if ((error as { code?: unknown }).code === "SQLITE_BUSY") {
      throw new DatabaseInUseError(`database ${file} is in use by another crawlq process (lock file ${lockFile})`);
    }
    throw error;
  }
  return { release: () => db.close() };
}

/**
 * How durable a commit must be. An "acknowledgement" (a submission, a terminal state, a retry) is synced as
 * CRAWLQ_SQLITE_SYNCHRONOUS says (FULL: fsync before returning). A "claim" (PENDING → RUNNING, and the
 * requeues) is never fsynced on its own (synchronous=NORMAL): losing it to a power cut leaves the task
 * PENDING or RUNNING, and both run again at the next start, as after any crash. SQLite's WAL is
 * sequential, so the next synced commit makes every earlier one durable too.
 */
type Durability = "acknowledgement" | "claim";

/**
 * The TaskStore on one SQLite file (the embedded default). Every status write is one conditional statement
 * built from TRANSITIONS (see statements.ts).
 *
 * Two connections to the file, in the same thread:
 * - every write and every hot read goes through `#db`, a better-sqlite3 connection with statements
 *   prepared once. Prisma's raw queries cost ~0.1–0.3 ms of JS per call (argument mapping, a fresh
 *   `prepare`, row mapping, its query pipeline) and made the database the main thread's largest cost at
 *   1,000+ pages/s. Each write is one synchronous transaction (`db.transaction`), committed before the
 *   method returns, and nothing else can run in between, so no interleaving is possible: a claim's
 *   find, admit and update are one step.
 * - Prisma (the schema, the migrations, the generated client) serves the cold, read-only operator queries
 *   (`listTasks`; a submission's pages, which an export reads by the thousand, go through
 *   `#db`). WAL mode lets its reads run beside the other connection's writes; since
 *   Prisma never writes, the two connections never wait on each other's write lock.
 *
 * One process per file: a claim's owner is this process, so at start every RUNNING row of another owner
 * is an orphan.
 */
export class SqliteTaskStore implements TaskStore {
  readonly #prisma: PrismaClient;
  readonly #db: Database.Database;
  readonly #sql: Statements;
  // Built once: better-sqlite3's transaction() wrapper is costly to create per call.
  readonly #inTransaction: (fn: () => unknown) => unknown;
  readonly #synchronous: SqliteSynchronous;
  #currentSync: SqliteSynchronous;
  /**
   * Statements issued per operation (a few integer increments; read by the benchmark's debug hook), and
   * for the claim the hosts it visited (`claimHosts`) and the candidate rows it read (`claimRows`).
   */
  readonly #counts: Record<string, number> = {};
  /**
   * Per submission with PENDING tasks, where the last claim's walk over its hosts stopped: the next one
   * starts after it (round-robin). Rebuilt by every claim, so it holds only submissions with work.
   */
  #claimCursors: ReadonlyMap<number, string> = new Map();

  private constructor(prisma: PrismaClient, db: Database.Database, synchronous: SqliteSynchronous) {
    this.#prisma = prisma;
    this.#db = db;
    this.#sql = prepareStatements(db);
    this.#inTransaction = db.transaction((fn: () => unknown) => fn());
    this.#synchronous = synchronous;
    this.#currentSync = synchronous;
  }

  /** Opens the (migrated) database at `databaseUrl` (`file:/abs/path.db`). */
  static async open(databaseUrl: string, synchronous: SqliteSynchronous): Promise<SqliteTaskStore> {
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
    return new SqliteTaskStore(prisma, db, synchronous);
  }

  async close(): Promise<void> {
    this.#db.close();
    await this.#prisma.$disconnect();
  }

  async ping(): Promise<void> {
    this.#sql.ping.get();
  }

  statementCounts(): Record<string, number> {
    return { ...this.#counts };
  }

  async createSubmission(
    urls: readonly CheckedUrl[],
    options: SubmissionOptions,
    now: number,
    ownerKeyId: number | null,
  ): Promise<Submission> {
    this.#count("createSubmission");
    const { insertSubmission, insertTask, countInserted } = this.#sql;
    return this.#transaction("acknowledgement", () => {
      const { maxRetries, perHostConcurrency, hostDelayMs, respectRobots } = options;
      const submissionId = Number(
        insertSubmission.run(now, maxRetries, perHostConcurrency, hostDelayMs, respectRobots ? 1 : 0, ownerKeyId).lastInsertRowid,
      );
      const createdAt = new Date(now);
      const tasks = urls.map((u) =>
        newTask(Number(insertTask.run(submissionId, u.url, u.host, now, now, ownerKeyId).lastInsertRowid), submissionId, ownerKeyId, u, createdAt),
      );
      // One count for the whole submission: a row trigger on INSERT would double a submission's cost.
      if (urls.length > 0) countInserted.run(ownerKeyId ?? 0, urls.length);
      return { id: submissionId, tasks };
    });
  }

  async findByIds(ids: readonly number[], scope: TaskScope): Promise<Task[]> {
    if (ids.length === 0) return [];
    this.#count("findByIds");
    this.#count("findByIdsRows", ids.length);
    const rows =
      scope.kind === "all"
        ? this.#sql.findByIds.all(JSON.stringify(ids))
        : this.#sql.findByIdsOwned.all(JSON.stringify(ids), scope.keyId);
    return rows.map(toTask);
  }

  async findBySubmission(submissionId: number, scope: TaskScope): Promise<Task[] | null> {
    this.#count("findBySubmission");
    const exists =
      scope.kind === "all"
        ? this.#sql.submissionExists.get(submissionId)
        : this.#sql.submissionExistsOwned.get(submissionId, scope.keyId);
    if (exists === undefined) return null;
    return this.#sql.findBySubmission.all(submissionId).map(toTask);
  }

  async listTasks(page: TaskPage): Promise<Task[]> {
    this.#count("listTasks");
    if (page.submissionId !== undefined) {
      // A whole submission is read this way (an export: up to every row of it, a page at a time), so on the
      // prepared-statement connection: about 7 µs a row, where Prisma's row mapping takes about 40.
      return this.#sql.listSubmissionPage
        .all({
          submissionId: page.submissionId,
          afterId: page.afterId ?? 0,
          ownerKeyId: page.scope.kind === "owner" ? page.scope.keyId : null,
          status: page.status ?? null,
          first: page.first,
        })
        .map(toTask);
    }
    return (await this.#prisma.task.findMany(listTasksQuery(page))).map(toTask);
  }

  async countByStatus(scope: TaskScope): Promise<Record<TaskStatus, number>> {
    this.#count("countByStatus");
    // The TaskCount rows the triggers keep: a few rows, not a GROUP BY over the backlog (which, on this
    // connection, would block the event loop for as long as it runs).
    return countsOf(scope.kind === "all" ? this.#sql.countAll.all() : this.#sql.countOwned.all(scope.keyId));
  }

  async listFinishedSince(since: number, limit: number): Promise<Task[]> {
    this.#count("listFinishedSince");
    return this.#sql.listFinishedSince.all(since, limit).map(toTask);
  }

  async nextRunAt(now: number): Promise<number | null> {
    this.#count("nextRunAt");
    return this.#sql.nextRunAt.get(now)?.next ?? null;
  }

  async claim(request: ClaimRequest): Promise<ClaimedTask[]> {
    if (request.limit <= 0) return [];
    this.#count("claim");
    const { nextPendingSubmission, runningBySubmission, nextSubmissionHost, hostLoad, hostCandidates, claim } = this.#sql;
    const { now, owner } = request;
    return this.#transaction("claim", () => {
      // The fair share and the walks over hosts (claim-politeness.ts): index seeks, synchronous, in one transaction.
      const running = new Map(runningBySubmission.all().map((r) => [r.submissionId, r.running]));
      const submissions: SubmissionLoad[] = [];
      for (let id = nextPendingSubmission.get(0); id !== undefined; id = nextPendingSubmission.get(id)) {
        submissions.push({ submissionId: id, running: running.get(id) ?? 0 });
      }
      const fair = new FairClaim(request, submissions, this.#claimCursors);
      let hostsVisited = 0;
      let rowsRead = 0;
      for (let reads = fair.reads(); reads.length > 0; reads = fair.reads()) {
        for (const { submissionId, after, through, wrapThrough, hosts, rows } of reads) {
          const visits: HostVisit[] = [];
          let lap: 0 | 1 = 0;
          let host: string | undefined = after;
          while (visits.length < hosts) {
            host = nextSubmissionHost.get({ submissionId, after: host, through: lap === 0 ? through : wrapThrough });
            if (host === undefined && lap === 0 && wrapThrough !== null) {
              lap = 1;
              host = nextSubmissionHost.get({ submissionId, after: "", through: wrapThrough });
            }
            if (host === undefined) break;
            if (fair.skips(host)) continue;
            const load = hostLoad.get({ host })!;
            const limit = fair.rowsFor(load, rows);
            const candidates = limit === 0 ? [] : hostCandidates.all({ submissionId, host, now, limit });
            rowsRead += candidates.length;
            const offered = candidates.map((row) => ({ id: row.id, url: row.url, host: row.host, options: optionsOf(row) }));
            visits.push({ host, load, candidates: offered, lap });
          }
          hostsVisited += visits.length;
          fair.read(submissionId, visits);
        }
      }
      this.#claimCursors = fair.cursors();
      this.#count("claimSubmissions", submissions.length);
      this.#count("claimHosts", hostsVisited);
      this.#count("claimRows", rowsRead);
      const claimed: ClaimedTask[] = [];
      for (const candidate of fair.admitted) {
        const task = claim.get(now, owner, candidate.id);
        if (task) claimed.push({ task: toTask(task), options: candidate.options });
      }
      return claimed;
    });
  }

  async finishAttempts(owner: string, outcomes: readonly AttemptOutcome[], now: number): Promise<Task[]> {
    if (outcomes.length === 0) return [];
    this.#count("finishAttempts");
    const { succeed, fail, retryLater } = this.#sql;
    return this.#changed("acknowledgement", outcomes, (o) => {
      switch (o.kind) {
        case "succeed": {
          const p = o.page;
          return succeed.get(now, o.worker, p.httpStatus, p.finalUrl, p.contentType, p.contentLength, p.title,
            p.linkCount, p.fetchMs, p.parseMs, o.id, owner, o.attempt);
        }
        case "fail":
          return fail.get(now, o.worker, o.error.code, o.error.message, o.attemptMade ? 0 : 1, o.id, owner, o.attempt);
        case "retryLater":
          return retryLater.get(o.worker, o.error.code, o.error.message, o.runAt, o.id, owner, o.attempt);
      }
    });
  }

  async reject(ids: readonly number[], error: TaskError, now: number): Promise<Task[]> {
    if (ids.length === 0) return [];
    this.#count("reject");
    const { reject } = this.#sql;
    return this.#changed("acknowledgement", ids, (id) => reject.get(now, error.code, error.message, id));
  }

  async cancel(id: number, now: number): Promise<Task | null> {
    this.#count("cancel");
    const row = this.#transaction("acknowledgement", () => this.#sql.cancel.get(now, id));
    return row ? toTask(row) : null;
  }

  async requeue(owner: string, ids?: readonly number[]): Promise<number> {
    if (ids && ids.length === 0) return 0;
    this.#count("requeue");
    const { requeue, requeueOwner } = this.#sql;
    return this.#transaction("claim", () =>
      ids ? ids.reduce((n, id) => n + requeue.run(id, owner).changes, 0) : requeueOwner.run(owner).changes,
    );
  }

  async requeueOrphans(liveOwner: string): Promise<number> {
    this.#count("requeueOrphans");
    return this.#transaction("claim", () => this.#sql.requeueOrphans.run(liveOwner).changes);
  }

  #count(name: string, by = 1): void {
    this.#counts[name] = (this.#counts[name] ?? 0) + by;
  }

  /** Runs one conditional write per item in a single transaction; returns the rows that changed. */
  #changed<T>(durability: Durability, items: readonly T[], write: (item: T) => TaskRow | undefined): Task[] {
    return this.#transaction(durability, () => {
      const rows: TaskRow[] = [];
      for (const item of items) {
        const row = write(item);
        if (row) rows.push(row);
      }
      return rows;
    }).map(toTask);
  }

  /** One synchronous transaction, synced as `durability` asks. */
  #transaction<T>(durability: Durability, fn: () => T): T {
    const level = durability === "claim" ? "NORMAL" : this.#synchronous;
    if (level !== this.#currentSync) {
      this.#sql.synchronous[level].run();
      this.#currentSync = level;
    }
    return this.#inTransaction(fn) as T;
  }
}

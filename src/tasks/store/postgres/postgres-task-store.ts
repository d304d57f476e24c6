import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "../../../generated/prisma-postgres/client.js";
import type { Submission, SubmissionOptions, Task, TaskError } from "../../task.js";
import type { TaskStatus } from "../../task-state.js";
import type { AttemptOutcome, ClaimCandidate, ClaimedTask, ClaimRequest, TaskPage, TaskScope, TaskStore } from "../../task-store.js";
import type { CheckedUrl } from "../../validate-urls.js";
import { FairClaim, type HostVisit, type SubmissionLoad } from "../claim-politeness.js";
import { countsOf, listTasksQuery, newTask, optionsOf, toTask } from "../task-row.js";
import { openPool } from "./pool.js";
import { CLAIM_LOCK, SQL, type HostCandidateRow, type Statement, type TaskRow } from "./statements.js";

export interface PostgresTaskStoreOptions {
  /** Connections in the store's pool (the hot paths and Prisma's operator reads share it); default 8. */
  maxConnections?: number;
}

/**
 * Opens a claim or a requeue: committed without waiting for the WAL flush, as SQLite's claims are not
 * synced on their own. Losing one to a server crash leaves the task PENDING or RUNNING under a claim
 * that no longer matters (it is fenced, and requeued as an orphan); the next synchronous commit (any
 * acknowledgement: a submission, a result) flushes every earlier one, the WAL being sequential.
 */
const BEGIN_CLAIM = "BEGIN; SET LOCAL synchronous_commit = off";

/** How often a store folds the task counts of closed connections (see #foldCountsNowAndThen). */
const FOLD_EVERY_MS = 60_000;

/** Tasks inserted per statement: arrays of a few thousand keep each message small and the plan cheap. */
const INSERT_CHUNK = 5_000;

/** PostgreSQL's int: the claim's hostCap when none is given. */
const MAX_INT = 2_147_483_647;

/**
 * The TaskStore on PostgreSQL, shared by every instance of the service. Every status write is one
 * conditional statement built from TRANSITIONS (statements.ts); terminal writes are fenced by the claim.
 *
 * - The hot paths (submit, claim, finishAttempts, the reads by id) go through one pg.Pool with named
 *   statements (prepared once per connection), each batch as one statement over arrays (`unnest`,
 *   `= ANY`), so a batch costs a round trip, not a round trip per task.
 * - Prisma (the schema, the generated client, @prisma/adapter-pg on the same pool) serves the cold
 *   operator reads (`listTasks` across submissions), as on SQLite. `countByStatus` reads the TaskCount rows
 *   that statement-level triggers keep (see the migration 20261126191000_task_counts).
 *
 * A claim is one transaction that takes a cluster-wide advisory lock, reads the submissions with PENDING
 * tasks and their RUNNING counts, then the hosts of the submissions in line (a statement per batch, each
 * host with its load and the submission's first runnable tasks there `FOR UPDATE SKIP LOCKED`), applies
 * the fair share and the politeness rule and writes the claims: no attempt is handed out twice and per-host
 * limits hold across instances (see TaskStore.claim).
 */
export class PostgresTaskStore implements TaskStore {
  readonly #pool: pg.Pool;
  readonly #prisma: PrismaClient;
  /**
   * Statements per operation; for the claim also its walk's statements (`claimReads`), the hosts they
   * read (`claimHosts`) and the candidate rows (`claimRows`).
   */
  readonly #counts: Record<string, number> = {};
  /**
   * Per submission with PENDING tasks, where this store's last claim's walk over its hosts stopped: the
   * next one starts after it (round-robin). Rebuilt by every claim, so it holds only submissions with work.
   */
  #claimCursors: ReadonlyMap<number, string> = new Map();
  #lastFold = -Infinity;

  private constructor(pool: pg.Pool, prisma: PrismaClient) {
    this.#pool = pool;
    this.#prisma = prisma;
  }

  /**
   * Opens the (migrated) database at `databaseUrl` (`postgresql://…`), or uses `pool`: either way the store
   * owns its pool and ends it at close (the composition root closes the store last). Connects lazily.
   */
  static async open(source: string | pg.Pool, options: PostgresTaskStoreOptions = {}): Promise<PostgresTaskStore> {
    const pool = typeof source === "string" ? openPool(source, options.maxConnections ?? 8) : source;
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    return new PostgresTaskStore(pool, prisma);
  }

  async close(): Promise<void> {
    await this.#prisma.$disconnect();
    await this.#pool.end();
  }

  async ping(): Promise<void> {
    await this.#pool.query("SELECT 1");
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
    const { maxRetries, perHostConcurrency, hostDelayMs, respectRobots } = options;
    const { submissionId, ids } = await this.#transaction("BEGIN", async (client) => {
      const [submission] = await rowsOf<{ id: number }>(client, SQL.insertSubmission, [
        now, maxRetries, perHostConcurrency, hostDelayMs, respectRobots, ownerKeyId,
      ]);
      const ids: number[] = [];
      for (let start = 0; start < urls.length; start += INSERT_CHUNK) {
        const chunk = urls.slice(start, start + INSERT_CHUNK);
        const inserted = await rowsOf<{ id: number }>(client, SQL.insertTasks, [
          submission!.id, chunk.map((u) => u.url), chunk.map((u) => u.host), now, ownerKeyId,
        ]);
        for (const id of inserted.map((r) => r.id).sort((a, b) => a - b)) ids.push(id);
      }
      return { submissionId: submission!.id, ids };
    });
    const createdAt = new Date(now);
    const tasks = urls.map((u, i) => newTask(ids[i]!, submissionId, ownerKeyId, u, createdAt));
    return { id: submissionId, tasks };
  }

  async findByIds(ids: readonly number[], scope: TaskScope): Promise<Task[]> {
    if (ids.length === 0) return [];
    this.#count("findByIds");
    this.#count("findByIdsRows", ids.length);
    return (await this.#rows(SQL.findByIds, [ids, ownerOf(scope)])).map(toTask);
  }

  async findBySubmission(submissionId: number, scope: TaskScope): Promise<Task[] | null> {
    this.#count("findBySubmission");
    const rows = await this.#rows(SQL.findBySubmission, [submissionId, ownerOf(scope)]);
    if (rows.length === 0) return null;
    return rows.filter((r) => r.id !== null).map(toTask);
  }

  async listTasks(page: TaskPage): Promise<Task[]> {
    this.#count("listTasks");
    if (page.submissionId !== undefined) {
      // A whole submission is read this way (an export, a page at a time): the hot path.
      const rows = await this.#rows(SQL.listSubmissionPage, [
        page.submissionId, page.afterId ?? 0, ownerOf(page.scope), page.status ?? null, page.first,
      ]);
      return rows.map(toTask);
    }
    return (await this.#prisma.task.findMany(listTasksQuery(page))).map(toTask);
  }

  async countByStatus(scope: TaskScope): Promise<Record<TaskStatus, number>> {
    this.#count("countByStatus");
    await this.#foldCountsNowAndThen();
    const rows =
      scope.kind === "all"
        ? await rowsOf<{ status: string; n: string }>(this.#pool, SQL.countAll, [])
        : await rowsOf<{ status: string; n: string }>(this.#pool, SQL.countOwned, [scope.keyId]);
    return countsOf(rows);
  }

  async listFinishedSince(since: number, limit: number): Promise<Task[]> {
    this.#count("listFinishedSince");
    return (await this.#rows(SQL.listFinishedSince, [since, limit])).map(toTask);
  }

  async nextRunAt(now: number): Promise<number | null> {
    this.#count("nextRunAt");
    const [row] = await rowsOf<{ next: Date | null }>(this.#pool, SQL.nextRunAt, [now]);
    return row?.next ? row.next.getTime() : null;
  }

  async claim(request: ClaimRequest): Promise<ClaimedTask[]> {
    if (request.limit <= 0) return [];
    this.#count("claim");
    const { now, owner } = request;
    const skipHosts = [...request.skipHosts];
    const hostCap = Math.min(request.hostCap ?? MAX_INT, MAX_INT);
    // BEGIN and the lock in one round trip: claims of every instance run one at a time from here to COMMIT.
    return this.#transaction(`${BEGIN_CLAIM}; SELECT pg_advisory_xact_lock(${CLAIM_LOCK})`, async (client) => {
      // The fair share and the walks over hosts (claim-politeness.ts): the submissions with work in one
      // statement, then each time the claim needs hosts read, one statement for every submission it asks for.
      const submissions = await rowsOf<SubmissionLoad>(client, SQL.claimSubmissions, []);
      this.#count("claimReads");
      this.#count("claimSubmissions", submissions.length);
      const fair = new FairClaim(request, submissions, this.#claimCursors);
      for (let reads = fair.reads(); reads.length > 0; reads = fair.reads()) {
        const rows = await rowsOf<HostCandidateRow>(client, SQL.claimHosts, [
          reads.map((r) => r.submissionId), reads.map((r) => r.after), reads.map((r) => r.through),
          reads.map((r) => r.wrapThrough), reads.map((r) => r.hosts), skipHosts, hostCap, now, reads.map((r) => r.rows),
        ]);
        this.#count("claimReads");
        const visits = groupByHost(rows);
        for (const read of reads) {
          const hosts = visits.get(read.submissionId) ?? [];
          this.#count("claimHosts", hosts.length);
          this.#count("claimRows", hosts.reduce((n, h) => n + h.candidates.length, 0));
          fair.read(read.submissionId, hosts);
        }
      }
      this.#claimCursors = fair.cursors();
      const admitted = fair.admitted;
      if (admitted.length === 0) return [];
      const claimed = byId(await rowsOf<TaskRow>(client, SQL.claim, [now, owner, admitted.map((c) => c.id)]));
      return admitted.flatMap((c) => {
        const row = claimed.get(c.id);
        return row ? [{ task: toTask(row), options: c.options }] : [];
      });
    });
  }

  async finishAttempts(owner: string, outcomes: readonly AttemptOutcome[], now: number): Promise<Task[]> {
    if (outcomes.length === 0) return [];
    this.#count("finishAttempts");
    const writes = finishWrites(owner, outcomes, now);
    // One statement commits on its own; several (outcomes of different kinds) share one transaction.
    const written =
      writes.length === 1
        ? await this.#rows(writes[0]!.statement, writes[0]!.values)
        : await this.#transaction("BEGIN", async (client) => {
            const rows: TaskRow[] = [];
            for (const { statement, values } of writes) rows.push(...(await rowsOf<TaskRow>(client, statement, values)));
            return rows;
          });
    return inOrder(outcomes.map((o) => o.id), written);
  }

  async reject(ids: readonly number[], error: TaskError, now: number): Promise<Task[]> {
    if (ids.length === 0) return [];
    this.#count("reject");
    return inOrder(ids, await this.#rows(SQL.reject, [now, error.code, error.message, ids]));
  }

  async cancel(id: number, now: number): Promise<Task | null> {
    this.#count("cancel");
    const [row] = await this.#rows(SQL.cancel, [now, id]);
    return row ? toTask(row) : null;
  }

  async requeue(owner: string, ids?: readonly number[]): Promise<number> {
    if (ids && ids.length === 0) return 0;
    this.#count("requeue");
    return this.#transaction(BEGIN_CLAIM, async (client) => {
      const result = ids
        ? await client.query({ ...SQL.requeue, values: [owner, ids] })
        : await client.query({ ...SQL.requeueOwner, values: [owner] });
      return result.rowCount ?? 0;
    });
  }

  async requeueOrphans(liveOwner: string): Promise<number> {
    this.#count("requeueOrphans");
    // Called at start and at every heartbeat: the counts' fold rides along, so it runs even when nobody reads them.
    await this.#foldCountsNowAndThen();
    return this.#transaction(BEGIN_CLAIM, async (client) => (await client.query({ ...SQL.requeueOrphans, values: [liveOwner] })).rowCount ?? 0);
  }

  /**
   * Folds the TaskCount shards of connections that are gone into one row per (owner, status), at most once
   * per FOLD_EVERY_MS per store: pools open and close connections, each writing rows of its own.
   */
  async #foldCountsNowAndThen(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastFold < FOLD_EVERY_MS) return;
    this.#lastFold = now;
    this.#count("foldCounts");
    await this.#pool.query(SQL.foldCounts);
  }

  #count(name: string, by = 1): void {
    this.#counts[name] = (this.#counts[name] ?? 0) + by;
  }

  #rows(statement: Statement, values: unknown[]): Promise<TaskRow[]> {
    return rowsOf<TaskRow>(this.#pool, statement, values);
  }

  /**
   * Runs `fn` in a transaction opened by `begin` on one pooled connection; commits, or rolls back and
   * rethrows. A connection whose rollback failed is broken: it is destroyed, not reused.
   */
  async #transaction<T>(begin: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(begin);
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }
}

async function rowsOf<R extends pg.QueryResultRow>(on: pg.Pool | pg.PoolClient, statement: Statement, values: unknown[]): Promise<R[]> {
  return (await on.query<R>({ ...statement, values })).rows;
}

function ownerOf(scope: TaskScope): number | null {
  return scope.kind === "owner" ? scope.keyId : null;
}

/** The claim's rows (per submission, in host order, then id) as each submission's hosts: load and candidates. */
function groupByHost(rows: readonly HostCandidateRow[]): Map<number, (HostVisit & { candidates: ClaimCandidate[] })[]> {
  const bySubmission = new Map<number, (HostVisit & { candidates: ClaimCandidate[] })[]>();
  for (const row of rows) {
    let hosts = bySubmission.get(row.submissionId);
    if (hosts === undefined) bySubmission.set(row.submissionId, (hosts = []));
    let entry = hosts.at(-1);
    if (entry?.host !== row.host) {
      const load = { running: row.running, lastStartedAt: row.lastStartedAt?.getTime() ?? null };
      entry = { host: row.host, lap: row.lap, load, candidates: [] };
      hosts.push(entry);
    }
    if (row.id !== null) entry.candidates.push({ id: row.id, url: row.url, host: row.host, options: optionsOf(row) });
  }
  return bySubmission;
}

function byId(rows: readonly TaskRow[]): Map<number, TaskRow> {
  return new Map(rows.map((r) => [r.id, r]));
}

/** The written rows in the order their ids were given (each id once); ids without a row were refused. */
function inOrder(ids: readonly number[], rows: readonly TaskRow[]): Task[] {
  const written = byId(rows);
  const tasks: Task[] = [];
  for (const id of ids) {
    const row = written.get(id);
    if (!row) continue;
    written.delete(id);
    tasks.push(toTask(row));
  }
  return tasks;
}

/** At most one statement per outcome kind, each with the outcomes of its kind as arrays. */
function finishWrites(owner: string, outcomes: readonly AttemptOutcome[], now: number): { statement: Statement; values: unknown[] }[] {
  const succeeded = outcomes.filter((o) => o.kind === "succeed");
  const failed = outcomes.filter((o) => o.kind === "fail");
  const retried = outcomes.filter((o) => o.kind === "retryLater");
  const common = (list: readonly AttemptOutcome[]) => [list.map((o) => o.id), list.map((o) => o.attempt), list.map((o) => o.worker)];
  const writes: { statement: Statement; values: unknown[] }[] = [];
  if (succeeded.length > 0) {
    const pages = succeeded.map((o) => o.page);
    writes.push({
      statement: SQL.succeed,
      values: [
        owner, now, ...common(succeeded),
        pages.map((p) => p.httpStatus), pages.map((p) => p.finalUrl), pages.map((p) => p.contentType),
        pages.map((p) => p.contentLength), pages.map((p) => p.title), pages.map((p) => p.linkCount),
        pages.map((p) => p.fetchMs), pages.map((p) => p.parseMs),
      ],
    });
  }
  if (failed.length > 0) {
    writes.push({
      statement: SQL.fail,
      values: [
        owner, now, ...common(failed),
        failed.map((o) => o.error.code), failed.map((o) => o.error.message), failed.map((o) => (o.attemptMade ? 0 : 1)),
      ],
    });
  }
  if (retried.length > 0) {
    writes.push({
      statement: SQL.retryLater,
      values: [owner, ...common(retried), retried.map((o) => o.error.code), retried.map((o) => o.error.message), retried.map((o) => o.runAt)],
    });
  }
  return writes;
}

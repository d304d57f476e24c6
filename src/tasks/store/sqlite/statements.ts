import type Database from "better-sqlite3";
import type { HostLoad } from "../claim-politeness.js";
import type { Task as TaskModel } from "../../../generated/prisma/client.js";
import { INITIAL_STATUS, TERMINAL_STATUSES, TRANSITIONS, type TransitionName } from "../../task-state.js";

/**
 * A Task row as better-sqlite3 returns it: the Prisma model's columns (one shape, from schema.prisma), with
 * DATETIME columns as epoch milliseconds (Prisma's own reads give Dates).
 */
export type TaskRow = Omit<TaskModel, "runAt" | "createdAt" | "startedAt" | "finishedAt"> & {
  createdAt: Date | number;
  startedAt: Date | number | null;
  finishedAt: Date | number | null;
};

/** A runnable task joined with its submission's options, as the claim reads it. */
export type CandidateRow = {
  id: number;
  url: string;
  host: string;
  maxRetries: number;
  perHostConcurrency: number;
  hostDelayMs: number;
  respectRobots: number;
};

// A transition's guard as SQL: the row must still be in one of the `from` states.
const from = (t: TransitionName) => `status IN (${TRANSITIONS[t].from.map((s) => `'${s}'`).join(",")})`;
const to = (t: TransitionName) => `'${TRANSITIONS[t].to}'`;
// A terminal write or a retry is fenced by the claim it ends: same owner, same attempt.
const FENCE = `claimedBy = ? AND attempts = ?`;

const CANDIDATE_COLUMNS = `t.id, t.url, t.host, s.maxRetries, s.perHostConcurrency, s.hostDelayMs, s.respectRobots`;

/** Every statement the store uses on its better-sqlite3 connection, prepared once. */
export function prepareStatements(db: Database.Database) {
  const task = (sql: string) => db.prepare<unknown[], TaskRow>(sql);
  const candidates = (sql: string) => db.prepare<unknown[], CandidateRow>(sql);
  return {
    ping: db.prepare("SELECT 1"),
    synchronous: { FULL: db.prepare("PRAGMA synchronous = FULL"), NORMAL: db.prepare("PRAGMA synchronous = NORMAL") },
    insertSubmission: db.prepare(
      `INSERT INTO Submission (createdAt, maxRetries, perHostConcurrency, hostDelayMs, respectRobots, ownerKeyId)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    insertTask: db.prepare(
      `INSERT INTO Task (submissionId, url, host, status, attempts, runAt, createdAt, ownerKeyId)
       VALUES (?, ?, ?, '${INITIAL_STATUS}', 0, ?, ?, ?)`,
    ),
    findByIds: task(`SELECT * FROM Task WHERE id IN (SELECT value FROM json_each(?))`),
    findByIdsOwned: task(`SELECT * FROM Task WHERE id IN (SELECT value FROM json_each(?)) AND ownerKeyId = ?`),
    submissionExists: db.prepare(`SELECT id FROM Submission WHERE id = ?`),
    submissionExistsOwned: db.prepare(`SELECT id FROM Submission WHERE id = ? AND ownerKeyId = ?`),
    findBySubmission: task(`SELECT * FROM Task WHERE submissionId = ? ORDER BY id`),
    // One page of a submission (keyset, on the (submissionId, id) index); a null owner or status filters nothing.
    listSubmissionPage: task(
      `SELECT * FROM Task
        WHERE submissionId = @submissionId AND id > @afterId
          AND (@ownerKeyId IS NULL OR ownerKeyId = @ownerKeyId) AND (@status IS NULL OR status = @status)
        ORDER BY id LIMIT @first`,
    ),
    // The claim (claim-politeness.ts), every read an index seek or a short range, INDEXED BY throughout so
    // that the planner never trades them for a scan of the (status, runAt) index. The submissions with
    // PENDING tasks: the next one after a submission, on the (status, submissionId, host, id) index (a
    // loose index scan: one seek per submission however many tasks each has).
    nextPendingSubmission: db
      .prepare<unknown[], number>(
        `SELECT submissionId FROM Task INDEXED BY Task_status_submissionId_host_id_idx
          WHERE status = 'PENDING' AND submissionId > ? ORDER BY submissionId LIMIT 1`,
      )
      .pluck(),
    // Tasks RUNNING per submission (RUNNING rows are at most the cluster's in flight), same index.
    runningBySubmission: db.prepare<unknown[], { submissionId: number; running: number }>(
      `SELECT submissionId, COUNT(*) AS running FROM Task INDEXED BY Task_status_submissionId_host_id_idx
        WHERE status = 'RUNNING' GROUP BY submissionId`,
    ),
    // A submission's next host with PENDING tasks after one (and no further than a host), same index.
    nextSubmissionHost: db
      .prepare<unknown[], string>(
        `SELECT host FROM Task INDEXED BY Task_status_submissionId_host_id_idx
          WHERE status = 'PENDING' AND submissionId = @submissionId AND host > @after
            AND (@through IS NULL OR host <= @through)
          ORDER BY host LIMIT 1`,
      )
      .pluck(),
    // A host's load for the politeness rule: its RUNNING tasks of every submission (on (status, host)),
    // its latest start on (host, startedAt).
    hostLoad: db.prepare<unknown[], HostLoad>(
      `SELECT (SELECT COUNT(*) FROM Task INDEXED BY Task_status_host_idx
                WHERE status = 'RUNNING' AND host = @host) AS running,
              (SELECT startedAt FROM Task INDEXED BY Task_host_startedAt_idx
                WHERE host = @host AND startedAt IS NOT NULL ORDER BY startedAt DESC LIMIT 1) AS lastStartedAt`,
    ),
    // A submission's first runnable tasks on a host, in id order.
    hostCandidates: candidates(
      `SELECT ${CANDIDATE_COLUMNS}
         FROM Task t INDEXED BY Task_status_submissionId_host_id_idx JOIN Submission s ON s.id = t.submissionId
        WHERE t.status = 'PENDING' AND t.submissionId = @submissionId AND t.host = @host AND t.runAt <= @now
        ORDER BY t.id LIMIT @limit`,
    ),
    listFinishedSince: task(
      `SELECT * FROM Task WHERE finishedAt >= ? AND status IN (${TERMINAL_STATUSES.map((t) => `'${t}'`).join(",")})
        ORDER BY finishedAt, id LIMIT ?`,
    ),
    // A submission's tasks, counted in its transaction (the migration's triggers count every other write).
    countInserted: db.prepare(
      `INSERT INTO TaskCount (ownerKey, status, n) VALUES (?, '${INITIAL_STATUS}', ?)
       ON CONFLICT (ownerKey, status) DO UPDATE SET n = n + excluded.n`,
    ),
    // The counts the triggers keep (migration 20261126191000_task_counts): a few rows, whatever the backlog.
    countAll: db.prepare<[], { status: string; n: number }>(`SELECT status, SUM(n) AS n FROM TaskCount GROUP BY status`),
    countOwned: db.prepare<[number], { status: string; n: number }>(`SELECT status, n FROM TaskCount WHERE ownerKey = ?`),
    nextRunAt: db.prepare<unknown[], { next: number | null }>(
      `SELECT MIN(runAt) AS next FROM Task WHERE status = 'PENDING' AND runAt > ?`,
    ),
    claim: task(
      `UPDATE Task SET status = ${to("claim")}, attempts = attempts + 1, startedAt = ?, claimedBy = ?
        WHERE id = ? AND ${from("claim")} RETURNING *`,
    ),
    succeed: task(
      `UPDATE Task SET status = ${to("succeed")}, claimedBy = NULL, finishedAt = ?, errorCode = NULL, errorMessage = NULL,
              worker = ?, httpStatus = ?, finalUrl = ?, contentType = ?, contentLength = ?, title = ?,
              linkCount = ?, fetchMs = ?, parseMs = ?
        WHERE id = ? AND ${from("succeed")} AND ${FENCE} RETURNING *`,
    ),
    fail: task(
      `UPDATE Task SET status = ${to("fail")}, claimedBy = NULL, finishedAt = ?, worker = ?, errorCode = ?, errorMessage = ?,
              attempts = attempts - ?
        WHERE id = ? AND ${from("fail")} AND ${FENCE} RETURNING *`,
    ),
    retryLater: task(
      `UPDATE Task SET status = ${to("retryLater")}, claimedBy = NULL, worker = ?, errorCode = ?, errorMessage = ?, runAt = ?
        WHERE id = ? AND ${from("retryLater")} AND ${FENCE} RETURNING *`,
    ),
    reject: task(
      `UPDATE Task SET status = ${to("reject")}, finishedAt = ?, errorCode = ?, errorMessage = ?
        WHERE id = ? AND ${from("reject")} RETURNING *`,
    ),
    cancel: task(
      `UPDATE Task SET status = ${to("cancel")}, finishedAt = ? WHERE id = ? AND ${from("cancel")} RETURNING *`,
    ),
    requeue: db.prepare(
      `UPDATE Task SET status = ${to("requeue")}, startedAt = NULL, claimedBy = NULL
        WHERE id = ? AND ${from("requeue")} AND claimedBy = ?`,
    ),
    requeueOwner: db.prepare(
      `UPDATE Task SET status = ${to("requeue")}, startedAt = NULL, claimedBy = NULL WHERE ${from("requeue")} AND claimedBy = ?`,
    ),
    requeueOrphans: db.prepare(
      `UPDATE Task SET status = ${to("requeue")}, startedAt = NULL, claimedBy = NULL
        WHERE ${from("requeue")} AND (claimedBy IS NULL OR claimedBy <> ?)`,
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

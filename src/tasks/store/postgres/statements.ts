import type { Task as TaskModel } from "../../../generated/prisma-postgres/client.js";
import { INITIAL_STATUS, TERMINAL_STATUSES, TRANSITIONS, type TransitionName } from "../../task-state.js";
import type { OptionColumns } from "../task-row.js";

/** A Task row as pg returns it: the Prisma model's columns (one shape, from schema.prisma), timestamps as Dates. */
export type TaskRow = TaskModel;

/**
 * A host the claim read for a submission, with its load in the whole database, and one of the submission's
 * runnable tasks on it with the submission's options (null task columns: none read).
 */
export type HostCandidateRow = { submissionId: number; lap: 0 | 1; host: string; running: number; lastStartedAt: Date | null } & (
  | (OptionColumns & { id: number; url: string })
  | { [K in keyof OptionColumns | "id" | "url"]: null }
);

/**
 * A named statement: pg prepares it once per connection (Parse once, then Bind/Execute), so the hot
 * paths skip PostgreSQL's parse and plan on every call.
 */
export interface Statement {
  name: string;
  text: string;
}

// A transition's guard as SQL: the row must still be in one of the `from` states.
const from = (t: TransitionName) => `t.status IN (${TRANSITIONS[t].from.map((s) => `'${s}'`).join(",")})`;
const to = (t: TransitionName) => `'${TRANSITIONS[t].to}'`;
// Epoch milliseconds in, timestamptz out (the columns keep milliseconds).
const at = (param: string) => `to_timestamp(${param}::float8 / 1000)`;
// A terminal write or a retry is fenced by the claim it ends: same owner, same attempt (u: the outcomes).
const FENCE = `t."claimedBy" = $1 AND t.attempts = u.attempt`;
const TERMINAL = TERMINAL_STATUSES.map((s) => `'${s}'`).join(",");

/**
 * Any fixed number: every claim, in every instance, takes this transaction-level advisory lock first, so
 * claims run one at a time across the cluster and the per-host counts each one reads are exact.
 */
export const CLAIM_LOCK = 7_412_002;

const statements = {
  insertSubmission: `
    INSERT INTO "Submission" ("createdAt", "maxRetries", "perHostConcurrency", "hostDelayMs", "respectRobots", "ownerKeyId")
    VALUES (${at("$1")}, $2, $3, $4, $5, $6) RETURNING id`,
  // One chunk of a submission's tasks. Ids come from the sequence in the order rows are inserted, which
  // ORDER BY makes the input order: sorted, the returned ids are the tasks in input order.
  insertTasks: `
    INSERT INTO "Task" ("submissionId", url, host, status, attempts, "runAt", "createdAt", "ownerKeyId")
    SELECT $1, u.url, u.host, '${INITIAL_STATUS}', 0, c.at, c.at, $5
      FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(url, host, n), (SELECT ${at("$4")} AS at) c
     ORDER BY u.n
    RETURNING id`,
  // A null owner ($2) filters nothing.
  findByIds: `SELECT * FROM "Task" WHERE id = ANY($1::int[]) AND ($2::int IS NULL OR "ownerKeyId" = $2)`,
  // One row of nulls for a submission without tasks; none for a submission that is not there (or not the owner's).
  findBySubmission: `
    SELECT t.* FROM "Submission" s LEFT JOIN "Task" t ON t."submissionId" = s.id
     WHERE s.id = $1 AND ($2::int IS NULL OR s."ownerKeyId" = $2)
     ORDER BY t.id`,
  listSubmissionPage: `
    SELECT * FROM "Task"
     WHERE "submissionId" = $1 AND id > $2 AND ($3::int IS NULL OR "ownerKeyId" = $3) AND ($4::text IS NULL OR status = $4)
     ORDER BY id LIMIT $5`,
  listFinishedSince: `
    SELECT * FROM "Task" WHERE "finishedAt" >= ${at("$1")} AND status IN (${TERMINAL})
     ORDER BY "finishedAt", id LIMIT $2`,
  // The counts the triggers keep (migration 20261126191000_task_counts), summed over the shards: a few rows.
  countAll: `SELECT status, sum(n)::int8 AS n FROM "TaskCount" GROUP BY status`,
  countOwned: `SELECT status, sum(n)::int8 AS n FROM "TaskCount" WHERE "ownerKey" = $1 GROUP BY status`,
  foldCounts: `SELECT "crawlq_fold_task_counts"() AS folded`,
  nextRunAt: `SELECT min("runAt") AS next FROM "Task" WHERE status = 'PENDING' AND "runAt" > ${at("$1")}`,
  // The claim (claim-politeness.ts), under CLAIM_LOCK. First the submissions with PENDING tasks, from a
  // loose index scan on (status, submissionId, host, id) (one seek per submission, however many tasks
  // each has), each with its tasks RUNNING in the cluster (a GROUP BY over the RUNNING rows only).
  claimSubmissions: `
    WITH RECURSIVE pending(id) AS (
      (SELECT t."submissionId" FROM "Task" t
        WHERE t.status = 'PENDING' ORDER BY t."submissionId", t.host, t.id LIMIT 1)
      UNION ALL
      SELECT (SELECT t."submissionId" FROM "Task" t
               WHERE t.status = 'PENDING' AND t."submissionId" > p.id ORDER BY t."submissionId", t.host, t.id LIMIT 1)
        FROM pending p WHERE p.id IS NOT NULL
    )
    SELECT p.id AS "submissionId", coalesce(r.running, 0)::int AS running
      FROM pending p
      LEFT JOIN (SELECT t."submissionId", count(*)::int AS running FROM "Task" t
                  WHERE t.status = 'RUNNING' GROUP BY t."submissionId") r ON r."submissionId" = p.id
     WHERE p.id IS NOT NULL
     ORDER BY p.id`,
  // Then the hosts the claim asks for, several submissions per statement (the arrays $1..$5 and $9:
  // submission, after, through or null, wrapThrough or null, hosts, rows; one entry per HostRead): for each
  // submission its next hosts with PENDING tasks after `after` (up to `through`; then, with a wrapThrough,
  // from the first host up to it: lap 1), not among $6, by a loose index scan on the same index
  // (it steps over at most cardinality($6) skipped hosts more than it returns), each with its load across
  // the cluster (RUNNING tasks of every submission on (status, host), the latest start on
  // (host, startedAt)) and at most least($7 - running, rows) of the submission's runnable tasks there in id
  // order, locked, skipping rows another transaction holds; a host with none comes as one row of null task
  // columns. Each seek is ordered by the whole index key, so that only that index serves it without a sort.
  claimHosts: `
    WITH RECURSIVE reads AS (
      SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::int[], $9::int[])
                 AS r(sub, after, through, wrap, hosts, rows)
    ), walk(sub, lap, host, n) AS (
      SELECT r.sub, 0,
             (SELECT t.host FROM "Task" t
               WHERE t.status = 'PENDING' AND t."submissionId" = r.sub AND t.host > r.after
               ORDER BY t."submissionId", t.host, t.id LIMIT 1),
             1
        FROM reads r
      UNION ALL
      -- Past the stretch's last host (a null host in lap 0), on from the first host when a wrap is asked.
      SELECT w.sub, CASE WHEN w.host IS NULL THEN 1 ELSE w.lap END,
             (SELECT t.host FROM "Task" t
               WHERE t.status = 'PENDING' AND t."submissionId" = w.sub AND t.host > coalesce(w.host, '')
               ORDER BY t."submissionId", t.host, t.id LIMIT 1),
             w.n + CASE WHEN w.host IS NULL THEN 0 ELSE 1 END
        FROM walk w JOIN reads r ON r.sub = w.sub
       WHERE (w.host IS NOT NULL OR (w.lap = 0 AND r.wrap IS NOT NULL))
         AND w.n < r.hosts + cardinality($6::text[])
         AND (w.host IS NULL OR CASE WHEN w.lap = 0 THEN r.through ELSE r.wrap END IS NULL
              OR w.host < CASE WHEN w.lap = 0 THEN r.through ELSE r.wrap END)
    ), hosts AS (
      SELECT x.sub, x.lap, x.host, x.n, r.rows FROM (
        SELECT w.sub, w.lap, w.host, w.n, row_number() OVER (PARTITION BY w.sub ORDER BY w.lap, w.n) AS k
          FROM walk w JOIN reads r ON r.sub = w.sub
         WHERE w.host IS NOT NULL AND w.host <> ALL($6::text[])
           AND (CASE WHEN w.lap = 0 THEN r.through ELSE r.wrap END IS NULL
                OR w.host <= CASE WHEN w.lap = 0 THEN r.through ELSE r.wrap END)
      ) x JOIN reads r ON r.sub = x.sub
       WHERE x.k <= r.hosts
    )
    SELECT h.sub AS "submissionId", h.lap, h.host, l.running, l."lastStartedAt", c.id, c.url, c."maxRetries",
           c."perHostConcurrency", c."hostDelayMs", c."respectRobots"
      FROM hosts h
     CROSS JOIN LATERAL (
           SELECT (SELECT count(*)::int FROM "Task" r WHERE r.status = 'RUNNING' AND r.host = h.host) AS running,
                  (SELECT max(s."startedAt") FROM "Task" s WHERE s.host = h.host) AS "lastStartedAt") l
      LEFT JOIN LATERAL (
           SELECT t.id, t.url, s."maxRetries", s."perHostConcurrency", s."hostDelayMs", s."respectRobots"
             FROM "Task" t JOIN "Submission" s ON s.id = t."submissionId"
            WHERE t.status = 'PENDING' AND t."submissionId" = h.sub AND t.host = h.host AND t."runAt" <= ${at("$8")}
            ORDER BY t."submissionId", t.host, t.id
            LIMIT greatest(0, least($7::int - l.running, h.rows))
              FOR UPDATE OF t SKIP LOCKED) c ON true
     ORDER BY h.sub, h.lap, h.n, c.id`,
  claim: `
    UPDATE "Task" t SET status = ${to("claim")}, attempts = t.attempts + 1, "startedAt" = ${at("$1")}, "claimedBy" = $2
     WHERE t.id = ANY($3::int[]) AND ${from("claim")} RETURNING t.*`,
  // finishAttempts: one statement per outcome kind, every outcome of the kind in arrays ($1 is the owner).
  succeed: `
    UPDATE "Task" t SET status = ${to("succeed")}, "claimedBy" = NULL, "finishedAt" = ${at("$2")},
           "errorCode" = NULL, "errorMessage" = NULL, worker = u.worker, "httpStatus" = u."httpStatus",
           "finalUrl" = u."finalUrl", "contentType" = u."contentType", "contentLength" = u."contentLength",
           title = u.title, "linkCount" = u."linkCount", "fetchMs" = u."fetchMs", "parseMs" = u."parseMs"
      FROM unnest($3::int[], $4::int[], $5::int[], $6::int[], $7::text[], $8::text[], $9::int[], $10::text[],
                  $11::int[], $12::float8[], $13::float8[])
           AS u(id, attempt, worker, "httpStatus", "finalUrl", "contentType", "contentLength", title, "linkCount", "fetchMs", "parseMs")
     WHERE t.id = u.id AND ${from("succeed")} AND ${FENCE} RETURNING t.*`,
  fail: `
    UPDATE "Task" t SET status = ${to("fail")}, "claimedBy" = NULL, "finishedAt" = ${at("$2")}, worker = u.worker,
           "errorCode" = u.code, "errorMessage" = u.message, attempts = t.attempts - u.uncounted
      FROM unnest($3::int[], $4::int[], $5::int[], $6::text[], $7::text[], $8::int[]) AS u(id, attempt, worker, code, message, uncounted)
     WHERE t.id = u.id AND ${from("fail")} AND ${FENCE} RETURNING t.*`,
  retryLater: `
    UPDATE "Task" t SET status = ${to("retryLater")}, "claimedBy" = NULL, worker = u.worker, "errorCode" = u.code,
           "errorMessage" = u.message, "runAt" = ${at('u."runAt"')}
      FROM unnest($2::int[], $3::int[], $4::int[], $5::text[], $6::text[], $7::float8[]) AS u(id, attempt, worker, code, message, "runAt")
     WHERE t.id = u.id AND ${from("retryLater")} AND ${FENCE} RETURNING t.*`,
  reject: `
    UPDATE "Task" t SET status = ${to("reject")}, "finishedAt" = ${at("$1")}, "errorCode" = $2, "errorMessage" = $3
     WHERE t.id = ANY($4::int[]) AND ${from("reject")} RETURNING t.*`,
  cancel: `UPDATE "Task" t SET status = ${to("cancel")}, "finishedAt" = ${at("$1")} WHERE t.id = $2 AND ${from("cancel")} RETURNING t.*`,
  requeue: `
    UPDATE "Task" t SET status = ${to("requeue")}, "startedAt" = NULL, "claimedBy" = NULL
     WHERE t.id = ANY($2::int[]) AND ${from("requeue")} AND t."claimedBy" = $1`,
  requeueOwner: `
    UPDATE "Task" t SET status = ${to("requeue")}, "startedAt" = NULL, "claimedBy" = NULL WHERE ${from("requeue")} AND t."claimedBy" = $1`,
  // Orphans: claims of no instance at all, or of one that is neither this one nor holding a live lease.
  requeueOrphans: `
    UPDATE "Task" t SET status = ${to("requeue")}, "startedAt" = NULL, "claimedBy" = NULL
     WHERE ${from("requeue")}
       AND (t."claimedBy" IS NULL
            OR (t."claimedBy" <> $1
                AND NOT EXISTS (SELECT 1 FROM "Instance" i WHERE i.id = t."claimedBy" AND i."leaseExpiresAt" > now())))`,
};

export type StatementName = keyof typeof statements;

/** Every statement of the store, named for pg's per-connection prepared-statement cache. */
export const SQL = Object.fromEntries(
  Object.entries(statements).map(([name, text]) => [name, { name: `crawlq_${name}`, text }]),
) as Record<StatementName, Statement>;

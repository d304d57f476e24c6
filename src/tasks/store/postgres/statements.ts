import type { Task as TaskModel } from "../../../generated/prisma-postgres/client.js";
import { INITIAL_STATUS, TERMINAL_STATUSES, TRANSITIONS, type TransitionName } from "../../task-state.js";
import type { OptionColumns } from "../task-row.js";

/** A Task row as pg returns it: the Prisma model's columns (one shape, from schema.prisma), timestamps as Dates. */
export type TaskRow = TaskModel;

/**
 * A host the claim's walk reached, with its load in the whole database, and one of its runnable tasks with
 * its submission's options (null task columns: none read).
 */
export type HostCandidateRow = { host: string; lap: 0 | 1; running: number; lastStartedAt: Date | null } & (
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
    INSERT INTO "Task" ("submissionId", url, host, "hostRank", status, attempts, "runAt", "createdAt", "ownerKeyId")
    SELECT $1, u.url, u.host, u.rank, '${INITIAL_STATUS}', 0, c.at, c.at, $5
      FROM unnest($2::text[], $3::text[], $6::int[]) WITH ORDINALITY AS u(url, host, rank, n), (SELECT ${at("$4")} AS at) c
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
  // One step of the claim's walk over hosts (claim-politeness.ts), under CLAIM_LOCK: the next $3 hosts with
  // PENDING tasks after $1 (and up to $2, when given), then, when $8 is given, from the first host up to $8
  // (the walk wrapping around to where it started: lap 1), not among $4, each with its load across the
  // cluster (RUNNING tasks on the (status, host, hostRank, id) index, the latest start on (host, startedAt))
  // and at most least($5 - running, $6) of its runnable tasks in (hostRank, id) order, locked, skipping rows
  // another transaction holds; a host with none comes as one row of null task columns. The hosts come from
  // a loose index scan (one index seek per host, however many tasks each has), pulled only as far as the
  // LIMIT asks (lap 1 only once lap 0 ran out). Each seek is ordered by the whole (host, hostRank, id) so
  // that only that index serves it without a sort, whatever the statistics say: ordered by host alone, the
  // planner may take (host, startedAt) and step through every non-PENDING row of the next hosts, or
  // (status, runAt) and sort every PENDING row.
  claimHosts: `
    WITH RECURSIVE ahead(host) AS (
      (SELECT t.host FROM "Task" t
        WHERE t.status = 'PENDING' AND t.host > $1::text ORDER BY t.host, t."hostRank", t.id LIMIT 1)
      UNION ALL
      SELECT (SELECT t.host FROM "Task" t
               WHERE t.status = 'PENDING' AND t.host > w.host ORDER BY t.host, t."hostRank", t.id LIMIT 1)
        FROM ahead w WHERE w.host IS NOT NULL AND ($2::text IS NULL OR w.host < $2::text)
    ), behind(host) AS (
      (SELECT t.host FROM "Task" t
        WHERE $8::text IS NOT NULL AND t.status = 'PENDING' AND t.host > '' ORDER BY t.host, t."hostRank", t.id LIMIT 1)
      UNION ALL
      SELECT (SELECT t.host FROM "Task" t
               WHERE t.status = 'PENDING' AND t.host > w.host ORDER BY t.host, t."hostRank", t.id LIMIT 1)
        FROM behind w WHERE w.host IS NOT NULL AND w.host < $8::text
    ), hosts AS (
      SELECT w.host, w.lap FROM (
        SELECT a.host, 0 AS lap FROM ahead a WHERE a.host IS NOT NULL AND ($2::text IS NULL OR a.host <= $2::text)
        UNION ALL
        SELECT b.host, 1 AS lap FROM behind b WHERE b.host IS NOT NULL AND b.host <= $8::text
      ) w
       WHERE w.host <> ALL($4::text[])
       LIMIT $3
    )
    SELECT h.host, h.lap, l.running, l."lastStartedAt", c.id, c.url, c."maxRetries", c."perHostConcurrency",
           c."hostDelayMs", c."respectRobots"
      FROM hosts h
     CROSS JOIN LATERAL (
           SELECT (SELECT count(*)::int FROM "Task" r WHERE r.status = 'RUNNING' AND r.host = h.host) AS running,
                  (SELECT max(s."startedAt") FROM "Task" s WHERE s.host = h.host) AS "lastStartedAt") l
      LEFT JOIN LATERAL (
           SELECT t.id, t.url, t."hostRank", s."maxRetries", s."perHostConcurrency", s."hostDelayMs", s."respectRobots"
             FROM "Task" t JOIN "Submission" s ON s.id = t."submissionId"
            WHERE t.status = 'PENDING' AND t.host = h.host AND t."runAt" <= ${at("$7")}
            ORDER BY t."hostRank", t.id
            LIMIT greatest(0, least($5::int - l.running, $6::int))
              FOR UPDATE OF t SKIP LOCKED) c ON true
     ORDER BY h.lap, h.host, c."hostRank", c.id`,
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

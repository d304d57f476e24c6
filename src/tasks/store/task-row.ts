import type { SubmissionOptions, Task } from "../task.js";
import { INITIAL_STATUS, TASK_STATUSES, type TaskStatus } from "../task-state.js";
import type { TaskPage, TaskScope } from "../task-store.js";
import type { CheckedUrl } from "../validate-urls.js";

/**
 * A Task row as either backend's driver returns it: the columns of the Task model (one shape in both
 * Prisma schemas), with timestamps as Dates (Prisma, pg) or epoch milliseconds (better-sqlite3).
 */
export interface TaskColumns {
  id: number;
  submissionId: number;
  ownerKeyId: number | null;
  url: string;
  host: string;
  status: string;
  attempts: number;
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
  createdAt: Date | number | string;
  startedAt: Date | number | string | null;
  finishedAt: Date | number | string | null;
}

/** A submission's options as stored on its row (respectRobots is 0/1 on SQLite, a boolean on PostgreSQL). */
export interface OptionColumns {
  maxRetries: number;
  perHostConcurrency: number;
  hostDelayMs: number;
  respectRobots: number | boolean;
}

/** A row as the rest of the service sees it: the result only when SUCCEEDED, the error when one is kept. */
export function toTask(r: TaskColumns): Task {
  const status = r.status as TaskStatus;
  return {
    id: r.id,
    submissionId: r.submissionId,
    ownerKeyId: r.ownerKeyId,
    url: r.url,
    host: r.host,
    status,
    attempts: r.attempts,
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

/** A task as createSubmission just inserted it (the store returns these without reading them back). */
export function newTask(id: number, submissionId: number, ownerKeyId: number | null, { url, host }: CheckedUrl, createdAt: Date): Task {
  return {
    id,
    submissionId,
    ownerKeyId,
    url,
    host,
    status: INITIAL_STATUS,
    attempts: 0,
    worker: null,
    result: null,
    error: null,
    createdAt,
    startedAt: null,
    finishedAt: null,
  };
}

export function optionsOf(row: OptionColumns): SubmissionOptions {
  return {
    maxRetries: row.maxRetries,
    perHostConcurrency: row.perHostConcurrency,
    hostDelayMs: row.hostDelayMs,
    respectRobots: Boolean(row.respectRobots),
  };
}

/** The Prisma `where` of a scope (both generated clients take the same shape). */
function ownerFilter(scope: TaskScope): { ownerKeyId?: number } {
  return scope.kind === "all" ? {} : { ownerKeyId: scope.keyId };
}

// The operator reads both stores make through Prisma: the arguments are the same for either generated client.

/** `prisma.task.findMany` arguments for a page of listTasks across submissions. */
export function listTasksQuery(page: TaskPage) {
  return {
    where: {
      ...ownerFilter(page.scope),
      status: page.status,
      id: page.afterId === undefined ? undefined : { gt: page.afterId },
    },
    orderBy: { id: "asc" as const },
    take: page.first,
  };
}

/**
 * Counts by status from rows of the TaskCount table (a status may come in several rows: PostgreSQL's
 * shards), every status present, zero included.
 */
export function countsOf(rows: readonly { status: string; n: number | string }[]): Record<TaskStatus, number> {
  const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
  for (const r of rows) if (r.status in counts) counts[r.status as TaskStatus] += Number(r.n);
  return counts;
}

// better-sqlite3 rows carry epoch milliseconds for DATETIME columns; Prisma's and pg's carry Dates.
function asDate(v: Date | number | string): Date {
  return v instanceof Date ? v : new Date(typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v);
}

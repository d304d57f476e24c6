import type { TaskStatus } from "./task-state.js";

/** A task as the rest of the service sees it: one URL and what became of it. */
export interface Task {
  id: number;
  submissionId: number;
  /** The API key that submitted it; null when the service had no keys then. */
  ownerKeyId: number | null;
  url: string;
  host: string;
  status: TaskStatus;
  /** Attempts started so far (retries included); an attempt refused before any request is not counted. */
  attempts: number;
  worker: number | null;
  /** Set when SUCCEEDED. */
  result: PageResult | null;
  /** Set when FAILED (and, between retries, the last attempt's error). */
  error: TaskError | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/**
 * The error a client is shown: the last attempt's, once the task has FAILED. Between retries the store
 * keeps the last error on a PENDING task, but it is not the task's outcome yet.
 */
export function shownError(task: Task): TaskError | null {
  return task.status === "FAILED" ? task.error : null;
}

/** What a successful fetch and parse produced; written and read as one unit (Task.result). */
export interface PageResult {
  httpStatus: number;
  finalUrl: string;
  contentType: string | null;
  /** Bytes of the body after content-encoding is undone, before charset decoding (requests' len(content)). */
  contentLength: number;
  title: string | null;
  linkCount: number;
  fetchMs: number;
  parseMs: number;
}

/** Why a task FAILED (Task.error); `code` is one of the crawler's codes or ROBOTS_DISALLOWED / INTERNAL. */
export interface TaskError {
  code: string;
  message: string;
}

/**
 * The settings of one submission, stored once on its Submission row and read with every claimed task.
 * Each is bounded by the operator's configuration when the submission is made.
 */
export interface SubmissionOptions {
  maxRetries: number;
  perHostConcurrency: number;
  hostDelayMs: number;
  respectRobots: boolean;
}

export interface Submission {
  id: number;
  tasks: Task[];
}

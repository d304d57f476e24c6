import type { CrawlErrorCode, PageResult } from "../crawler/types.js";
import type { TaskStatus } from "./task-state.js";

/** A task as the rest of the service sees it: one URL and what became of it. */
export interface Task {
  id: number;
  submissionId: number;
  url: string;
  host: string;
  status: TaskStatus;
  attempts: number;
  maxRetries: number;
  worker: number | null;
  /** Set when SUCCEEDED. */
  result: PageResult | null;
  /** Set when FAILED (and, between retries, the last attempt's error). */
  error: TaskError | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface TaskError {
  code: CrawlErrorCode | string;
  message: string;
}

/** Options a submission may set; each is bounded by the operator's configuration. */
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

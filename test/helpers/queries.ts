import type { Task } from "../../src/tasks/task.js";

/** The Task selection every end-to-end test asks for. */
export const TASK_FIELDS = `
  id url status done attempts submissionId worker createdAt startedAt finishedAt
  result { httpStatus finalUrl contentType contentLength title linkCount fetchMs parseMs }
  error { code message }
`;

/** A Task as TASK_FIELDS brings it over GraphQL: ids and instants as strings, `done` added, `host` left out. */
export type TaskView = Omit<Task, "id" | "submissionId" | "host" | "createdAt" | "startedAt" | "finishedAt"> & {
  id: string;
  submissionId: string;
  done: boolean;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
};

export const SUBMIT = `mutation Submit($urls: [String!]!, $options: CrawlOptions) {
  submitCrawl(urls: $urls, options: $options) { id tasks { ${TASK_FIELDS} } }
}`;

export const BATCH = `query Batch($ids: [ID!], $submissionId: ID, $timeoutMs: Int, $returnWhen: ReturnWhen) {
  batch(ids: $ids, submissionId: $submissionId, timeoutMs: $timeoutMs, returnWhen: $returnWhen) {
    done notDone complete tasks { ${TASK_FIELDS} }
  }
}`;

export const RESULT = `query Result($id: ID!, $timeoutMs: Int) { result(id: $id, timeoutMs: $timeoutMs) { ${TASK_FIELDS} } }`;

export const TASK = `query Task($id: ID!) { task(id: $id) { ${TASK_FIELDS} } }`;

export const TASK_DONE = `subscription Done($ids: [ID!], $submissionId: ID) {
  taskDone(ids: $ids, submissionId: $submissionId) { ${TASK_FIELDS} }
}`;

export type SubmitData = { submitCrawl: { id: string; tasks: TaskView[] } };
export type BatchData = { batch: { done: number; notDone: number; complete: boolean; tasks: TaskView[] } };

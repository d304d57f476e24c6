/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** Per-submission settings; each is bounded by the operator's configuration. */
export type CrawlOptions = {
  /** Minimum delay between requests to one host (at least the operator's). */
  hostDelayMs?: number | null | undefined;
  /** Retries after the first attempt for retryable failures (operator default, at most 20). */
  maxRetries?: number | null | undefined;
  /** Requests in flight per host for this submission (at most the operator's limit). */
  perHostConcurrency?: number | null | undefined;
  /** false skips robots.txt, only where the operator allows it. */
  respectRobots?: boolean | null | undefined;
};

/** As concurrent.futures.wait's return_when. */
export type ReturnWhen =
  /** Every task is done. */
  | 'ALL_COMPLETED'
  /** Any task is done. */
  | 'FIRST_COMPLETED'
  /** Any task FAILED, or every task is done. */
  | 'FIRST_EXCEPTION';

/** Every task starts PENDING. Transitions: PENDING → RUNNING (claim); RUNNING → SUCCEEDED (succeed); RUNNING → FAILED (fail); RUNNING → PENDING (retryLater); PENDING → FAILED (reject); PENDING → CANCELLED (cancel); RUNNING → PENDING (requeue). SUCCEEDED, FAILED, CANCELLED are final. */
export type TaskStatus =
  | 'CANCELLED'
  | 'FAILED'
  | 'PENDING'
  | 'RUNNING'
  | 'SUCCEEDED';

export type TaskFieldsFragment = { id: string, submissionId: string, url: string, status: TaskStatus, done: boolean, attempts: number, worker: number | null, createdAt: string, startedAt: string | null, finishedAt: string | null, result: { httpStatus: number, finalUrl: string, contentType: string | null, contentLength: number, title: string | null, linkCount: number, fetchMs: number, parseMs: number } | null, error: { code: string, message: string } | null };

export type SubmitCrawlMutationVariables = Exact<{
  urls: Array<string> | string;
  options?: CrawlOptions | null | undefined;
}>;


export type SubmitCrawlMutation = { submitCrawl: { id: string, tasks: Array<{ id: string }> } };

export type CrawlMutationVariables = Exact<{
  url: string;
  options?: CrawlOptions | null | undefined;
  timeoutMs?: number | null | undefined;
}>;


export type CrawlMutation = { crawl: { id: string, submissionId: string, url: string, status: TaskStatus, done: boolean, attempts: number, worker: number | null, createdAt: string, startedAt: string | null, finishedAt: string | null, result: { httpStatus: number, finalUrl: string, contentType: string | null, contentLength: number, title: string | null, linkCount: number, fetchMs: number, parseMs: number } | null, error: { code: string, message: string } | null } };

export type CancelTaskMutationVariables = Exact<{
  id: string;
}>;


export type CancelTaskMutation = { cancelTask: { id: string, submissionId: string, url: string, status: TaskStatus, done: boolean, attempts: number, worker: number | null, createdAt: string, startedAt: string | null, finishedAt: string | null, result: { httpStatus: number, finalUrl: string, contentType: string | null, contentLength: number, title: string | null, linkCount: number, fetchMs: number, parseMs: number } | null, error: { code: string, message: string } | null } };

export type TaskByIdQueryVariables = Exact<{
  id: string;
}>;


export type TaskByIdQuery = { task: { id: string, submissionId: string, url: string, status: TaskStatus, done: boolean, attempts: number, worker: number | null, createdAt: string, startedAt: string | null, finishedAt: string | null, result: { httpStatus: number, finalUrl: string, contentType: string | null, contentLength: number, title: string | null, linkCount: number, fetchMs: number, parseMs: number } | null, error: { code: string, message: string } | null } | null };

export type TasksQueryVariables = Exact<{
  status?: TaskStatus | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type TasksQuery = { tasks: Array<{ id: string, submissionId: string, url: string, status: TaskStatus, done: boolean, attempts: number, worker: number | null, createdAt: string, startedAt: string | null, finishedAt: string | null, result: { httpStatus: number, finalUrl: string, contentType: string | null, contentLength: number, title: string | null, linkCount: number, fetchMs: number, parseMs: number } | null, error: { code: string, message: string } | null }> };

export type ResultQueryVariables = Exact<{
  id: string;
  timeoutMs?: number | null | undefined;
}>;


export type ResultQuery = { result: { id: string, submissionId: string, url: string, status: TaskStatus, done: boolean, attempts: number, worker: number | null, createdAt: string, startedAt: string | null, finishedAt: string | null, result: { httpStatus: number, finalUrl: string, contentType: string | null, contentLength: number, title: string | null, linkCount: number, fetchMs: number, parseMs: number } | null, error: { code: string, message: string } | null } };

export type BatchQueryVariables = Exact<{
  ids?: Array<string> | string | null | undefined;
  submissionId?: string | null | undefined;
  timeoutMs?: number | null | undefined;
  returnWhen?: ReturnWhen | null | undefined;
}>;


export type BatchQuery = { batch: { complete: boolean, done: number, notDone: number, tasks: Array<{ id: string, submissionId: string, url: string, status: TaskStatus, done: boolean, attempts: number, worker: number | null, createdAt: string, startedAt: string | null, finishedAt: string | null, result: { httpStatus: number, finalUrl: string, contentType: string | null, contentLength: number, title: string | null, linkCount: number, fetchMs: number, parseMs: number } | null, error: { code: string, message: string } | null }> } };

export type SubmissionCountsQueryVariables = Exact<{
  submissionId: string;
}>;


export type SubmissionCountsQuery = { batch: { done: number, notDone: number } };

export type PoolQueryVariables = Exact<{ [key: string]: never; }>;


export type PoolQuery = { pool: { threads: number, concurrencyPerThread: number, inFlight: number, pending: number, running: number, succeeded: number, failed: number, cancelled: number, instances: Array<{ id: string, hostName: string, threads: number, inFlight: number, lastHeartbeat: string }> } };

export type TaskDoneSubscriptionVariables = Exact<{
  ids?: Array<string> | string | null | undefined;
  submissionId?: string | null | undefined;
}>;


export type TaskDoneSubscription = { taskDone: { id: string, submissionId: string, url: string, status: TaskStatus, done: boolean, attempts: number, worker: number | null, createdAt: string, startedAt: string | null, finishedAt: string | null, result: { httpStatus: number, finalUrl: string, contentType: string | null, contentLength: number, title: string | null, linkCount: number, fetchMs: number, parseMs: number } | null, error: { code: string, message: string } | null } };

export type CompletionFieldsFragment = { id: string, submissionId: string, url: string, status: TaskStatus, worker: number | null, finishedAt: string | null, result: { httpStatus: number, title: string | null, contentLength: number, fetchMs: number } | null, error: { code: string, message: string } | null };

export type CompletionsSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type CompletionsSubscription = { taskDone: { id: string, submissionId: string, url: string, status: TaskStatus, worker: number | null, finishedAt: string | null, result: { httpStatus: number, title: string | null, contentLength: number, fetchMs: number } | null, error: { code: string, message: string } | null } };

export type SubmissionProgressSubscriptionVariables = Exact<{
  submissionId: string;
}>;


export type SubmissionProgressSubscription = { taskDone: { id: string, status: TaskStatus } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const TaskFieldsFragmentDoc = new TypedDocumentString(`
    fragment TaskFields on Task {
  id
  submissionId
  url
  status
  done
  attempts
  worker
  createdAt
  startedAt
  finishedAt
  result {
    httpStatus
    finalUrl
    contentType
    contentLength
    title
    linkCount
    fetchMs
    parseMs
  }
  error {
    code
    message
  }
}
    `, {"fragmentName":"TaskFields"}) as unknown as TypedDocumentString<TaskFieldsFragment, unknown>;
export const CompletionFieldsFragmentDoc = new TypedDocumentString(`
    fragment CompletionFields on Task {
  id
  submissionId
  url
  status
  worker
  finishedAt
  result {
    httpStatus
    title
    contentLength
    fetchMs
  }
  error {
    code
    message
  }
}
    `, {"fragmentName":"CompletionFields"}) as unknown as TypedDocumentString<CompletionFieldsFragment, unknown>;
export const SubmitCrawlDocument = new TypedDocumentString(`
    mutation SubmitCrawl($urls: [String!]!, $options: CrawlOptions) {
  submitCrawl(urls: $urls, options: $options) {
    id
    tasks {
      id
    }
  }
}
    `) as unknown as TypedDocumentString<SubmitCrawlMutation, SubmitCrawlMutationVariables>;
export const CrawlDocument = new TypedDocumentString(`
    mutation Crawl($url: String!, $options: CrawlOptions, $timeoutMs: Int) {
  crawl(url: $url, options: $options, timeoutMs: $timeoutMs) {
    ...TaskFields
  }
}
    fragment TaskFields on Task {
  id
  submissionId
  url
  status
  done
  attempts
  worker
  createdAt
  startedAt
  finishedAt
  result {
    httpStatus
    finalUrl
    contentType
    contentLength
    title
    linkCount
    fetchMs
    parseMs
  }
  error {
    code
    message
  }
}`) as unknown as TypedDocumentString<CrawlMutation, CrawlMutationVariables>;
export const CancelTaskDocument = new TypedDocumentString(`
    mutation CancelTask($id: ID!) {
  cancelTask(id: $id) {
    ...TaskFields
  }
}
    fragment TaskFields on Task {
  id
  submissionId
  url
  status
  done
  attempts
  worker
  createdAt
  startedAt
  finishedAt
  result {
    httpStatus
    finalUrl
    contentType
    contentLength
    title
    linkCount
    fetchMs
    parseMs
  }
  error {
    code
    message
  }
}`) as unknown as TypedDocumentString<CancelTaskMutation, CancelTaskMutationVariables>;
export const TaskByIdDocument = new TypedDocumentString(`
    query TaskById($id: ID!) {
  task(id: $id) {
    ...TaskFields
  }
}
    fragment TaskFields on Task {
  id
  submissionId
  url
  status
  done
  attempts
  worker
  createdAt
  startedAt
  finishedAt
  result {
    httpStatus
    finalUrl
    contentType
    contentLength
    title
    linkCount
    fetchMs
    parseMs
  }
  error {
    code
    message
  }
}`) as unknown as TypedDocumentString<TaskByIdQuery, TaskByIdQueryVariables>;
export const TasksDocument = new TypedDocumentString(`
    query Tasks($status: TaskStatus, $first: Int, $after: ID) {
  tasks(status: $status, first: $first, after: $after) {
    ...TaskFields
  }
}
    fragment TaskFields on Task {
  id
  submissionId
  url
  status
  done
  attempts
  worker
  createdAt
  startedAt
  finishedAt
  result {
    httpStatus
    finalUrl
    contentType
    contentLength
    title
    linkCount
    fetchMs
    parseMs
  }
  error {
    code
    message
  }
}`) as unknown as TypedDocumentString<TasksQuery, TasksQueryVariables>;
export const ResultDocument = new TypedDocumentString(`
    query Result($id: ID!, $timeoutMs: Int) {
  result(id: $id, timeoutMs: $timeoutMs) {
    ...TaskFields
  }
}
    fragment TaskFields on Task {
  id
  submissionId
  url
  status
  done
  attempts
  worker
  createdAt
  startedAt
  finishedAt
  result {
    httpStatus
    finalUrl
    contentType
    contentLength
    title
    linkCount
    fetchMs
    parseMs
  }
  error {
    code
    message
  }
}`) as unknown as TypedDocumentString<ResultQuery, ResultQueryVariables>;
export const BatchDocument = new TypedDocumentString(`
    query Batch($ids: [ID!], $submissionId: ID, $timeoutMs: Int, $returnWhen: ReturnWhen) {
  batch(
    ids: $ids
    submissionId: $submissionId
    timeoutMs: $timeoutMs
    returnWhen: $returnWhen
  ) {
    complete
    done
    notDone
    tasks {
      ...TaskFields
    }
  }
}
    fragment TaskFields on Task {
  id
  submissionId
  url
  status
  done
  attempts
  worker
  createdAt
  startedAt
  finishedAt
  result {
    httpStatus
    finalUrl
    contentType
    contentLength
    title
    linkCount
    fetchMs
    parseMs
  }
  error {
    code
    message
  }
}`) as unknown as TypedDocumentString<BatchQuery, BatchQueryVariables>;
export const SubmissionCountsDocument = new TypedDocumentString(`
    query SubmissionCounts($submissionId: ID!) {
  batch(submissionId: $submissionId, timeoutMs: 0) {
    done
    notDone
  }
}
    `) as unknown as TypedDocumentString<SubmissionCountsQuery, SubmissionCountsQueryVariables>;
export const PoolDocument = new TypedDocumentString(`
    query Pool {
  pool {
    threads
    concurrencyPerThread
    inFlight
    pending
    running
    succeeded
    failed
    cancelled
    instances {
      id
      hostName
      threads
      inFlight
      lastHeartbeat
    }
  }
}
    `) as unknown as TypedDocumentString<PoolQuery, PoolQueryVariables>;
export const TaskDoneDocument = new TypedDocumentString(`
    subscription TaskDone($ids: [ID!], $submissionId: ID) {
  taskDone(ids: $ids, submissionId: $submissionId) {
    ...TaskFields
  }
}
    fragment TaskFields on Task {
  id
  submissionId
  url
  status
  done
  attempts
  worker
  createdAt
  startedAt
  finishedAt
  result {
    httpStatus
    finalUrl
    contentType
    contentLength
    title
    linkCount
    fetchMs
    parseMs
  }
  error {
    code
    message
  }
}`) as unknown as TypedDocumentString<TaskDoneSubscription, TaskDoneSubscriptionVariables>;
export const CompletionsDocument = new TypedDocumentString(`
    subscription Completions {
  taskDone {
    ...CompletionFields
  }
}
    fragment CompletionFields on Task {
  id
  submissionId
  url
  status
  worker
  finishedAt
  result {
    httpStatus
    title
    contentLength
    fetchMs
  }
  error {
    code
    message
  }
}`) as unknown as TypedDocumentString<CompletionsSubscription, CompletionsSubscriptionVariables>;
export const SubmissionProgressDocument = new TypedDocumentString(`
    subscription SubmissionProgress($submissionId: ID!) {
  taskDone(submissionId: $submissionId) {
    id
    status
  }
}
    `) as unknown as TypedDocumentString<SubmissionProgressSubscription, SubmissionProgressSubscriptionVariables>;
/**
 * Every GraphQL operation the typed client sends, each exported under its operation's name. `npm run codegen`
 * turns each `graphql(...)` call into a typed document (src/client/generated/): its result and variables
 * types (`SubmitCrawlMutation`, `SubmitCrawlMutationVariables`, …) come from schema.graphql.
 */
import { graphql } from "./generated/gql.js";

// What the client reads of a task: every field. Used by the operations below (codegen finds it here; its
// type is TaskFieldsFragment).
graphql(`
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
    result { httpStatus finalUrl contentType contentLength title linkCount fetchMs parseMs }
    error { code message }
  }
`);

export const SubmitCrawl = graphql(`
  mutation SubmitCrawl($urls: [String!]!, $options: CrawlOptions) {
    submitCrawl(urls: $urls, options: $options) { id tasks { id } }
  }
`);

/** Submits one URL and waits until its task is done (TIMEOUT after timeoutMs; the task goes on). */
export const Crawl = graphql(`
  mutation Crawl($url: String!, $options: CrawlOptions, $timeoutMs: Int) {
    crawl(url: $url, options: $options, timeoutMs: $timeoutMs) { ...TaskFields }
  }
`);

export const CancelTask = graphql(`
  mutation CancelTask($id: ID!) {
    cancelTask(id: $id) { ...TaskFields }
  }
`);

export const TaskById = graphql(`
  query TaskById($id: ID!) {
    task(id: $id) { ...TaskFields }
  }
`);

/** Tasks in submission order, optionally by status, a page at a time (`after`: the last id seen). */
export const Tasks = graphql(`
  query Tasks($status: TaskStatus, $first: Int, $after: ID) {
    tasks(status: $status, first: $first, after: $after) { ...TaskFields }
  }
`);

export const Result = graphql(`
  query Result($id: ID!, $timeoutMs: Int) {
    result(id: $id, timeoutMs: $timeoutMs) { ...TaskFields }
  }
`);

export const Batch = graphql(`
  query Batch($ids: [ID!], $submissionId: ID, $timeoutMs: Int, $returnWhen: ReturnWhen) {
    batch(ids: $ids, submissionId: $submissionId, timeoutMs: $timeoutMs, returnWhen: $returnWhen) {
      complete done notDone tasks { ...TaskFields }
    }
  }
`);

/** A submission's size without its tasks: how many are done and how many not yet. */
export const SubmissionCounts = graphql(`
  query SubmissionCounts($submissionId: ID!) {
    batch(submissionId: $submissionId, timeoutMs: 0) { done notDone }
  }
`);

export const Pool = graphql(`
  query Pool {
    pool {
      threads concurrencyPerThread inFlight pending running succeeded failed cancelled
      instances { id hostName threads inFlight lastHeartbeat }
    }
  }
`);

export const TaskDone = graphql(`
  subscription TaskDone($ids: [ID!], $submissionId: ID) {
    taskDone(ids: $ids, submissionId: $submissionId) { ...TaskFields }
  }
`);

// What a live table shows of a completion (the dashboard's): few fields, as thousands a second may stream
// in. Its type is CompletionFieldsFragment.
graphql(`
  fragment CompletionFields on Task {
    id
    submissionId
    url
    status
    worker
    finishedAt
    result { httpStatus title contentLength fetchMs }
    error { code message }
  }
`);

/** Every completion the caller may see, from now on (unfiltered `taskDone`), with the fields a live table shows. */
export const Completions = graphql(`
  subscription Completions {
    taskDone { ...CompletionFields }
  }
`);

/** A submission's progress: the id and status of each task as it is done (those done already first). */
export const SubmissionProgress = graphql(`
  subscription SubmissionProgress($submissionId: ID!) {
    taskDone(submissionId: $submissionId) { id status }
  }
`);

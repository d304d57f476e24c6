/**
 * Every GraphQL operation the typed client sends. `npm run codegen` turns each `graphql(...)` call into a
 * typed document (src/client/generated/): its result and variables types come from schema.graphql.
 */
import { graphql } from "./generated/gql.js";

/** What the client reads of a task: every field but `done` (derived from status). */
export const TaskFieldsFragment = graphql(`
  fragment TaskFields on Task {
    id
    submissionId
    url
    status
    attempts
    worker
    createdAt
    startedAt
    finishedAt
    result { httpStatus finalUrl contentType contentLength title linkCount fetchMs parseMs }
    error { code message }
  }
`);

export const SubmitCrawlMutation = graphql(`
  mutation SubmitCrawl($urls: [String!]!, $options: CrawlOptions) {
    submitCrawl(urls: $urls, options: $options) { id tasks { id } }
  }
`);

export const CancelTaskMutation = graphql(`
  mutation CancelTask($id: ID!) {
    cancelTask(id: $id) { ...TaskFields }
  }
`);

export const TaskQuery = graphql(`
  query Task($id: ID!) {
    task(id: $id) { ...TaskFields }
  }
`);

export const ResultQuery = graphql(`
  query Result($id: ID!, $timeoutMs: Int) {
    result(id: $id, timeoutMs: $timeoutMs) { ...TaskFields }
  }
`);

export const BatchQuery = graphql(`
  query Batch($ids: [ID!], $submissionId: ID, $timeoutMs: Int, $returnWhen: ReturnWhen) {
    batch(ids: $ids, submissionId: $submissionId, timeoutMs: $timeoutMs, returnWhen: $returnWhen) {
      complete done notDone tasks { ...TaskFields }
    }
  }
`);

/** A submission's size without its tasks: how many are done and how many not yet. */
export const SubmissionCountsQuery = graphql(`
  query SubmissionCounts($submissionId: ID!) {
    batch(submissionId: $submissionId, timeoutMs: 0) { done notDone }
  }
`);

export const PoolQuery = graphql(`
  query Pool {
    pool { threads concurrencyPerThread inFlight pending running succeeded failed cancelled }
  }
`);

export const TaskDoneSubscription = graphql(`
  subscription TaskDone($ids: [ID!], $submissionId: ID) {
    taskDone(ids: $ids, submissionId: $submissionId) { ...TaskFields }
  }
`);

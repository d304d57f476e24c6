/* eslint-disable */
import * as types from './graphql.js';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment TaskFields on Task {\n    id\n    submissionId\n    url\n    status\n    done\n    attempts\n    worker\n    createdAt\n    startedAt\n    finishedAt\n    result { httpStatus finalUrl contentType contentLength title linkCount fetchMs parseMs }\n    error { code message }\n  }\n": typeof types.TaskFieldsFragmentDoc,
    "\n  mutation SubmitCrawl($urls: [String!]!, $options: CrawlOptions) {\n    submitCrawl(urls: $urls, options: $options) { id tasks { id } }\n  }\n": typeof types.SubmitCrawlDocument,
    "\n  mutation Crawl($url: String!, $options: CrawlOptions, $timeoutMs: Int) {\n    crawl(url: $url, options: $options, timeoutMs: $timeoutMs) { ...TaskFields }\n  }\n": typeof types.CrawlDocument,
    "\n  mutation CancelTask($id: ID!) {\n    cancelTask(id: $id) { ...TaskFields }\n  }\n": typeof types.CancelTaskDocument,
    "\n  query TaskById($id: ID!) {\n    task(id: $id) { ...TaskFields }\n  }\n": typeof types.TaskByIdDocument,
    "\n  query Tasks($status: TaskStatus, $first: Int, $after: ID) {\n    tasks(status: $status, first: $first, after: $after) { ...TaskFields }\n  }\n": typeof types.TasksDocument,
    "\n  query Result($id: ID!, $timeoutMs: Int) {\n    result(id: $id, timeoutMs: $timeoutMs) { ...TaskFields }\n  }\n": typeof types.ResultDocument,
    "\n  query Batch($ids: [ID!], $submissionId: ID, $timeoutMs: Int, $returnWhen: ReturnWhen) {\n    batch(ids: $ids, submissionId: $submissionId, timeoutMs: $timeoutMs, returnWhen: $returnWhen) {\n      complete done notDone tasks { ...TaskFields }\n    }\n  }\n": typeof types.BatchDocument,
    "\n  query SubmissionCounts($submissionId: ID!) {\n    batch(submissionId: $submissionId, timeoutMs: 0) { done notDone }\n  }\n": typeof types.SubmissionCountsDocument,
    "\n  query Pool {\n    pool {\n      threads concurrencyPerThread inFlight pending running succeeded failed cancelled\n      instances { id hostName threads inFlight lastHeartbeat }\n    }\n  }\n": typeof types.PoolDocument,
    "\n  subscription TaskDone($ids: [ID!], $submissionId: ID) {\n    taskDone(ids: $ids, submissionId: $submissionId) { ...TaskFields }\n  }\n": typeof types.TaskDoneDocument,
    "\n  fragment CompletionFields on Task {\n    id\n    submissionId\n    url\n    status\n    worker\n    finishedAt\n    result { httpStatus title contentLength fetchMs }\n    error { code message }\n  }\n": typeof types.CompletionFieldsFragmentDoc,
    "\n  subscription Completions {\n    taskDone { ...CompletionFields }\n  }\n": typeof types.CompletionsDocument,
    "\n  subscription SubmissionProgress($submissionId: ID!) {\n    taskDone(submissionId: $submissionId) { id status }\n  }\n": typeof types.SubmissionProgressDocument,
};
const documents: Documents = {
    "\n  fragment TaskFields on Task {\n    id\n    submissionId\n    url\n    status\n    done\n    attempts\n    worker\n    createdAt\n    startedAt\n    finishedAt\n    result { httpStatus finalUrl contentType contentLength title linkCount fetchMs parseMs }\n    error { code message }\n  }\n": types.TaskFieldsFragmentDoc,
    "\n  mutation SubmitCrawl($urls: [String!]!, $options: CrawlOptions) {\n    submitCrawl(urls: $urls, options: $options) { id tasks { id } }\n  }\n": types.SubmitCrawlDocument,
    "\n  mutation Crawl($url: String!, $options: CrawlOptions, $timeoutMs: Int) {\n    crawl(url: $url, options: $options, timeoutMs: $timeoutMs) { ...TaskFields }\n  }\n": types.CrawlDocument,
    "\n  mutation CancelTask($id: ID!) {\n    cancelTask(id: $id) { ...TaskFields }\n  }\n": types.CancelTaskDocument,
    "\n  query TaskById($id: ID!) {\n    task(id: $id) { ...TaskFields }\n  }\n": types.TaskByIdDocument,
    "\n  query Tasks($status: TaskStatus, $first: Int, $after: ID) {\n    tasks(status: $status, first: $first, after: $after) { ...TaskFields }\n  }\n": types.TasksDocument,
    "\n  query Result($id: ID!, $timeoutMs: Int) {\n    result(id: $id, timeoutMs: $timeoutMs) { ...TaskFields }\n  }\n": types.ResultDocument,
    "\n  query Batch($ids: [ID!], $submissionId: ID, $timeoutMs: Int, $returnWhen: ReturnWhen) {\n    batch(ids: $ids, submissionId: $submissionId, timeoutMs: $timeoutMs, returnWhen: $returnWhen) {\n      complete done notDone tasks { ...TaskFields }\n    }\n  }\n": types.BatchDocument,
    "\n  query SubmissionCounts($submissionId: ID!) {\n    batch(submissionId: $submissionId, timeoutMs: 0) { done notDone }\n  }\n": types.SubmissionCountsDocument,
    "\n  query Pool {\n    pool {\n      threads concurrencyPerThread inFlight pending running succeeded failed cancelled\n      instances { id hostName threads inFlight lastHeartbeat }\n    }\n  }\n": types.PoolDocument,
    "\n  subscription TaskDone($ids: [ID!], $submissionId: ID) {\n    taskDone(ids: $ids, submissionId: $submissionId) { ...TaskFields }\n  }\n": types.TaskDoneDocument,
    "\n  fragment CompletionFields on Task {\n    id\n    submissionId\n    url\n    status\n    worker\n    finishedAt\n    result { httpStatus title contentLength fetchMs }\n    error { code message }\n  }\n": types.CompletionFieldsFragmentDoc,
    "\n  subscription Completions {\n    taskDone { ...CompletionFields }\n  }\n": types.CompletionsDocument,
    "\n  subscription SubmissionProgress($submissionId: ID!) {\n    taskDone(submissionId: $submissionId) { id status }\n  }\n": types.SubmissionProgressDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment TaskFields on Task {\n    id\n    submissionId\n    url\n    status\n    done\n    attempts\n    worker\n    createdAt\n    startedAt\n    finishedAt\n    result { httpStatus finalUrl contentType contentLength title linkCount fetchMs parseMs }\n    error { code message }\n  }\n"): typeof import('./graphql.js').TaskFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SubmitCrawl($urls: [String!]!, $options: CrawlOptions) {\n    submitCrawl(urls: $urls, options: $options) { id tasks { id } }\n  }\n"): typeof import('./graphql.js').SubmitCrawlDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Crawl($url: String!, $options: CrawlOptions, $timeoutMs: Int) {\n    crawl(url: $url, options: $options, timeoutMs: $timeoutMs) { ...TaskFields }\n  }\n"): typeof import('./graphql.js').CrawlDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CancelTask($id: ID!) {\n    cancelTask(id: $id) { ...TaskFields }\n  }\n"): typeof import('./graphql.js').CancelTaskDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query TaskById($id: ID!) {\n    task(id: $id) { ...TaskFields }\n  }\n"): typeof import('./graphql.js').TaskByIdDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Tasks($status: TaskStatus, $first: Int, $after: ID) {\n    tasks(status: $status, first: $first, after: $after) { ...TaskFields }\n  }\n"): typeof import('./graphql.js').TasksDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Result($id: ID!, $timeoutMs: Int) {\n    result(id: $id, timeoutMs: $timeoutMs) { ...TaskFields }\n  }\n"): typeof import('./graphql.js').ResultDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Batch($ids: [ID!], $submissionId: ID, $timeoutMs: Int, $returnWhen: ReturnWhen) {\n    batch(ids: $ids, submissionId: $submissionId, timeoutMs: $timeoutMs, returnWhen: $returnWhen) {\n      complete done notDone tasks { ...TaskFields }\n    }\n  }\n"): typeof import('./graphql.js').BatchDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SubmissionCounts($submissionId: ID!) {\n    batch(submissionId: $submissionId, timeoutMs: 0) { done notDone }\n  }\n"): typeof import('./graphql.js').SubmissionCountsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Pool {\n    pool {\n      threads concurrencyPerThread inFlight pending running succeeded failed cancelled\n      instances { id hostName threads inFlight lastHeartbeat }\n    }\n  }\n"): typeof import('./graphql.js').PoolDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription TaskDone($ids: [ID!], $submissionId: ID) {\n    taskDone(ids: $ids, submissionId: $submissionId) { ...TaskFields }\n  }\n"): typeof import('./graphql.js').TaskDoneDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment CompletionFields on Task {\n    id\n    submissionId\n    url\n    status\n    worker\n    finishedAt\n    result { httpStatus title contentLength fetchMs }\n    error { code message }\n  }\n"): typeof import('./graphql.js').CompletionFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription Completions {\n    taskDone { ...CompletionFields }\n  }\n"): typeof import('./graphql.js').CompletionsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription SubmissionProgress($submissionId: ID!) {\n    taskDone(submissionId: $submissionId) { id status }\n  }\n"): typeof import('./graphql.js').SubmissionProgressDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

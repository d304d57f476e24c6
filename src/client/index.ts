/**
 * crawlq's typed client, for the CLI, the dashboard, the benchmark and tests: one way to call the API.
 *
 * ```ts
 * import WebSocket from "ws"; // in a browser, leave webSocketImpl out: the global WebSocket is used
 *
 * const client = createCrawlqClient({ url: "http://127.0.0.1:4000/graphql", key: process.env.CRAWLQ_API_KEY, webSocketImpl: WebSocket });
 * const { submitCrawl } = await client.request(SubmitCrawl, { urls: ["https://example.com/"] });
 * await followSubmission(client, submitCrawl.id, { onTask: (task) => console.log(task.status, task.url) });
 * await client.close();
 * ```
 */
export { createCrawlqClient, type ConnectionEvent, type CrawlqClient, type CrawlqClientOptions, type Operation, type SubscriptionSink } from "./client.js";
export { CrawlqClientError, CrawlqConnectionError, type GraphQLErrorPayload, type InvalidInput } from "./errors.js";
export { followCompletions, followSubmission, submissionSize, type DoneTask, type FollowOptions } from "./follow.js";
export * from "./operations.js";
export * from "./export-format.js";
export type * from "./generated/graphql.js";

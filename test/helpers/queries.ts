import type { Operation } from "../../src/client/client.js";
import { TaskFieldsFragmentDoc, type SubmitCrawlMutationVariables, type TaskFieldsFragment } from "../../src/client/generated/graphql.js";

// The tests send the typed client's operations (src/client/operations.ts: Batch, Result, TaskById, TaskDone, …).
// What is here is what the client does not ask for.

/** A task as the typed client reads it (its TaskFields fragment). */
export type TaskView = TaskFieldsFragment;

/**
 * submitCrawl answering with every field of the tasks it acknowledges, where the client's SubmitCrawl asks
 * for their ids only: for tests that check the acknowledged rows, or use their URLs and submission at once.
 */
export const SUBMIT = `mutation SubmitWithTasks($urls: [String!]!, $options: CrawlOptions) {
  submitCrawl(urls: $urls, options: $options) { id tasks { ...TaskFields } }
}
${String(TaskFieldsFragmentDoc)}` as unknown as Operation<SubmitData, SubmitCrawlMutationVariables>;

export type SubmitData = { submitCrawl: { id: string; tasks: TaskView[] } };

import type { CrawlqClient } from "./client.js";
import { CrawlqClientError, CrawlqConnectionError } from "./errors.js";
import type { TaskFieldsFragment } from "./generated/graphql.js";
import { SubmissionCounts, TaskDone } from "./operations.js";

/** A done task, as `taskDone` sends it. */
export type DoneTask = TaskFieldsFragment;

// Errors after which subscribing again gets the rest: the stream fell behind (the done tasks come first
// again), the server is going down (another is coming up), or a cap or rate limit that clears with time.
const RESUBSCRIBE_ON = new Set(["SLOW_SUBSCRIBER", "SHUTTING_DOWN", "RATE_LIMITED", "TOO_MANY_SUBSCRIPTIONS"]);

export interface FollowOptions {
  /** Called once per task, when it is done (SUCCEEDED, FAILED or CANCELLED), in completion order. */
  onTask: (task: DoneTask) => void;
  /** The submission's size when known (submitCrawl's answer); otherwise it is asked once. */
  total?: number;
  /** Told each time the stream is opened again, and why. */
  onResubscribe?: (why: string) => void;
  /** Subscribing again this many times in a row without receiving a task gives up (default 20). */
  maxFruitlessResubscribes?: number;
}

/**
 * Follows a submission until every task is done, reporting each task exactly once, whatever happens to
 * the connection. `taskDone(submissionId)` sends the tasks already done first, so after any interruption
 * (graphql-ws reconnecting on its own, the server ending the stream at shutdown, SLOW_SUBSCRIBER) a new
 * subscription gets everything that was missed, and tasks seen before are dropped by id. Without polling:
 * the submission's size tells when it is over.
 */
export async function followSubmission(client: CrawlqClient, submissionId: string, options: FollowOptions): Promise<void> {
  const total = options.total ?? (await submissionSize(client, submissionId));
  const seen = new Set<string>();
  await keepStreaming(client, { submissionId }, {
    onTask: (task) => {
      if (seen.has(task.id)) return false;
      seen.add(task.id);
      options.onTask(task);
      return true;
    },
    finished: () => seen.size >= total,
    onResubscribe: options.onResubscribe,
    maxFruitless: options.maxFruitlessResubscribes ?? 20,
  });
}

/**
 * Every completion the caller may see, from now on, until `signal` aborts (or an error that a new
 * subscription cannot mend). A stream the server ends (shutdown) is opened again; completions while no
 * stream was open are not sent again.
 */
export async function followCompletions(
  client: CrawlqClient,
  onTask: (task: DoneTask) => void,
  options: { signal?: AbortSignal; onResubscribe?: (why: string) => void } = {},
): Promise<void> {
  await keepStreaming(client, {}, {
    onTask: (task) => {
      onTask(task);
      return true;
    },
    finished: () => options.signal?.aborted === true,
    signal: options.signal,
    onResubscribe: options.onResubscribe,
    maxFruitless: Infinity,
  });
}

/**
 * `taskDone` with `variables`, subscribed again after every end until `finished()`: at once after an end
 * that brought something, else after a growing pause (or the server's retryAfterMs).
 */
async function keepStreaming(
  client: CrawlqClient,
  variables: { submissionId?: string },
  how: {
    /** True when the task was new. */
    onTask: (task: DoneTask) => boolean;
    finished: () => boolean;
    onResubscribe: ((why: string) => void) | undefined;
    maxFruitless: number;
    signal?: AbortSignal;
  },
): Promise<void> {
  let fruitless = 0;
  while (!how.finished()) {
    let received = false;
    const ended = await streamOnce(client, variables, (task) => {
      if (how.onTask(task)) received = true;
    }, how.signal);
    if (how.finished()) return;
    if (ended !== null && !(ended instanceof CrawlqClientError && RESUBSCRIBE_ON.has(ended.code))) throw ended;
    fruitless = received ? 0 : fruitless + 1;
    if (fruitless > how.maxFruitless) {
      throw new CrawlqConnectionError(client.url, `the taskDone stream ended ${fruitless} times in a row without a task`);
    }
    how.onResubscribe?.(ended === null ? "the server ended the stream early" : `${ended.code}: ${ended.message}`);
    await sleep(ended instanceof CrawlqClientError && ended.retryAfterMs !== undefined ? ended.retryAfterMs : backoffMs(fruitless));
  }
}

/** How many tasks the submission has (NOT_FOUND for an unknown one, or another key's). */
export async function submissionSize(client: CrawlqClient, submissionId: string): Promise<number> {
  const { batch } = await client.request(SubmissionCounts, { submissionId });
  return batch.done + batch.notDone;
}

/** One `taskDone` subscription to its end: null when the server completed it, else the error that ended it. */
function streamOnce(
  client: CrawlqClient,
  variables: { submissionId?: string },
  onTask: (task: DoneTask) => void,
  signal?: AbortSignal,
): Promise<CrawlqClientError | CrawlqConnectionError | null> {
  return new Promise((resolve) => {
    const stop = client.subscribe(TaskDone, variables, {
      next: (data) => onTask(data.taskDone),
      error: (error) => finish(error),
      complete: () => finish(null),
    });
    const onAbort = () => {
      stop();
      finish(null);
    };
    const finish = (outcome: CrawlqClientError | CrawlqConnectionError | null) => {
      signal?.removeEventListener("abort", onAbort);
      resolve(outcome);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function backoffMs(attempt: number): number {
  return attempt === 0 ? 0 : Math.min(250 * 2 ** (attempt - 1), 5000);
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Submitting /bench pages and receiving their completions, for every scenario that goes through the
 * service: the submitCrawl mutation, one graphql-ws subscriber to every `taskDone`, and the check of
 * each result against what the fixture serves.
 */
import type { Client } from "graphql-ws";
import { request, type Dispatcher } from "undici";
import { expectedBenchPage } from "../testkit/fixture-site.js";
import { gql, wsClient } from "../testkit/graphql-client.js";
import { sleep, within } from "./measure.js";

export interface DoneEvent {
  id: string;
  submissionId: string;
  status: string;
  startedAt?: string | null;
  finishedAt: string;
  result: { title: string | null; linkCount: number; contentLength: number; fetchMs?: number; parseMs?: number } | null;
}
export interface Received {
  event: DoneEvent;
  /** Date.now() at receipt: the service stamps finishedAt with Date.now() on the same machine. */
  at: number;
  /** performance.now() at receipt. */
  perf: number;
}

const TASK_DONE = `subscription { taskDone { id submissionId status startedAt finishedAt result { title linkCount contentLength fetchMs parseMs } } }`;
const SUBMIT = `mutation ($urls: [String!]!) { submitCrawl(urls: $urls) { id tasks { id } } }`;

/** One graphql-ws subscriber to every completion, opened once; runs hand it the submissions they wait for. */
export class CompletionWatcher {
  readonly #client: Client;
  readonly #bySubmission = new Map<string, Received[]>();
  readonly #waiters = new Set<() => void>();
  #dispose: (() => void) | null = null;
  errors: unknown[] = [];

  constructor(url: string) {
    this.#client = wsClient(url);
  }

  /** Subscribes and resolves once the server has acknowledged the subscription (a first event is not needed). */
  async open(): Promise<void> {
    const acked = new Promise<void>((resolve) => this.#client.on("connected", () => resolve()));
    this.#dispose = this.#client.subscribe<{ taskDone: DoneEvent }>(
      { query: TASK_DONE },
      {
        next: (value) => {
          const at = Date.now();
          const perf = performance.now();
          if (value.errors) return void this.errors.push(value.errors);
          const event = value.data!.taskDone;
          let list = this.#bySubmission.get(event.submissionId);
          if (!list) this.#bySubmission.set(event.submissionId, (list = []));
          list.push({ event, at, perf });
          for (const wake of [...this.#waiters]) wake();
        },
        error: (error) => this.errors.push(error),
        complete: () => {},
      },
    );
    await within(10_000, "graphql-ws connection", acked);
    // graphql-ws has no "subscribed" acknowledgement; give the server a moment to run the subscribe resolver.
    await sleep(200);
  }

  received(submissionId: string): Received[] {
    return this.#bySubmission.get(submissionId) ?? [];
  }

  forget(submissionId: string): void {
    this.#bySubmission.delete(submissionId);
  }

  /** Resolves once `count` completions of the submissions have arrived; rejects at the deadline. */
  async waitFor(submissionIds: string[], count: number, timeoutMs: number): Promise<void> {
    const total = () => submissionIds.reduce((sum, id) => sum + this.received(id).length, 0);
    if (total() >= count) return;
    await within(
      timeoutMs,
      `waiting for ${count} completions (got ${total()})`,
      new Promise<void>((resolve) => {
        const check = () => {
          if (total() < count) return;
          this.#waiters.delete(check);
          resolve();
        };
        this.#waiters.add(check);
      }),
    ).catch((error: Error) => {
      throw new Error(`${error.message}; got ${total()}`);
    });
  }

  async close(): Promise<void> {
    this.#dispose?.();
    await this.#client.dispose();
  }
}

async function gqlOk<T>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const result = await gql<T>(url, query, variables);
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors).slice(0, 500)}`);
  return result.data as T;
}

export async function submit(url: string, urls: string[]): Promise<{ id: string; ids: string[]; ms: number; started: number }> {
  const started = performance.now();
  const data = await gqlOk<{ submitCrawl: { id: string; tasks: Array<{ id: string }> } }>(url, SUBMIT, { urls });
  return {
    id: data.submitCrawl.id,
    ids: data.submitCrawl.tasks.map((t) => t.id),
    ms: performance.now() - started,
    started,
  };
}

/** The most URLs one submitCrawl carries (the service's default CRAWLQ_MAX_URLS_PER_SUBMISSION). */
export const MAX_PER_MUTATION = 10_000;

/**
 * Submits `urls` in mutations of at most `perMutation`, one after another: each submission (id and task
 * ids, in URL order), all submission and task ids, when the first began (performance.now()) and how long
 * it took to be acknowledged.
 */
export async function submitAll(url: string, urls: readonly string[], perMutation = MAX_PER_MUTATION) {
  const subs: Array<Awaited<ReturnType<typeof submit>>> = [];
  for (let i = 0; i < urls.length; i += perMutation) subs.push(await submit(url, urls.slice(i, i + perMutation)));
  return {
    submissions: subs.map((s) => ({ id: s.id, ids: s.ids })),
    ids: subs.map((s) => s.id),
    taskIds: subs.flatMap((s) => s.ids),
    started: subs[0]!.started,
    ms: subs[0]!.ms,
  };
}

const RESULT = `query ($id: ID!, $timeoutMs: Int) { result(id: $id, timeoutMs: $timeoutMs) { id status finishedAt result { title linkCount contentLength } } }`;

/**
 * One blocking `result(id)` call over HTTP with undici.request (rather than fetch: fetch's own cost per
 * answer, ~0.6 ms, would queue answers on this process's event loop and count in their latency).
 * Resolves with the task and its receipt time; rejects on a GraphQL error or when `signal` aborts.
 */
export async function requestResult(
  url: string,
  id: string,
  options: { dispatcher: Dispatcher; timeoutMs?: number; signal?: AbortSignal },
): Promise<Received> {
  const response = await request(url, {
    method: "POST",
    dispatcher: options.dispatcher,
    signal: options.signal,
    headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
    body: JSON.stringify({ query: RESULT, variables: { id, timeoutMs: options.timeoutMs ?? null } }),
  });
  const text = await response.body.text();
  const at = Date.now();
  const perf = performance.now();
  const body = JSON.parse(text) as { data?: { result: DoneEvent }; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(`result(${id}): ${text.slice(0, 300)}`);
  return { event: body.data.result, at, perf };
}

let pageSerial = 0;
/**
 * `count` /bench/:n URLs of `origin` (of each origin in turn, given several), with page numbers no
 * earlier call of the run has used.
 */
export const benchUrls = (origin: string | readonly string[], count: number) => {
  const origins = typeof origin === "string" ? [origin] : origin;
  const first = pageSerial;
  pageSerial += count;
  return Array.from({ length: count }, (_, i) => ({ url: `${origins[i % origins.length]}/bench/${first + i}`, n: first + i }));
};
/** The page number the next benchUrls call starts at. */
export const nextBenchPage = () => pageSerial;

/** Checks each completion against what the fixture serves; returns a description of the first few problems. */
export function checkPages(received: Received[], idToPage: Map<string, number>): string[] {
  const problems: string[] = [];
  for (const { event } of received) {
    const n = idToPage.get(event.id);
    if (n === undefined) continue;
    const want = expectedBenchPage(n);
    const got = event.result;
    if (event.status !== "SUCCEEDED" || !got || got.title !== want.title || got.linkCount !== want.linkCount || got.contentLength !== want.contentLength) {
      problems.push(`task ${event.id} (/bench/${n}): ${event.status} ${JSON.stringify(got)}`);
    }
  }
  return problems;
}

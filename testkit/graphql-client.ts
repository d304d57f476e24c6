import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import type { Operation } from "../src/client/client.js";

export interface GraphQLResponse<T = any> {
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, any> }>;
}

/**
 * An operation's text: a typed document of src/client/operations.ts (its result and variables then typed),
 * or a string (for what the typed client never sends: odd, partial or malformed operations).
 */
export type Document<TResult, TVariables> = string | Operation<TResult, TVariables>;

/** One GraphQL operation over HTTP POST with fetch. */
export async function gql<TResult = any, TVariables = Record<string, unknown>>(
  url: string,
  query: Document<TResult, TVariables>,
  variables?: TVariables,
): Promise<GraphQLResponse<TResult>> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
    body: JSON.stringify({ query: String(query), variables: variables ?? {} }),
  });
  return (await response.json()) as GraphQLResponse<TResult>;
}

/** Like gql, but fails the test on any GraphQL error. */
export async function gqlData<TResult = any, TVariables = Record<string, unknown>>(
  url: string,
  query: Document<TResult, TVariables>,
  variables?: TVariables,
): Promise<TResult> {
  const result = await gql(url, query, variables);
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data as TResult;
}

/** A graphql-ws client on the same /graphql path. */
export function wsClient(url: string): Client {
  return createWsClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
}

/** Collects every payload of one subscription until it completes (or errors). */
export interface Collected<T> {
  items: T[];
  errors: unknown[];
  /** Resolves when the server completes the stream. */
  completed: Promise<void>;
  /** Resolves once at least n items have arrived. */
  waitFor: (n: number) => Promise<void>;
  dispose: () => void;
}

function collector<T>(): Collected<T> & { push: (t: T) => void; fail: (e: unknown) => void; complete: () => void } {
  const items: T[] = [];
  const errors: unknown[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let complete!: () => void;
  const completed = new Promise<void>((resolve) => (complete = resolve));
  const check = () => {
    for (const w of [...waiters]) if (items.length >= w.n) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  return {
    items,
    errors,
    completed,
    waitFor: (n) => new Promise<void>((resolve) => {
      waiters.push({ n, resolve });
      check();
    }),
    dispose: () => {},
    push: (t) => {
      items.push(t);
      check();
    },
    fail: (e) => {
      errors.push(e);
      complete();
    },
    complete: () => complete(),
  };
}

/** What the graphql-ws and graphql-sse clients have alike. */
interface SubscribingClient {
  subscribe<Data>(
    payload: { query: string; variables: Record<string, unknown> },
    sink: { next: (value: { data?: Data | null; errors?: readonly unknown[] }) => void; error: (error: unknown) => void; complete: () => void },
  ): () => void;
}

/** One subscription's payloads, the `field` of each collected; `release` runs once it ends or is disposed. */
function collect<TResult, TVariables, K extends keyof TResult>(
  client: SubscribingClient,
  query: Operation<TResult, TVariables>,
  field: K,
  variables: TVariables | undefined,
  release: () => void = () => {},
): Collected<TResult[K]> {
  const c = collector<TResult[K]>();
  const dispose = client.subscribe<TResult>(
    { query: String(query), variables: (variables ?? {}) as Record<string, unknown> },
    {
      next: (value) => (value.errors ? c.fail(value.errors) : c.push(value.data![field]!)),
      error: (error) => c.fail(error),
      complete: () => {
        c.complete();
        release();
      },
    },
  );
  c.dispose = () => {
    dispose();
    release();
  };
  return c;
}

/** Subscribes over WebSocket (graphql-ws) and collects the `field` of each payload. */
export function subscribeWs<R, V, K extends keyof R>(client: Client, query: Operation<R, V>, field: K, variables?: V): Collected<R[K]> {
  return collect(client, query, field, variables);
}

/** Subscribes over Server-Sent Events (graphql-sse, distinct connections mode) and collects payloads. */
export function subscribeSse<R, V, K extends keyof R>(url: string, query: Operation<R, V>, field: K, variables?: V): Collected<R[K]> {
  const client = createSseClient({ url, singleConnection: false, retryAttempts: 0 });
  return collect(client, query, field, variables, () => client.dispose());
}

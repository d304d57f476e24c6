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

/** Subscribes over WebSocket (graphql-ws) and collects the `field` of each payload. */
export function subscribeWs<TResult, TVariables, K extends keyof TResult>(
  client: Client,
  query: Operation<TResult, TVariables>,
  field: K,
  variables?: TVariables,
): Collected<TResult[K]> {
  const c = collector<TResult[K]>();
  const dispose = client.subscribe<TResult>(
    { query: String(query), variables: (variables ?? {}) as Record<string, unknown> },
    {
      next: (value) => (value.errors ? c.fail(value.errors) : c.push(value.data![field]!)),
      error: (error) => c.fail(error),
      complete: () => c.complete(),
    },
  );
  c.dispose = dispose;
  return c;
}

/** Subscribes over Server-Sent Events (graphql-sse, distinct connections mode) and collects payloads. */
export function subscribeSse<TResult, TVariables, K extends keyof TResult>(
  url: string,
  query: Operation<TResult, TVariables>,
  field: K,
  variables?: TVariables,
): Collected<TResult[K]> {
  const client = createSseClient({ url, singleConnection: false, retryAttempts: 0 });
  const c = collector<TResult[K]>();
  const dispose = client.subscribe<TResult>(
    { query: String(query), variables: (variables ?? {}) as Record<string, unknown> },
    {
      next: (value) => (value.errors ? c.fail(value.errors) : c.push(value.data![field]!)),
      error: (error) => c.fail(error),
      complete: () => {
        c.complete();
        client.dispose();
      },
    },
  );
  c.dispose = () => {
    dispose();
    client.dispose();
  };
  return c;
}

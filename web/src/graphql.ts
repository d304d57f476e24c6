import { createClient, type Client } from "graphql-ws";
import { askForKey, authorization, fetchWithKey, forgetKey } from "./api-key.ts";

/** The service's GraphQL endpoint, on this page's own origin (the service's Origin check wants that). */
export const ENDPOINT = "/graphql";

/** One GraphQL error as the service sends it. */
export interface GraphQLErrorData {
  message: string;
  extensions?: { code?: string; [key: string]: unknown };
}

/** A GraphQL answer that carried errors. */
export class GraphQLRequestError extends Error {
  readonly errors: readonly GraphQLErrorData[];

  constructor(errors: readonly GraphQLErrorData[]) {
    super(errors.map((e) => (e.extensions?.code ? `${e.extensions.code}: ${e.message}` : e.message)).join("; "));
    this.errors = errors;
  }
}

/** One query or mutation over HTTP POST, with the session's API key (asked for on 401). */
export async function request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetchWithKey(ENDPOINT, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
    body: JSON.stringify({ query, variables }),
  });
  let result: { data?: T | null; errors?: GraphQLErrorData[] };
  try {
    result = (await response.json()) as typeof result;
  } catch {
    throw new Error(`HTTP ${response.status} ${response.statusText}`);
  }
  if (result.errors?.length) throw new GraphQLRequestError(result.errors);
  return result.data as T;
}

/** What the WebSocket is doing, for the page's connection indicator. */
export type ConnectionState = "connecting" | "live" | "reconnecting";

const isUnauthorized = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "code" in error && (error as { code: unknown }).code === 4401;

/**
 * A graphql-ws client on this origin that never gives up: it reconnects after a server restart (or any
 * drop) with a short randomised backoff, and sends the session's key in `connectionParams`.
 */
export function liveClient(onState: (state: ConnectionState) => void): Client {
  const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${ENDPOINT}`;
  return createClient({
    url,
    keepAlive: 10_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    // Anything but a refused key is worth another try (the default gives up on network errors).
    shouldRetry: (error) => !isUnauthorized(error),
    retryWait: (retries) => sleep(Math.min(250 * 2 ** retries, 4_000) * (0.5 + Math.random() / 2)),
    connectionParams: () => {
      const auth = authorization();
      return auth === null ? {} : { authorization: auth };
    },
    on: {
      connecting: (isRetry) => onState(isRetry ? "reconnecting" : "connecting"),
      connected: () => onState("live"),
      closed: () => onState("reconnecting"),
    },
  });
}

/** Handlers of {@link follow}. */
export interface FollowHandlers<T> {
  next: (data: T) => void;
  /**
   * An error: in the stream (e.g. SLOW_SUBSCRIBER) or refusing the operation (NOT_FOUND, a cap). The
   * subscription is made again a second later unless this returns false.
   */
  error?: (error: unknown) => boolean | void;
  /**
   * The stream completed. Return true to subscribe again (the server ends every stream when it shuts
   * down), false to stop.
   */
  complete?: () => boolean;
}

/**
 * A subscription kept open: made again after it completes (if asked), after an error, and after a
 * refused key once a new one is entered. Returns a function that ends it.
 */
export function follow<T>(client: Client, query: string, variables: Record<string, unknown>, handlers: FollowHandlers<T>): () => void {
  let stopped = false;
  let dispose: () => void = () => {};
  const again = (ms: number) => {
    if (!stopped) setTimeout(start, ms);
  };
  const start = () => {
    if (stopped) return;
    dispose = client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          // An error in the stream is followed by its end: complete decides what comes next.
          if (value.errors?.length) handlers.error?.(new GraphQLRequestError(value.errors as GraphQLErrorData[]));
          else if (value.data) handlers.next(value.data as T);
        },
        error: (error) => {
          if (isUnauthorized(error)) {
            forgetKey();
            askForKey("The service needs a valid API key for live updates.").then(() => again(0), () => undefined);
            return;
          }
          const operationErrors = Array.isArray(error) ? new GraphQLRequestError(error as GraphQLErrorData[]) : error;
          if (handlers.error?.(operationErrors) !== false) again(1_000);
        },
        complete: () => {
          if (handlers.complete?.() ?? true) again(250);
        },
      },
    );
  };
  start();
  return () => {
    stopped = true;
    dispose();
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

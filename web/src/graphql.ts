import { createCrawlqClient, type CrawlqClient, type Operation, type SubscriptionSink } from "../../src/client/client.ts";
import { CrawlqClientError, type CrawlqConnectionError } from "../../src/client/errors.ts";
import { askForKey, fetchWithKey, forgetKey, storedKey } from "./api-key.ts";

/** What the WebSocket is doing, for the page's connection indicator. */
export type ConnectionState = "connecting" | "live" | "reconnecting";

/**
 * The typed client (src/client) for the service that served this page, with the session's API key: a 401
 * brings up the key form and the request is tried again with the key entered. Its WebSocket never gives up
 * once it was up: it reconnects after a server restart (or any drop) with a short randomised backoff.
 */
export function dashboardClient(onState: (state: ConnectionState) => void): CrawlqClient {
  return createCrawlqClient({
    // This page's own origin: the service's Origin check wants that.
    url: new URL("/graphql", location.href).href,
    key: storedKey,
    fetch: (input, init) => fetchWithKey(String(input), init ?? {}),
    reconnectAttempts: Number.POSITIVE_INFINITY,
    keepAliveMs: 10_000,
    onConnection: (event) => onState(event === "lost" ? "reconnecting" : "live"),
  });
}

/** Handlers of {@link follow}. */
export interface FollowHandlers<TResult> {
  next: (data: TResult) => void;
  /**
   * An error: in the stream (e.g. SLOW_SUBSCRIBER), refusing the operation (NOT_FOUND, a cap), or a
   * connection that could not be made. The subscription is made again a second later unless this returns
   * false.
   */
  error?: (error: CrawlqClientError | CrawlqConnectionError) => boolean | void;
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
export function follow<TResult, TVariables>(
  client: CrawlqClient,
  operation: Operation<TResult, TVariables>,
  variables: TVariables,
  handlers: FollowHandlers<TResult>,
): () => void {
  const subscribe = client.subscribe as (operation: Operation<TResult, TVariables>, variables: TVariables, sink: SubscriptionSink<TResult>) => () => void;
  let stopped = false;
  let dispose: () => void = () => {};
  const again = (ms: number) => {
    if (!stopped) setTimeout(start, ms);
  };
  const start = () => {
    if (stopped) return;
    dispose = subscribe(operation, variables, {
      next: handlers.next,
      error: (error) => {
        if (error instanceof CrawlqClientError && error.code === "UNAUTHENTICATED") {
          forgetKey();
          askForKey("The service needs a valid API key for live updates.").then(() => again(0), () => undefined);
          return;
        }
        if (handlers.error?.(error) !== false) again(1_000);
      },
      complete: () => {
        if (handlers.complete?.() ?? true) again(250);
      },
    });
  };
  start();
  return () => {
    stopped = true;
    dispose();
  };
}

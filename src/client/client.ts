import type { DocumentTypeDecoration } from "@graphql-typed-document-node/core";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws/client";
import { CrawlqClientError, CrawlqConnectionError, describeNetworkFailure, type GraphQLErrorPayload } from "./errors.js";

/** A typed operation from src/client/operations.ts: its text, and the types of its result and variables. */
export type Operation<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> & { toString(): string };

/** Variables may be left out when the operation has no required one. */
type VariablesArgs<TVariables, TRest extends unknown[]> = {} extends TVariables
  ? [variables?: TVariables, ...rest: TRest]
  : [variables: TVariables, ...rest: TRest];

/** What a subscription reports: each result, then an error or the end. */
export interface SubscriptionSink<TResult> {
  next(data: TResult): void;
  error(error: CrawlqClientError | CrawlqConnectionError): void;
  complete(): void;
}

/** The WebSocket's state, for a client that shows it: lost, then reconnected (or the subscription fails). */
export type ConnectionEvent = "connected" | "lost" | "reconnected";

export interface CrawlqClientOptions {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql (the WebSocket uses the same address as ws:). */
  url: string;
  /**
   * An API key, sent as `Authorization: Bearer KEY` (HTTP) and in connectionParams (WebSocket); a function is
   * asked again for each request and each connection (a key entered later, as in the dashboard).
   */
  key?: string | null | (() => string | null);
  /**
   * A WebSocket that was connected once and drops is opened again, and its subscriptions are sent again,
   * up to this many times in a row (waiting 250 ms, doubling, at most 5 s between tries). Default 30
   * (about two minutes). A first connection that fails is not retried: the server is unreachable.
   */
  reconnectAttempts?: number;
  onConnection?: (event: ConnectionEvent) => void;
  /** fetch to use (tests, proxies); the global one by default. */
  fetch?: typeof fetch;
  /**
   * The WebSocket class to use; the global `WebSocket` by default (browsers, Node 22). The CLI and the tests
   * pass the `ws` package's: Node 20 has no global one, and ws names the system error when a connection fails.
   */
  webSocketImpl?: unknown;
  /** Sends a ping every this many milliseconds, so that a connection that died silently is noticed. */
  keepAliveMs?: number;
}

/** A typed GraphQL client for crawlq: queries and mutations over HTTP, subscriptions over graphql-ws. */
export interface CrawlqClient {
  readonly url: string;
  /** Runs a query or mutation; resolves with its data, or throws CrawlqClientError / CrawlqConnectionError. */
  request<TResult, TVariables>(
    operation: Operation<TResult, TVariables>,
    ...args: VariablesArgs<TVariables, [options?: { signal?: AbortSignal }]>
  ): Promise<TResult>;
  /** Starts a subscription; returns a function that ends it. Every payload with errors ends it with an error. */
  subscribe<TResult, TVariables>(
    operation: Operation<TResult, TVariables>,
    ...args: VariablesArgs<TVariables, [sink: SubscriptionSink<TResult>]>
  ): () => void;
  /** Closes the WebSocket, if one was opened; subscriptions end, and new ones fail at once. */
  close(): Promise<void>;
}

const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_NORMAL = 1000;

/** Creates a client; nothing is connected until the first request or subscription. */
export function createCrawlqClient(options: CrawlqClientOptions): CrawlqClient {
  const { url, key } = options;
  const fetchImpl = options.fetch ?? fetch;
  const authorization = (): string | null => {
    const current = typeof key === "function" ? key() : key;
    return current ? `Bearer ${current}` : null;
  };
  let ws: WsClient | null = null;
  let closed = false;

  const request = async <TResult, TVariables>(
    operation: Operation<TResult, TVariables>,
    variables?: TVariables,
    init: { signal?: AbortSignal } = {},
  ): Promise<TResult> => {
    let response: Response;
    let text: string;
    const auth = authorization();
    try {
      response = await fetchImpl(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/graphql-response+json, application/json",
          ...(auth ? { authorization: auth } : {}),
        },
        body: JSON.stringify({ query: operation.toString(), variables: variables ?? {} }),
        signal: init.signal,
      });
      text = await response.text();
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw new CrawlqConnectionError(url, describeNetworkFailure(error), { cause: error });
    }
    let body: { data?: TResult | null; errors?: GraphQLErrorPayload[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new CrawlqClientError(`HTTP_${response.status}`, `HTTP ${response.status} ${response.statusText}: the answer is not GraphQL`, {
        status: response.status,
      });
    }
    if (body.errors?.length) throw CrawlqClientError.fromErrors(body.errors, response.status);
    if (body.data == null) throw new CrawlqClientError(`HTTP_${response.status}`, `HTTP ${response.status}: an answer without data`, { status: response.status });
    return body.data;
  };

  const socket = (): WsClient => {
    if (ws) return ws;
    const maxAttempts = options.reconnectAttempts ?? 30;
    let connectedOnce = false;
    let live = false;
    // Reported once per outage: from the first drop (or failed try) until a connection is up again.
    let lost = false;
    const reportLost = () => {
      if (lost) return;
      lost = true;
      options.onConnection?.("lost");
    };
    ws = createWsClient({
      url: url.replace(/^http/, "ws"),
      webSocketImpl: options.webSocketImpl,
      connectionParams: () => {
        const auth = authorization();
        return auth ? { authorization: auth } : {};
      },
      keepAlive: options.keepAliveMs,
      retryAttempts: maxAttempts,
      retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** retries, 5000) + Math.random() * 250)),
      // A server that was never reached is unreachable: fail now. One that was is coming back (a restart).
      shouldRetry: () => connectedOnce,
      on: {
        connected: (_socket, _payload, wasRetry) => {
          options.onConnection?.(wasRetry || lost ? "reconnected" : "connected");
          connectedOnce = live = true;
          lost = false;
        },
        closed: (event) => {
          const wasLive = live;
          live = false;
          // graphql-ws closes an idle socket itself (1000) once its last subscription ends, as every stream
          // does when the server shuts down; nothing is lost until the next try to connect fails. Before a
          // first connection, a refused or unauthorized one is the subscription's error, not a loss.
          if (wasLive && (event as { code?: number }).code === CLOSE_NORMAL) return;
          if (connectedOnce) reportLost();
        },
      },
    });
    return ws;
  };

  const subscribe = <TResult, TVariables>(
    operation: Operation<TResult, TVariables>,
    variables: TVariables | undefined,
    sink: SubscriptionSink<TResult>,
  ): (() => void) => {
    if (closed) {
      queueMicrotask(() => sink.error(new CrawlqConnectionError(url, "the client was closed")));
      return () => {};
    }
    let ended = false;
    const end = (error?: CrawlqClientError | CrawlqConnectionError) => {
      if (ended) return;
      ended = true;
      dispose();
      if (error) sink.error(error);
      else sink.complete();
    };
    const dispose = socket().subscribe<TResult>(
      { query: operation.toString(), variables: (variables ?? {}) as Record<string, unknown> },
      {
        next: (value) => {
          if (ended) return;
          if (value.errors?.length) return end(CrawlqClientError.fromErrors(value.errors as GraphQLErrorPayload[]));
          if (value.data != null) sink.next(value.data);
        },
        error: (error) => end(subscriptionError(url, error)),
        complete: () => end(),
      },
    );
    return () => {
      ended = true;
      dispose();
    };
  };

  return {
    url,
    request: request as CrawlqClient["request"],
    subscribe: subscribe as CrawlqClient["subscribe"],
    async close() {
      closed = true;
      await ws?.dispose();
      ws = null;
    },
  };
}

/** What graphql-ws reports as a subscription's error, as ours: GraphQL errors, a close event, or a socket error. */
function subscriptionError(url: string, error: unknown): CrawlqClientError | CrawlqConnectionError {
  if (Array.isArray(error)) return CrawlqClientError.fromErrors(error as GraphQLErrorPayload[]);
  if (typeof error === "object" && error !== null && "code" in error && "reason" in error) {
    const { code, reason } = error as { code: number; reason: string };
    if (code === CLOSE_UNAUTHORIZED) return new CrawlqClientError("UNAUTHENTICATED", reason || "A valid API key is required");
    return new CrawlqConnectionError(url, `the WebSocket closed (${code}${reason ? ` ${reason}` : ""})`);
  }
  return new CrawlqConnectionError(url, describeNetworkFailure(error), { cause: error });
}

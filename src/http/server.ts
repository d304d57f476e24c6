import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionArgs } from "graphql";
import { createGraphQLError } from "graphql-yoga";
import type { OperationResult } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer, type WebSocket } from "ws";
import type { Caller, KeyStore } from "../auth/api-keys.js";
import { QuotaExceededError } from "../limits/quotas.js";
import type { Logger } from "../logger.js";
import { CrawlqError } from "../tasks/errors.js";
import { authenticate, bearerToken, UnauthenticatedError } from "./auth.js";
import { createRequestGuard, type RequestGuardOptions } from "./request-guard.js";
import { isGraphQLError, withCode } from "./coded-errors.js";
import type { CrawlqYoga } from "./yoga.js";

/** What the HTTP server checks itself (the rest is in Yoga): WebSocket upgrades, keys, message size, caps. */
export interface HttpServerOptions {
  guard: RequestGuardOptions;
  keys: KeyStore;
  /** Largest WebSocket message, as for an HTTP request body. */
  maxRequestBodyBytes: number;
  maxSubscriptionsPerConnection: number;
  logger: Logger;
}

type EnvelopedRoot = { execute: (args: ExecutionArgs) => OperationResult; subscribe: (args: ExecutionArgs) => OperationResult };

/**
 * One HTTP server for GraphQL over HTTP, SSE (both Yoga) and WebSocket (graphql-ws, same path).
 * WebSocket operations go through `yoga.getEnveloped`, so they get the same context, error masking and
 * plugins as HTTP ones; upgrades pass the same Host and Origin checks as HTTP requests.
 */
export class HttpServer {
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #sockets = new Set<Socket>();
  readonly #disposeWs: () => Promise<void> | void;

  constructor(yoga: CrawlqYoga, options: HttpServerOptions) {
    const { keys, maxSubscriptionsPerConnection } = options;
    this.#server = createServer(yoga);
    this.#server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
    });
    const guard = createRequestGuard(options.guard);
    this.#wss = new WebSocketServer({
      server: this.#server,
      path: yoga.graphqlEndpoint,
      maxPayload: options.maxRequestBodyBytes,
      // A browser page on another origin (or a rebound host name) may open a WebSocket: CORS does not apply.
      verifyClient: ({ req }, done) => {
        const refusal = guard.check(req.headers.host, req.headers.origin);
        if (refusal === null) done(true);
        else done(false, refusal.status, refusal.message);
      },
    });
    // One abort signal per WebSocket: a wait (result, batch) asked over it ends when the socket closes.
    const closed = new WeakMap<WebSocket, AbortSignal>();
    const signalOf = (socket: WebSocket): AbortSignal => {
      let signal = closed.get(socket);
      if (!signal) {
        const controller = new AbortController();
        socket.once("close", () => controller.abort());
        signal = controller.signal;
        closed.set(socket, signal);
      }
      return signal;
    };
    // Who each socket is, found once when it connects (connectionParams or the upgrade's Authorization header).
    const callers = new WeakMap<WebSocket, Caller | null>();
    // The subscription operations each socket has open (a cap per connection).
    const openSubscriptions = new WeakMap<WebSocket, Set<string>>();
    const ended = (socket: WebSocket, id: string) => openSubscriptions.get(socket)?.delete(id);
    const ws = useServer(
      {
        onConnect: async (ctx) => {
          const params = ctx.connectionParams ?? {};
          const presented = params.authorization ?? params.Authorization ?? ctx.extra.request.headers.authorization;
          try {
            callers.set(ctx.extra.socket, await authenticate(keys, bearerToken(presented)));
            return true;
          } catch (error) {
            if (!(error instanceof UnauthenticatedError)) throw error;
            ctx.extra.socket.close(4401, "Unauthorized: a valid API key is required");
            return false;
          }
        },
        onComplete: (ctx, id) => void ended(ctx.extra.socket, id),
        onError: (ctx, id) => void ended(ctx.extra.socket, id),
        execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
        subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
        onSubscribe: async (ctx, id, params) => {
          const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
            ...ctx,
            req: ctx.extra.request,
            socket: ctx.extra.socket,
            signal: signalOf(ctx.extra.socket),
            caller: callers.get(ctx.extra.socket) ?? null,
            params,
          });
          let document: DocumentNode;
          let errors: readonly GraphQLError[];
          try {
            document = parse(params.query);
            errors = validate(schema, document);
          } catch (error) {
            // A syntax error or a limit (tokens, depth, ...) is this operation's error message, as over HTTP;
            // the socket and its other operations go on.
            if (isGraphQLError(error)) return [withCode(error, "GRAPHQL_PARSE_FAILED")];
            throw error;
          }
          if (errors.length > 0) return errors;
          // graphql-ws would answer this with an uncoded "Unable to identify operation"; HTTP's answer instead.
          const operation = getOperationAST(document, params.operationName);
          if (!operation) {
            return [createGraphQLError("Could not determine what operation to execute.", { extensions: { code: "OPERATION_RESOLUTION_FAILURE" } })];
          }
          let contextValue: unknown;
          try {
            contextValue = await contextFactory();
          } catch (error) {
            // Refused while building the context (RATE_LIMITED, …): this operation's error, not the socket's.
            if (error instanceof CrawlqError) return [asGraphQLError(error)];
            throw error;
          }
          if (operation.operation === "subscription") {
            const open = openSubscriptions.get(ctx.extra.socket) ?? new Set<string>();
            if (open.size >= maxSubscriptionsPerConnection) {
              return [asGraphQLError(new QuotaExceededError("TOO_MANY_SUBSCRIPTIONS", "subscriptions", maxSubscriptionsPerConnection, "connection"))];
            }
            openSubscriptions.set(ctx.extra.socket, open.add(id));
          }
          return { schema, operationName: params.operationName, document, variableValues: params.variables, contextValue,
            rootValue: { execute, subscribe } };
        },
      },
      this.#wss,
    );
    this.#disposeWs = () => ws.dispose();
    // graphql-ws prints every socket error, a stack included, on stderr. ws has already closed the socket
    // (1009 for a message over maxPayload, 1002 for a protocol error): a client's doing, logged at debug.
    this.#wss.on("connection", (socket) => {
      socket.removeAllListeners("error");
      socket.on("error", (error: Error & { code?: string }) => {
        options.logger.debug({ code: error.code, message: error.message }, "WebSocket closed on a client error");
      });
    });
  }

  /** Listens; resolves with the bound address (port 0 picks a free port). */
  listen(port: number, host: string): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        const address = this.#server.address();
        if (address === null || typeof address === "string") return reject(new Error("no TCP address"));
        resolve({ host, port: address.port });
      });
    });
  }

  /**
   * Stops accepting connections and closes idle keep-alive ones; returns at once. Requests in flight
   * still answer (e.g. SHUTTING_DOWN); `close` ends whatever is left.
   */
  stopAccepting(): void {
    this.#server.close();
    this.#server.closeIdleConnections();
  }

  /** Ends WebSocket clients (1001 "Going away") and destroys any socket still open. */
  async close(): Promise<void> {
    await this.#disposeWs();
    for (const client of this.#wss.clients) client.close(1001, "Going away");
    this.#wss.close();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** One of our errors as a graphql-ws error message (HTTP-only details left out). */
function asGraphQLError(error: CrawlqError): GraphQLError {
  const { http: _http, ...details } = error.details;
  return createGraphQLError(error.message, { extensions: { ...details, code: error.code } });
}


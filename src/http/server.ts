import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionArgs } from "graphql";
import { createGraphQLError } from "graphql-yoga";
import type { OperationResult } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer, type WebSocket } from "ws";
import { withCode } from "./coded-errors.js";
import type { CrawlqYoga } from "./yoga.js";

type EnvelopedRoot = { execute: (args: ExecutionArgs) => OperationResult; subscribe: (args: ExecutionArgs) => OperationResult };

/**
 * One HTTP server for GraphQL over HTTP, SSE (both Yoga) and WebSocket (graphql-ws, same path).
 * WebSocket operations go through `yoga.getEnveloped`, so they get the same context, error masking and
 * plugins as HTTP ones.
 */
export class HttpServer {
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #sockets = new Set<Socket>();
  readonly #disposeWs: () => Promise<void> | void;

  constructor(yoga: CrawlqYoga) {
    this.#server = createServer(yoga);
    this.#server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
    });
    this.#wss = new WebSocketServer({ server: this.#server, path: yoga.graphqlEndpoint });
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
    const ws = useServer(
      {
        execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
        subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
        onSubscribe: async (ctx, _id, params) => {
          const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
            ...ctx,
            req: ctx.extra.request,
            socket: ctx.extra.socket,
            signal: signalOf(ctx.extra.socket),
            params,
          });
          let document: DocumentNode;
          try {
            document = parse(params.query);
          } catch (error) {
            // A syntax error is this operation's error message, as over HTTP; the socket and its other operations go on.
            // By name as well as by class, as in yoga.ts: under a test runner Yoga's parse may throw another realm's class.
            if (error instanceof GraphQLError || (error instanceof Error && error.name === "GraphQLError")) {
              return [withCode(error as GraphQLError, "GRAPHQL_PARSE_FAILED")];
            }
            throw error;
          }
          const args = {
            schema,
            operationName: params.operationName,
            document,
            variableValues: params.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe },
          };
          const errors = validate(args.schema, args.document);
          if (errors.length > 0) return errors;
          // graphql-ws would answer this with an uncoded "Unable to identify operation"; HTTP's answer instead.
          if (!getOperationAST(document, params.operationName)) {
            return [createGraphQLError("Could not determine what operation to execute.", { extensions: { code: "OPERATION_RESOLUTION_FAILURE" } })];
          }
          return args;
        },
      },
      this.#wss,
    );
    this.#disposeWs = () => ws.dispose();
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

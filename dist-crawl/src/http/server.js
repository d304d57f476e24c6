import { createServer } from "node:http";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
/**
 * One HTTP server for GraphQL over HTTP, SSE (both Yoga) and WebSocket (graphql-ws, same path).
 * WebSocket operations go through `yoga.getEnveloped`, so they get the same context, error masking and
 * plugins as HTTP ones.
 */
export class HttpServer {
    #server;
    #wss;
    #sockets = new Set();
    #disposeWs;
    constructor(yoga) {
        this.#server = createServer(yoga);
        this.#server.on("connection", (socket) => {
            this.#sockets.add(socket);
            socket.once("close", () => this.#sockets.delete(socket));
        });
        this.#wss = new WebSocketServer({ server: this.#server, path: yoga.graphqlEndpoint });
        const ws = useServer({
            execute: (args) => args.rootValue.execute(args),
            subscribe: (args) => args.rootValue.subscribe(args),
            onSubscribe: async (ctx, _id, params) => {
                const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
                    ...ctx,
                    req: ctx.extra.request,
                    socket: ctx.extra.socket,
                    params,
                });
                const args = {
                    schema,
                    operationName: params.operationName,
                    document: parse(params.query),
                    variableValues: params.variables,
                    contextValue: await contextFactory(),
                    rootValue: { execute, subscribe },
                };
                const errors = validate(args.schema, args.document);
                return errors.length > 0 ? errors : args;
            },
        }, this.#wss);
        this.#disposeWs = () => ws.dispose();
    }
    /** Listens; resolves with the bound address (port 0 picks a free port). */
    listen(port, host) {
        return new Promise((resolve, reject) => {
            this.#server.once("error", reject);
            this.#server.listen(port, host, () => {
                const address = this.#server.address();
                if (address === null || typeof address === "string")
                    return reject(new Error("no TCP address"));
                resolve({ host, port: address.port });
            });
        });
    }
    /** Stops accepting connections and lets in-flight HTTP requests answer (e.g. SHUTTING_DOWN). */
    async stopAccepting() {
        await new Promise((resolve) => {
            this.#server.close(() => resolve());
            this.#server.closeIdleConnections();
            resolve();
        });
    }
    /** Ends WebSocket clients (1001 "Going away") and destroys any socket still open. */
    async close() {
        await this.#disposeWs();
        for (const client of this.#wss.clients)
            client.close(1001, "Going away");
        this.#wss.close();
        for (const socket of this.#sockets)
            socket.destroy();
        await new Promise((resolve) => this.#server.close(() => resolve()));
    }
}
//# sourceMappingURL=server.js.map
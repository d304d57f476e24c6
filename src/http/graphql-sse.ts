import { randomUUID } from "node:crypto";
import { useGraphQLSSE } from "@graphql-yoga/plugin-graphql-sse";
import { GraphQLError } from "graphql";
import type { Request as SseRequest, Response as SseResponse } from "graphql-sse";
import type { Plugin } from "graphql-yoga";
import type { KeyStore } from "../auth/api-keys.js";
import type { Logger } from "../logger.js";
import { CrawlqError } from "../tasks/errors.js";
import { authenticate, bearerToken } from "./auth.js";

/** graphql-sse's stream token header and query parameter (graphql-sse/lib/common). */
const TOKEN_HEADER = "x-graphql-event-stream-token";
const TOKEN_QUERY = "token";

/** The shape of the tokens this service hands out (crypto.randomUUID). */
const STREAM_TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * graphql-sse's `authenticate`: the request's token, or a new one for a reservation. Its default makes
 * tokens with Math.random (guessable, and a token is all it takes to add operations to a stream), and
 * takes any string a client sends as a key of a plain object ("toString" found a function there: a 500).
 * A token of another shape names no stream of ours: 404, as for an unknown one.
 */
function streamToken(request: SseRequest): string | SseResponse {
  const sent = request.headers.get(TOKEN_HEADER) || new URL(request.url ?? "", "http://localhost/").searchParams.get(TOKEN_QUERY);
  if (!sent) return randomUUID();
  if (STREAM_TOKEN.test(sent)) return sent;
  const body = JSON.stringify({ errors: [{ message: "No stream has this token" }] });
  return [body, { status: 404, statusText: "Not Found", headers: { "content-type": "application/json; charset=utf-8" } }];
}

/** How long a reserved stream (PUT) waits for its event stream (GET) before it is dropped, by default. */
export const RESERVATION_TTL_MS = 30_000;

/** What the single-connection handler needs besides the endpoint. */
export interface SingleConnectionSseOptions {
  /** Yoga's GraphQL endpoint; both graphql-sse modes are served there. */
  endpoint: string;
  keys: KeyStore;
  /** Largest operation body, as for any HTTP request (413 above it). */
  maxRequestBodyBytes: number;
  logger: Logger;
  /** Defaults to {@link RESERVATION_TTL_MS}. */
  reservationTtlMs?: number;
}

/**
 * True for a request of graphql-sse's single connection mode: the reservation (PUT), and the event stream,
 * operations and stops (GET, POST, DELETE) that carry its token. Everything else, distinct connections
 * mode included (a POST or GET accepting `text/event-stream`, no token), is Yoga's own.
 */
export function isSingleConnectionRequest(request: Request, url: URL): boolean {
  return request.method === "PUT" || request.headers.has(TOKEN_HEADER) || url.searchParams.has(TOKEN_QUERY);
}

/** The `extensions.code` of graphql-sse's own refusals, which have none, by HTTP status. */
const CODES_BY_STATUS: Record<number, string> = {
  400: "BAD_REQUEST",
  404: "STREAM_NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  406: "NOT_ACCEPTABLE",
  409: "CONFLICT",
  415: "UNSUPPORTED_MEDIA_TYPE",
};

/**
 * graphql-sse's single connection mode on the GraphQL endpoint itself (the plugin's default is
 * `/graphql/stream`), next to Yoga's built-in SSE, which already speaks the distinct connections mode.
 *
 * Operations go through `yoga.getEnveloped` (the plugin's doing), so they get the same context, API keys,
 * limits and error masking as HTTP. On top of the plugin:
 * - every request of the mode needs a valid API key while keys exist (401 otherwise), the reservation too;
 * - a refusal raised before execution (a limit, RATE_LIMITED, …) is a coded JSON answer, not a 500;
 * - an operation body is read up to the request body limit (413 above it), as Yoga does;
 * - a reserved stream that is not opened in time ({@link RESERVATION_TTL_MS}) is dropped.
 */
export function useSingleConnectionSse(options: SingleConnectionSseOptions): Plugin {
  const inner = useGraphQLSSE({ endpoint: options.endpoint, authenticate: streamToken });
  const innerOnRequest = inner.onRequest!;
  const forward = (request: Request, serverContext: unknown): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      let answered = false;
      const endResponse = (response: Response) => {
        answered = true;
        resolve(response);
      };
      Promise.resolve(
        innerOnRequest({ request, endResponse, serverContext, url: new URL(request.url) } as unknown as Parameters<typeof innerOnRequest>[0]),
      ).then(() => {
        if (!answered) reject(new Error("graphql-sse did not answer"));
      }, reject);
    });

  /** Reserved streams whose event stream has not been opened yet. */
  const reserved = new Set<string>();
  // Drops a reservation nobody opened: an event stream request whose client has already gone makes
  // graphql-sse dispose of the stream (and forget its token).
  const expire = (request: Request, token: string) => {
    reserved.add(token);
    const timer = setTimeout(() => {
      if (!reserved.delete(token)) return;
      const abandoned = new Request(request.url, {
        headers: { accept: "text/event-stream", [TOKEN_HEADER]: token },
        signal: AbortSignal.abort(),
      });
      forward(abandoned, {}).then((response) => response.body?.cancel(), () => undefined);
    }, options.reservationTtlMs ?? RESERVATION_TTL_MS);
    timer.unref();
  };

  return {
    ...inner,
    async onRequest({ request, url, endResponse, serverContext }) {
      if (url.pathname !== options.endpoint || !isSingleConnectionRequest(request, url)) return;
      const token = request.headers.get(TOKEN_HEADER) ?? url.searchParams.get(TOKEN_QUERY);
      let operationId: string | null = null;
      try {
        await authenticate(options.keys, bearerToken(request.headers.get("authorization")));
        let forwarded = request;
        if (request.method === "POST") {
          const body = await boundedBody(request, options.maxRequestBodyBytes);
          operationId = operationIdIn(body);
          forwarded = new Request(request.url, { method: "POST", headers: request.headers, body: new Uint8Array(body), signal: request.signal });
        }
        const response = await forward(forwarded, serverContext);
        if (request.method === "PUT" && response.status === 201) expire(request, await response.clone().text());
        if (request.method === "GET" && token !== null && response.status === 200) reserved.delete(token);
        endResponse(await coded(response));
      } catch (error) {
        // graphql-sse reserved the operation's id before it failed: free it (DELETE), or the stream keeps it.
        if (token !== null && operationId !== null) {
          const stop = new Request(`${url.origin}${url.pathname}?operationId=${encodeURIComponent(operationId)}`, {
            method: "DELETE",
            headers: { [TOKEN_HEADER]: token },
          });
          await forward(stop, serverContext).catch(() => undefined);
        }
        const answer = refusal(error);
        if (answer.status === 500) options.logger.error({ err: error }, "unexpected error in a graphql-sse request");
        endResponse(answer);
      }
    },
  };
}

/** The request's body, or a 413 refusal thrown once the body passes `max` bytes. */
async function boundedBody(request: Request, max: number): Promise<Buffer> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > max) throw tooLarge(max);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > max) throw tooLarge(max);
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks);
}

/** `extensions.operationId` of an operation body, if it has one. */
function operationIdIn(body: Buffer): string | null {
  try {
    const id = (JSON.parse(body.toString("utf8")) as { extensions?: { operationId?: unknown } }).extensions?.operationId;
    return id == null ? null : String(id);
  } catch {
    return null;
  }
}

function tooLarge(max: number): CrawlqError {
  return new CrawlqError("REQUEST_ENTITY_TOO_LARGE", `Request body is larger than ${max} bytes`, { http: { status: 413 } });
}

/** graphql-sse's JSON refusal with `extensions.code` on each error (every error a client can cause has one). */
async function coded(response: Response): Promise<Response> {
  if (response.ok || !response.headers.get("content-type")?.includes("json")) return response;
  const body = (await response.json()) as { errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
  const code = CODES_BY_STATUS[response.status] ?? "BAD_REQUEST";
  const errors = (body.errors ?? []).map((error) => ({ ...error, extensions: { code, ...error.extensions } }));
  return new Response(JSON.stringify({ errors }), { status: response.status, headers: response.headers });
}

/** A coded JSON error answer, as Yoga gives for the same refusal over plain HTTP. */
function refusal(error: unknown): Response {
  let status = 500;
  let body: { message: string; extensions: Record<string, unknown> };
  if (error instanceof CrawlqError) {
    const { http, ...details } = error.details as { http?: { status?: number; headers?: Record<string, string> } };
    status = http?.status ?? 400;
    body = { message: error.message, extensions: { ...details, code: error.code } };
    return json(status, body, http?.headers);
  }
  if (error instanceof GraphQLError || (error instanceof Error && error.name === "GraphQLError")) {
    const extensions = { ...(error as GraphQLError).extensions };
    delete extensions["http"];
    return json(400, { message: error.message, extensions: { code: "GRAPHQL_PARSE_FAILED", ...extensions } });
  }
  return json(status, { message: "Unexpected error.", extensions: { code: "INTERNAL_SERVER_ERROR" } });
}

function json(status: number, error: object, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ errors: [error] }), {
    status,
    headers: { ...headers, "content-type": "application/json; charset=utf-8" },
  });
}

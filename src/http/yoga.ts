import { setMaxListeners } from "node:events";
import { GraphQLError, type GraphQLSchema } from "graphql";
import { createGraphQLError, createYoga, maskError, type Plugin } from "graphql-yoga";
import type { Logger } from "pino";
import type { Caller, KeyStore } from "../auth/api-keys.js";
import type { GraphQLContext } from "../graphql/context.js";
import type { RateLimits } from "../limits/rate-limits.js";
import { CrawlqError } from "../tasks/errors.js";
import { authenticate, bearerToken } from "./auth.js";
import { isGraphQLError, useCodedRequestErrors } from "./coded-errors.js";
import { useResultExports } from "./exports.js";
import { boundedParserCache, useGenericRequestErrors, useGraphQLLimits, type GraphQLLimits } from "./graphql-limits.js";
import { corsOption, createRequestGuard, useRequestGuard, type RequestGuardOptions } from "./request-guard.js";
import { useHealthEndpoints, type ReadinessCheck } from "./health.js";
import { useSharedSubscriptionExecution } from "./shared-execution.js";
import { graphiqlRenderer, GRAPHIQL_TEMPLATE, useGraphiQLAssets } from "./graphiql.js";
import { useSingleConnectionSse } from "./graphql-sse.js";
import { StaticFiles, useStaticFiles } from "./static-files.js";
import type { Metrics } from "../observability/metrics.js";
import { useMetrics } from "./metrics.js";
import { newRequestId, requestIdOf, useRequestIds } from "./request-id.js";

const EXAMPLE_OPERATION = `# Submit two pages, then watch them finish (run "Watch" in a second tab, or use Collect).
mutation Submit {
  submitCrawl(urls: ["https://example.com/", "https://example.org/"]) {
    id
    tasks { id url status }
  }
}

query Collect($submissionId: ID!) {
  batch(submissionId: $submissionId, timeoutMs: 30000) {
    complete done notDone
    tasks { id url status result { httpStatus title linkCount contentLength } error { code message } }
  }
}

subscription Watch($submissionId: ID!) {
  taskDone(submissionId: $submissionId) {
    id url status worker result { title httpStatus } error { code message }
  }
}

query Pool { pool { threads concurrencyPerThread running pending succeeded failed cancelled } }
`;

/**
 * Our errors keep their message and get `extensions.code`; GraphQL's own (validation, bad variables, the
 * limits) pass through. Both are the client's doing and are logged at debug, without a stack. Everything
 * else is unexpected: logged at error level and masked, so no internals or stack traces reach a client; the
 * masked error carries the request's id (`extensions.requestId`), which its log line carries too.
 */
function errorMasker(logger: Logger) {
  return (error: unknown, message: string, isDev?: boolean): Error => {
    const original = isGraphQLError(error) ? error.originalError : error;
    if (original instanceof CrawlqError) {
      // From a resolver (a GraphQLError wrapping ours, with its path) or from building the context (ours).
      logger.debug(
        { code: original.code, message: original.message, requestId: requestIdOf(error) },
        "client error in a GraphQL operation",
      );
      return createGraphQLError(original.message, {
        nodes: isGraphQLError(error) ? error.nodes : undefined,
        path: isGraphQLError(error) ? error.path : undefined,
        extensions: { ...original.details, code: original.code },
      });
    }
    if (isClientError(error)) {
      logger.debug(
        { code: error.extensions?.["code"], message: error.message, requestId: requestIdOf(error) },
        "client error in a GraphQL operation",
      );
      return error;
    }
    // The operation's id; an error raised outside any operation (building its context) gets one of its own.
    const requestId = requestIdOf(error) ?? newRequestId();
    logger.error({ err: original ?? error, requestId }, "unexpected error in a GraphQL operation");
    const masked = maskError(error, message, isDev);
    if (!isGraphQLError(masked)) return masked;
    return createGraphQLError(masked.message, {
      nodes: masked.nodes,
      source: masked.source,
      positions: masked.positions,
      path: masked.path,
      extensions: { ...masked.extensions, requestId },
    });
  };
}

/**
 * Yoga plugin: validation errors are returned, not thrown, so they never reach errorMasker; log them at
 * debug the same way.
 */
function useValidationErrorLogging(logger: Logger): Plugin {
  return {
    onValidate: () => ({ valid, result }) => {
      if (valid) return;
      for (const error of result) {
        logger.debug(
          { code: error.extensions?.["code"] ?? "GRAPHQL_VALIDATION_FAILED", message: error.message },
          "client error in a GraphQL operation",
        );
      }
    },
  };
}

/** A GraphQLError raised on purpose (by graphql-js, yoga, a limit or a resolver), all the way down. */
function isClientError(error: unknown): error is GraphQLError {
  if (!isGraphQLError(error)) return false;
  return error.originalError == null || isClientError(error.originalError);
}


/** What the per-request context is built from: the parts every request shares. */
export type SharedContext = Omit<GraphQLContext, "caller" | "signal" | "requestId">;

/**
 * The initial context Yoga hands the factory: its own for HTTP and SSE (the request), ours for a
 * WebSocket operation (server.ts: the caller found when the socket connected, and the socket's signal).
 */
type InitialContext = { request?: Request; signal?: AbortSignal; caller?: Caller | null };

const NEVER_ABORTED = new AbortController().signal;

/**
 * Each wait (result, batch, crawl) listens to its request's signal until it ends, and one request (aliases) or
 * one WebSocket (every operation on it) may hold many waits at once: more than 10 is not a leak, so Node's
 * MaxListenersExceededWarning is turned off for this signal.
 */
function sharedByItsWaits(signal: AbortSignal): AbortSignal {
  try {
    setMaxListeners(0, signal);
  } catch {
    // Not a Node EventTarget (a fetch implementation's own signal): nothing to turn off.
  }
  return signal;
}

/** Who may call, and how often. */
export interface Access {
  keys: KeyStore;
  rateLimits: RateLimits;
}

/** The HTTP-facing settings buildYoga needs (Config.http and Config.graphql). */
export interface YogaOptions {
  /** Answers /readyz (see health.ts). */
  ready: ReadinessCheck;
  guard: RequestGuardOptions;
  maxRequestBodyBytes: number;
  limits: GraphQLLimits;
  /** Served at /metrics and told of every operation; null: CRAWLQ_METRICS=0. */
  metrics?: Metrics | null;
}

export function buildYoga(schema: GraphQLSchema, shared: SharedContext, access: Access, logger: Logger, options: YogaOptions) {
  const guard = createRequestGuard(options.guard);
  // One reading of dist/web: the dashboard's files and GraphiQL's page template come from the same build.
  const webFiles = new StaticFiles({ hidden: [GRAPHIQL_TEMPLATE] });
  return createYoga<InitialContext, GraphQLContext>({
    schema,
    // One context per HTTP request and per WebSocket operation: the caller (API keys) and the client's
    // abort signal belong to one request.
    context: async (initial): Promise<GraphQLContext> => {
      const caller =
        initial.caller !== undefined
          ? initial.caller
          : await authenticate(access.keys, bearerToken(initial.request?.headers.get("authorization")));
      await access.rateLimits.operation(caller);
      return {
        ...shared,
        caller,
        signal: sharedByItsWaits(initial.signal ?? initial.request?.signal ?? NEVER_ABORTED),
        requestId: newRequestId(),
      };
    },
    graphqlEndpoint: "/graphql",
    cors: corsOption(guard, options.guard.corsOrigins),
    maxRequestBodySize: options.maxRequestBodyBytes,
    parserAndValidationCache: boundedParserCache(),
    plugins: [
      useRequestIds(),
      useHealthEndpoints(options.ready),
      useRequestGuard(guard, options.guard.corsOrigins.length > 0),
      useResultExports(shared.service, access),
      // Browser tools, after the Host and Origin checks: the dashboard, GraphiQL's code, graphql-sse's
      // single connection mode on /graphql.
      useStaticFiles(webFiles),
      useGraphiQLAssets(),
      useSingleConnectionSse({ endpoint: "/graphql", keys: access.keys, maxRequestBodyBytes: options.maxRequestBodyBytes, logger }),
      ...(options.metrics ? [useMetrics(options.metrics)] : []),
      useGenericRequestErrors(),
      useCodedRequestErrors(),
      ...useGraphQLLimits(options.limits),
      useValidationErrorLogging(logger),
      useSharedSubscriptionExecution(),
    ],
    landingPage: false,
    graphiql: { title: "crawlq", defaultQuery: EXAMPLE_OPERATION, subscriptionsProtocol: "WS" },
    renderGraphiQL: graphiqlRenderer(webFiles),
    maskedErrors: { maskError: errorMasker(logger), isDev: false },
    // No Upload scalar: the multipart (file upload) request parser only adds ways to fail (found by fuzzing:
    // a malformed "map" field was a 500).
    multipart: false,
    logging: {
      debug: (...args) => logger.debug(args.join(" ")),
      info: (...args) => logger.info(args.join(" ")),
      warn: (...args) => logger.warn(args.join(" ")),
      // Yoga reports every GraphQL error here, expected ones too; errorMasker logs the unexpected ones.
      error: (...args) => logger.debug(args.map(String).join(" ")),
    },
  });
}

export type CrawlqYoga = ReturnType<typeof buildYoga>;

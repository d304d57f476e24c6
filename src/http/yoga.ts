import { setMaxListeners } from "node:events";
import { GraphQLError, type GraphQLSchema } from "graphql";
import { createGraphQLError, createYoga, maskError } from "graphql-yoga";
import type { Logger } from "pino";
import type { GraphQLContext } from "../graphql/context.js";
import { CrawlqError } from "../tasks/errors.js";
import { useCodedRequestErrors } from "./coded-errors.js";

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
 * Our errors keep their message and get `extensions.code`; GraphQL's own (validation, bad variables)
 * pass through; everything else is masked so no internals or stack traces reach a client.
 */
function errorMasker(logger: Logger) {
  return (error: unknown, message: string, isDev?: boolean): Error => {
    const original = isGraphQLError(error) ? error.originalError : error;
    if (original instanceof CrawlqError && isGraphQLError(error)) {
      return createGraphQLError(original.message, {
        nodes: error.nodes,
        path: error.path,
        extensions: { ...original.details, code: original.code },
      });
    }
    if (original) logger.error({ err: original }, "unexpected error in a GraphQL operation");
    return maskError(error, message, isDev);
  };
}

// By name as well as by class: a second copy of graphql (its CommonJS and ESM builds, loaded side by side
// by a test runner) makes errors of another realm's class.
function isGraphQLError(error: unknown): error is GraphQLError {
  return error instanceof GraphQLError || (error instanceof Error && error.name === "GraphQLError");
}

/** What the per-request context is built from: the parts every request shares. */
export type SharedContext = Omit<GraphQLContext, "caller" | "signal">;

/** The initial context Yoga hands the factory: its own for HTTP and SSE, ours for WebSocket (server.ts). */
type InitialContext = { request?: Request; signal?: AbortSignal };

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

export function buildYoga(schema: GraphQLSchema, shared: SharedContext, logger: Logger) {
  return createYoga<InitialContext, GraphQLContext>({
    schema,
    // One context per HTTP request and per WebSocket operation: the caller (API keys) and the client's
    // abort signal belong to one request.
    context: (initial): GraphQLContext => ({
      ...shared,
      caller: null,
      signal: sharedByItsWaits(initial.signal ?? initial.request?.signal ?? NEVER_ABORTED),
    }),
    graphqlEndpoint: "/graphql",
    landingPage: false,
    graphiql: { title: "crawlq", defaultQuery: EXAMPLE_OPERATION, subscriptionsProtocol: "WS" },
    maskedErrors: { maskError: errorMasker(logger), isDev: false },
    plugins: [useCodedRequestErrors()],
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

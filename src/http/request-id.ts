import type { Plugin } from "graphql-yoga";
import { currentRequestId, newRequestId, withRequestId } from "../observability/request-id.js";

/**
 * Gives every HTTP request (SSE included), and every WebSocket operation, an id that its log lines carry
 * (`requestId`, see logger.ts) and that a masked error returns in `extensions.requestId`, so a client's
 * report leads to the log line. A WebSocket operation gets its id when it executes or subscribes.
 */
export function useRequestId(): Plugin {
  const operation = <T>(_payload: unknown, run: () => T): T =>
    currentRequestId() === undefined ? withRequestId(newRequestId(), run) : run();
  return {
    instrumentation: {
      request: (_payload, handle) => withRequestId(newRequestId(), handle),
      execute: operation,
      subscribe: operation,
    },
  };
}

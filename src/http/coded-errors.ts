import { GraphQLError, type ExecutionResult } from "graphql";
import { createGraphQLError, type Plugin } from "graphql-yoga";

// By name as well as by class: a second copy of graphql (its CommonJS and ESM builds, loaded side by side by
// a test runner, or graphql-yoga's own) makes errors of another realm's class.
export function isGraphQLError(error: unknown): error is GraphQLError {
  return error instanceof GraphQLError || (error instanceof Error && error.name === "GraphQLError");
}

/** `error` with `extensions.code` set to `code`, unless it already has a code. */
export function withCode(error: GraphQLError, code: string): GraphQLError {
  if (typeof error.extensions?.code === "string") return error;
  return createGraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}

// Errors graphql-js raises before running any resolver (a variable of the wrong type, a missing required
// variable) have no path and no code, and at most a GraphQL error as their cause (by name: see yoga.ts).
const isRequestError = (error: GraphQLError) =>
  error.path === undefined &&
  typeof error.extensions?.code !== "string" &&
  (error.originalError == null || error.originalError.name === "GraphQLError");

const isExecutionResult = (result: unknown): result is ExecutionResult =>
  typeof result === "object" && result !== null && !(Symbol.asyncIterator in result);

/**
 * Every error a client can cause gets a code (README: "Errors carry extensions.code"), on HTTP, SSE and
 * WebSocket alike:
 * variables that do not fit their declared types, or are missing, are BAD_USER_INPUT (Yoga leaves them
 * without a code). Request bodies and parameters that are not JSON are graphql-limits.ts's
 * useGenericRequestErrors.
 */
export function useCodedRequestErrors(): Plugin {
  const codeRequestErrors = ({ result, setResult }: { result: unknown; setResult: (result: ExecutionResult) => void }) => {
    if (!isExecutionResult(result) || !result.errors?.some(isRequestError)) return;
    setResult({ ...result, errors: result.errors.map((e) => (isRequestError(e) ? withCode(e, "BAD_USER_INPUT") : e)) });
  };
  return {
    onExecute: () => ({ onExecuteDone: codeRequestErrors }),
    onSubscribe: () => ({ onSubscribeResult: codeRequestErrors }),
  };
}

import { randomUUID } from "node:crypto";
import type { ExecutionResult, GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";

/** A fresh request id (a UUID). */
export function newRequestId(): string {
  return randomUUID();
}

// The id of the operation each error came from, set before Yoga masks the errors (plugins run in order,
// and Yoga's masking comes after ours), read by errorMasker, which has no access to the context.
const errorRequestIds = new WeakMap<object, string>();

/** The request id of the operation that raised `error`, when it is known. */
export function requestIdOf(error: unknown): string | undefined {
  return typeof error === "object" && error !== null ? errorRequestIds.get(error) : undefined;
}

type Result = ExecutionResult | AsyncIterable<ExecutionResult>;

function tag(result: ExecutionResult, context: unknown): void {
  const requestId = (context as { requestId?: string } | undefined)?.requestId;
  if (requestId === undefined || !result.errors) return;
  for (const error of result.errors as readonly GraphQLError[]) errorRequestIds.set(error, requestId);
}

/**
 * Ties each error of an operation (query, mutation, subscription event) to the operation's `requestId`
 * (a context field: one per HTTP request, one per WebSocket operation), so that errorMasker logs an unexpected
 * error with the id it returns to the client. A few map writes per failed operation, nothing otherwise: no
 * AsyncLocalStorage, whose promise hooks would tax every promise of the process on Node 20 and 22.
 */
export function useRequestIds(): Plugin {
  const onResult = ({ args, result }: { args: { contextValue: unknown }; result: Result }) => {
    if (!(Symbol.asyncIterator in result)) return tag(result, args.contextValue);
    return { onNext: ({ result: next }: { result: ExecutionResult }) => tag(next, args.contextValue) };
  };
  return {
    onExecute: () => ({ onExecuteDone: onResult }),
    onSubscribe: ({ args }) => ({
      onSubscribeResult: onResult,
      onSubscribeError: ({ error }) => {
        const requestId = (args.contextValue as { requestId?: string }).requestId;
        if (requestId !== undefined && typeof error === "object" && error !== null) errorRequestIds.set(error, requestId);
      },
    }),
  };
}

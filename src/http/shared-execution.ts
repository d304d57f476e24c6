import {
  createSourceEventStream,
  execute,
  print,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
} from "graphql";
import type { Plugin } from "graphql-yoga";

/**
 * Fan-out that scales: every subscriber of a completion receives the same event object from the completion
 * bus, so the subscription's selection is executed once per event and distinct selection (document,
 * variables, operation), and the result is shared by every subscriber that asked the same thing.
 *
 * Sharing is sound because no field of a completed Task depends on who asks (ownership decides which
 * events a subscriber gets, upstream, not what they contain).
 */
export function useSharedSubscriptionExecution(): Plugin {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args: ExecutionArgs) => {
        const stream = await createSourceEventStream(args);
        if (!isAsyncIterable(stream)) return stream; // a subscribe resolver failed: its errors
        const selection = selectionKey(args);
        return mapEvents(stream, (event) => executeOnce(event, selection, args));
      });
    },
  };
}

// Event → selection → result. Weak on the event: the entry lives exactly as long as some subscriber still
// holds the completion.
const results = new WeakMap<object, Map<string, ExecutionResult | Promise<ExecutionResult>>>();
const printed = new WeakMap<DocumentNode, string>();

/** Subscription events executed, and deliveries that reused an execution (diagnostics, tests). */
export const sharedExecutionCounts = { executed: 0, reused: 0 };

function executeOnce(event: unknown, selection: string, args: ExecutionArgs): ExecutionResult | Promise<ExecutionResult> {
  if (typeof event !== "object" || event === null) return execute({ ...args, rootValue: event });
  let bySelection = results.get(event);
  if (!bySelection) results.set(event, (bySelection = new Map()));
  let result = bySelection.get(selection);
  if (result) {
    sharedExecutionCounts.reused++;
    return result;
  }
  sharedExecutionCounts.executed++;
  bySelection.set(selection, (result = execute({ ...args, rootValue: event })));
  return result;
}

function selectionKey({ document, variableValues, operationName }: ExecutionArgs): string {
  let text = printed.get(document);
  if (text === undefined) printed.set(document, (text = print(document)));
  return `${operationName ?? ""}\n${JSON.stringify(variableValues ?? {})}\n${text}`;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

/** `source` with `map` applied to each item; `return` reaches the source, so closing a stream ends its feed. */
function mapEvents<T, U>(source: AsyncIterable<T>, map: (item: T) => U | Promise<U>): AsyncIterableIterator<U> {
  const iterator = source[Symbol.asyncIterator]();
  return {
    async next() {
      const item = await iterator.next();
      return item.done ? { value: undefined, done: true } : { value: await map(item.value), done: false };
    },
    async return() {
      await iterator.return?.();
      return { value: undefined, done: true };
    },
    async throw(error: unknown) {
      await iterator.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

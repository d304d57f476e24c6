import {
  createSourceEventStream,
  execute,
  getOperationAST,
  Kind,
  print,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type OperationDefinitionNode,
} from "graphql";
import type { Plugin } from "graphql-yoga";

/**
 * Fan-out that scales: every subscriber of a completion receives the same event object from the completion
 * bus, so the subscription's selection is executed once per event and distinct selection (document,
 * variables, operation), and the result is shared by every subscriber that asked the same thing.
 *
 * Sharing is sound because no field of a completed Task depends on who asks (ownership decides which
 * events a subscriber gets, upstream, not what they contain).
 *
 * Each event is executed without the root field's arguments when the selection below it uses no variable:
 * those arguments (taskDone's ids, submissionId) only chose the events, and graphql-js would otherwise coerce
 * every variable again for every event (10,000 ids × every completion stalled the event loop). Subscribers
 * that differ only in what they selected events by then share one execution too.
 */
export function useSharedSubscriptionExecution(): Plugin {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args: ExecutionArgs) => {
        const stream = await createSourceEventStream(args);
        if (!isAsyncIterable(stream)) return stream; // a subscribe resolver failed: its errors
        const perEvent = eventExecutionArgs(args);
        const selection = selectionKey(perEvent);
        return mapEvents(stream, (event) => executeOnce(event, selection, perEvent));
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

const eventDocuments = new WeakMap<DocumentNode, DocumentNode | null>();

/** `args` for executing one event: with the root fields' arguments and the variables gone, when possible. */
function eventExecutionArgs(args: ExecutionArgs): ExecutionArgs {
  let document = eventDocuments.get(args.document);
  if (document === undefined) eventDocuments.set(args.document, (document = withoutRootArguments(args)));
  return document === null ? args : { ...args, document, variableValues: {} };
}

/** The subscription document without root field arguments or variables; null when a variable is used below them. */
function withoutRootArguments({ document, operationName }: ExecutionArgs): DocumentNode | null {
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== "subscription") return null;
  let variableBelowRoot = false;
  const stripped = visit(operation, {
    Field: {
      enter(node, _key, _parent, path) {
        // path [selectionSet, selections, i]: a root field. Its arguments go; anything below is checked.
        if (path.length === 3) return { ...node, arguments: [] };
        return undefined;
      },
    },
  }) as OperationDefinitionNode;
  const findVariables = { Variable: () => void (variableBelowRoot = true) };
  visit(stripped.selectionSet, findVariables);
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) visit(definition, findVariables);
  if (variableBelowRoot) return null;
  const definitions = document.definitions.map((d) => (d === operation ? { ...stripped, variableDefinitions: [] } : d));
  return { ...document, definitions };
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

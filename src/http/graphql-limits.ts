import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { Kind, type ASTVisitor, type DocumentNode, type GraphQLError } from "graphql";
import { createGraphQLError, type Plugin } from "graphql-yoga";
import { LRUCache } from "lru-cache";

/** What one GraphQL operation may contain (Config.graphql). */
export interface GraphQLLimits {
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  maxCost: number;
  maxVariables: number;
}

/** The `extensions.code` of each limit's refusal. */
export const LIMIT_CODES = {
  maxDepth: "MAX_DEPTH_EXCEEDED",
  maxAliases: "MAX_ALIASES_EXCEEDED",
  maxDirectives: "MAX_DIRECTIVES_EXCEEDED",
  maxTokens: "MAX_TOKENS_EXCEEDED",
  maxCost: "MAX_COST_EXCEEDED",
  maxVariables: "MAX_VARIABLES_EXCEEDED",
} as const satisfies Record<keyof GraphQLLimits, string>;

/**
 * A refused operation, with the limit's own code. Like any parse or validation error it answers HTTP 400,
 * or 200 to a client that accepts only `application/json` (GraphQL over HTTP; yoga's `spec` flag).
 */
function limitError(code: string, message: string): GraphQLError {
  // graphql-armor prefixes every refusal with "Syntax Error: ", which it is not.
  return createGraphQLError(message.replace(/^Syntax Error: /, ""), {
    extensions: { code, http: { spec: true, status: 400 } },
  });
}

type ArmorConfig = NonNullable<Parameters<typeof EnvelopArmorPlugin>[0]>;
type RejectCallback = NonNullable<NonNullable<ArmorConfig["maxTokens"]>["onReject"]>[number];

// Throwing from onReject replaces graphql-armor's uncoded error and stops parsing or validation at once,
// before any quadratic rule (overlapping fields) sees a huge document.
const rejectWith =
  (code: string): RejectCallback =>
  (_context, error) => {
    throw limitError(code, error.message);
  };

/**
 * graphql-armor's depth, alias, directive, token and cost limits, each refusing with its own code
 * ({@link LIMIT_CODES}), plus a cap on declared variables. Field suggestions stay on (self-hosted API).
 */
export function useGraphQLLimits(limits: GraphQLLimits): Plugin[] {
  const armor = EnvelopArmorPlugin({
    blockFieldSuggestion: { enabled: false },
    maxTokens: { n: limits.maxTokens, onReject: [rejectWith(LIMIT_CODES.maxTokens)] },
    maxDepth: { n: limits.maxDepth, onReject: [rejectWith(LIMIT_CODES.maxDepth)] },
    maxAliases: { n: limits.maxAliases, onReject: [rejectWith(LIMIT_CODES.maxAliases)] },
    maxDirectives: { n: limits.maxDirectives, onReject: [rejectWith(LIMIT_CODES.maxDirectives)] },
    costLimit: { maxCost: limits.maxCost, onReject: [rejectWith(LIMIT_CODES.maxCost)] },
  });
  return [useNestingBeforeParse(limits.maxDepth), armor as Plugin, useMaxVariables(limits.maxVariables)];
}

/**
 * graphql-js parses recursively, so a document nested a few thousand levels deep (within the token limit)
 * overflows the stack before graphql-armor's depth limit, which needs the parsed document, can look. This
 * scans the text first: braces, parentheses and brackets nested deeper than four times the depth limit
 * (arguments and list values nest too) are refused as MAX_DEPTH_EXCEEDED.
 */
function useNestingBeforeParse(maxDepth: number): Plugin {
  const limit = Math.max(64, maxDepth * 4);
  return {
    onParse({ params }) {
      const source = typeof params.source === "string" ? params.source : params.source.body;
      const depth = maxNesting(source, limit);
      if (depth > limit) throw limitError(LIMIT_CODES.maxDepth, `Nesting of more than ${limit} levels in the operation text.`);
    },
  };
}

/** The deepest nesting of `{ ( [` outside strings and comments, counting stops just past `stopAbove`. */
export function maxNesting(text: string, stopAbove: number): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x23 /* # */) {
      while (i < text.length && text.charCodeAt(i) !== 0x0a && text.charCodeAt(i) !== 0x0d) i++;
    } else if (c === 0x22 /* " */) {
      const block = text.startsWith('"""', i);
      i += block ? 3 : 1;
      while (i < text.length) {
        const d = text.charCodeAt(i);
        if (block ? text.startsWith('"""', i) && text.charCodeAt(i - 1) !== 0x5c : d === 0x22) break;
        if (!block && d === 0x5c /* \ */) i++;
        i++;
      }
      if (block) i += 2;
    } else if (c === 0x7b || c === 0x28 || c === 0x5b) {
      if (++depth > deepest && (deepest = depth) > stopAbove) return deepest;
    } else if (c === 0x7d || c === 0x29 || c === 0x5d) {
      depth--;
    }
  }
  return deepest;
}

/**
 * Refuses an operation that declares more than `max` variables. It looks at the document as a whole, the
 * first node validation enters, so no other rule walks 100,000 variables first.
 */
function useMaxVariables(max: number): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(
        (): ASTVisitor => ({
          Document(node: DocumentNode) {
            for (const definition of node.definitions) {
              if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
              const count = definition.variableDefinitions?.length ?? 0;
              if (count > max) {
                throw limitError(LIMIT_CODES.maxVariables, `Variables limit of ${max} exceeded, found ${count}.`);
              }
            }
          },
        }),
      );
    },
  };
}

/** Longest operation text whose parsed document (or parse error) is cached. */
export const MAX_CACHED_DOCUMENT_CHARS = 8 * 1024;
/** Total operation text the parse cache may hold: a parsed document takes ~60× its text on the heap. */
export const MAX_CACHED_TOTAL_CHARS = 256 * 1024;

/** One of yoga's parse caches, bounded by the text it holds rather than by count. */
export interface BoundedCache<T> {
  get(key: string): T | undefined;
  set(key: string, value: T): void;
  /** Entries held. */
  readonly size: number;
}

function boundedCache<T extends {}>(): BoundedCache<T> {
  const cache = new LRUCache<string, T>({
    max: 1024,
    maxSize: MAX_CACHED_TOTAL_CHARS,
    maxEntrySize: MAX_CACHED_DOCUMENT_CHARS,
    sizeCalculation: (_value, key) => Math.max(1, key.length),
  });
  return {
    get: (key) => cache.get(key),
    set: (key, value) => {
      // lru-cache would refuse it too, after computing its size; skip the work.
      if (key.length <= MAX_CACHED_DOCUMENT_CHARS) cache.set(key, value);
    },
    get size() {
      return cache.size;
    },
  };
}

/**
 * Yoga's parse and parse-error caches, bounded by size: operations up to {@link MAX_CACHED_DOCUMENT_CHARS}
 * characters are cached, {@link MAX_CACHED_TOTAL_CHARS} in all, least recently used out first. (Yoga's
 * default holds 1,024 documents of any size: 48 distinct 100 KB operations filled the heap.) Validation
 * results stay cached per document, so they go when their document goes.
 */
export function boundedParserCache() {
  return { documentCache: boundedCache<DocumentNode>(), errorCache: boundedCache<object>(), validationCache: true };
}

/**
 * Yoga plugin: a request body or parameter that is not valid JSON gets a fixed 400 answer, not the JSON
 * parser's message (which quotes the body back).
 */
export function useGenericRequestErrors(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (requestParser === undefined) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          throw sanitised(error);
        }
      });
    },
  };
}

function sanitised(error: unknown): unknown {
  if (error instanceof SyntaxError) return badRequest("The request parameters are not valid JSON.");
  if (!(error instanceof Error) || error.name !== "GraphQLError") return error;
  const extensions = (error as GraphQLError).extensions;
  if (extensions?.["originalError"] === undefined) return error;
  return badRequest(error.message);
}

// 400 whatever the client accepts: the request is not GraphQL at all.
function badRequest(message: string): GraphQLError {
  return createGraphQLError(message, { extensions: { code: "BAD_REQUEST", http: { status: 400 } } });
}

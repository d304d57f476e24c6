import { getOperationAST, type DocumentNode } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Metrics, OperationType } from "../observability/metrics.js";

/**
 * `GET /metrics`: the Prometheus text exposition (counts and timings only: no URL, key or task content), with
 * no API key, as Prometheus scrapes. It sits behind the Host and Origin checks like the API;
 * `CRAWLQ_METRICS=0` removes it (and every metric).
 *
 * Also counts and times GraphQL operations, over HTTP, SSE and WebSocket alike (all go through Yoga's
 * envelop): each executed operation once, by type and outcome, and each one refused by parsing, validation
 * or a limit as `rejected`.
 */
export function useMetrics(metrics: Metrics): Plugin {
  // The type of a document refused by a validation rule that throws (the limits), found before it ran.
  const validating = new WeakMap<object, OperationType>();
  const rejected = (context: object | undefined) => metrics.operation((context && validating.get(context)) ?? "unknown", "rejected");
  return {
    // Not async: every other request passes without a promise.
    onRequest({ request, url, endResponse }) {
      if (url.pathname !== "/metrics") return;
      if (request.method !== "GET" && request.method !== "HEAD") {
        return endResponse(new Response(null, { status: 405, headers: { allow: "GET, HEAD" } }));
      }
      return metrics.scrape().then((body) =>
        endResponse(
          new Response(request.method === "HEAD" ? null : body, {
            headers: { "content-type": metrics.contentType, "cache-control": "no-store" },
          }),
        ),
      );
    },
    instrumentation: {
      // Parse errors, cached ones and the token limit included, are thrown: seen here only.
      parse: (_payload, parse) => {
        try {
          parse();
        } catch (error) {
          metrics.operation("unknown", "rejected");
          throw error;
        }
      },
      validate: ({ context }, validate) => {
        try {
          validate();
        } catch (error) {
          rejected(context);
          throw error;
        }
      },
    },
    onValidate({ params, context }) {
      const type = operationType(params.documentAST, context);
      validating.set(context, type);
      return ({ valid }) => {
        if (!valid) metrics.operation(type, "rejected");
      };
    },
    onExecute({ args }) {
      const type = operationType(args.document, args.contextValue, args.operationName);
      const start = performance.now();
      return {
        onExecuteDone({ result }) {
          const failed = "errors" in result && result.errors !== undefined && result.errors.length > 0;
          metrics.operation(type, failed ? "error" : "ok", (performance.now() - start) / 1000);
        },
      };
    },
    onSubscribe() {
      return {
        onSubscribeResult({ result }) {
          metrics.operation("subscription", Symbol.asyncIterator in result ? "ok" : "error");
        },
        onSubscribeError() {
          metrics.operation("subscription", "error");
        },
      };
    },
  };
}

function operationType(document: DocumentNode, context: unknown, name?: string | null): OperationType {
  const operationName = name ?? (context as { params?: { operationName?: string | null } } | undefined)?.params?.operationName;
  return getOperationAST(document, operationName)?.operation ?? "unknown";
}

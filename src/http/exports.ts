import type { Plugin } from "graphql-yoga";
import { EXPORT_MEDIA_TYPES, exportHeader, formatTasks, type ExportableTask, type ExportFormat } from "../client/export-format.js";
import { CrawlqError } from "../tasks/errors.js";
import { shownError, type Task } from "../tasks/task.js";
import type { TaskService } from "../tasks/task-service.js";
import { authenticate, bearerToken } from "./auth.js";
import type { Access } from "./yoga.js";

const ROUTE = /^\/submissions\/([^/]+)\/results\.(jsonl|csv)$/;

/**
 * Rows read per page. A page is read only when the client has taken the previous one (the body is pulled
 * and the socket's backpressure is respected), so an export in flight holds one page of tasks: at most
 * about 2 MB (titles are cut to 1,024 characters).
 */
const PAGE_SIZE = 1000;
/**
 * Bytes of text per chunk written, about. Rows are added to a chunk until it holds this much, so a chunk
 * (one row can be up to about 12 KB) stays well under V8's large-object size (128 KB): it is allocated
 * young and freed by the next scavenge, where a whole page as one string went to the large-object space
 * and waited for a full collection.
 */
const CHUNK_CHARS = 64 * 1024;

/**
 * `GET /submissions/:id/results.jsonl` and `GET /submissions/:id/results.csv`: every task of a submission
 * in id order, in the format `crawlq submit --output` writes (src/client/export-format.ts), streamed from
 * the database page by page (keyset), so memory stays bounded whatever the submission's size.
 *
 * Scoped like every read: `Authorization: Bearer KEY` once keys exist (401 without one), another key's
 * submission is 404, like an unknown one. Errors are `{"error":{"code":…,"message":…}}`. The same Host
 * and Origin checks as the API apply (the plugin runs after the request guard) and the operations rate
 * limit counts each export as one operation.
 */
export function useResultExports(service: TaskService, access: Access): Plugin {
  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      const match = ROUTE.exec(url.pathname);
      if (!match) return;
      const [, submissionId = "", format = "jsonl"] = match as unknown as [string, string, ExportFormat];
      const errorResponse = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
        new fetchAPI.Response(JSON.stringify({ error: { code, message } }), {
          status,
          headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
        });
      if (request.method !== "GET") {
        return endResponse(errorResponse(405, "METHOD_NOT_ALLOWED", "Exports are read with GET", { allow: "GET" }));
      }
      let pages: AsyncIterable<Task[]>;
      try {
        const caller = await authenticate(access.keys, bearerToken(request.headers.get("authorization")));
        await access.rateLimits.operation(caller);
        pages = await service.submissionPages({ caller, signal: request.signal }, submissionId, PAGE_SIZE);
      } catch (error) {
        if (!(error instanceof CrawlqError)) throw error;
        const http = error.details["http"] as { status?: number; headers?: Record<string, string> } | undefined;
        return endResponse(errorResponse(http?.status ?? (error.code === "NOT_FOUND" ? 404 : 400), error.code, error.message, http?.headers));
      }
      const iterator = pages[Symbol.asyncIterator]();
      const encoder = new TextEncoder();
      let header = exportHeader(format);
      let page: Task[] = [];
      let offset = 0;
      const body = new fetchAPI.ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            if (offset >= page.length) {
              const next = await iterator.next();
              if (next.done) return controller.close();
              (page = next.value), (offset = 0);
            }
            let text = header;
            while (offset < page.length && text.length < CHUNK_CHARS) text += formatTasks(format, [exportableTask(page[offset++]!)]);
            controller.enqueue(encoder.encode(text));
            header = "";
          },
          async cancel() {
            await iterator.return?.();
          },
        },
        // Nothing is read ahead: a page is read when the response asks for the next chunk.
        { highWaterMark: 0 },
      );
      endResponse(
        new fetchAPI.Response(body, {
          status: 200,
          headers: {
            "content-type": EXPORT_MEDIA_TYPES[format],
            "content-disposition": `attachment; filename="submission-${submissionId}-results.${format}"`,
            "cache-control": "no-store",
          },
        }),
      );
    },
  };
}

/** A stored task as the API shows it (the TaskFields selection): what the export format takes. */
function exportableTask(task: Task): ExportableTask {
  return {
    id: String(task.id),
    submissionId: String(task.submissionId),
    url: task.url,
    status: task.status,
    attempts: task.attempts,
    result: task.result,
    error: shownError(task),
    createdAt: task.createdAt.toISOString(),
    startedAt: task.startedAt?.toISOString() ?? null,
    finishedAt: task.finishedAt?.toISOString() ?? null,
  };
}

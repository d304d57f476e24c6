import type { Submission } from "../tasks/task.js";
import { builder } from "./builder.js";
import { documentedLimits, formatCount, waitDescription } from "./documented-limits.js";
import { TaskRef } from "./task.js";

export const SubmissionRef = builder.objectRef<Submission>("Submission").implement({
  description: "The tasks of one submitCrawl call, in the order their URLs were given.",
  fields: (t) => ({
    id: t.id({ resolve: (s) => String(s.id) }),
    tasks: t.field({ type: [TaskRef], resolve: (s) => s.tasks }),
  }),
});

const CrawlOptions = builder.inputType("CrawlOptions", {
  description: "Per-submission settings; each is bounded by the operator's configuration.",
  fields: (t) => ({
    maxRetries: t.int({
      description: `Retries after the first attempt for retryable failures (operator default, at most ${documentedLimits().maxRetriesCeiling}).`,
    }),
    perHostConcurrency: t.int({ description: "Requests in flight per host for this submission (at most the operator's limit)." }),
    hostDelayMs: t.int({ description: "Minimum delay between requests to one host (at least the operator's)." }),
    respectRobots: t.boolean({ description: "false skips robots.txt, only where the operator allows it." }),
  }),
});

function submitRequest(options: { maxRetries?: number | null; perHostConcurrency?: number | null; hostDelayMs?: number | null; respectRobots?: boolean | null } | null | undefined) {
  return {
    maxRetries: options?.maxRetries ?? undefined,
    perHostConcurrency: options?.perHostConcurrency ?? undefined,
    hostDelayMs: options?.hostDelayMs ?? undefined,
    respectRobots: options?.respectRobots ?? undefined,
  };
}

builder.mutationFields((t) => ({
  submitCrawl: t.field({
    type: SubmissionRef,
    description:
      "pool.submit for each URL: returns at once, after every task row is committed. Each URL must be absolute " +
      `http(s) with a host, at most ${formatCount(documentedLimits().maxUrlLength)} characters; ` +
      `1 to ${formatCount(documentedLimits().maxUrlsPerSubmission)} URLs. Any bad entry fails the whole call with ` +
      "BAD_USER_INPUT listing every bad index, and nothing is stored.",
    args: { urls: t.arg.stringList({ required: true }), options: t.arg({ type: CrawlOptions }) },
    resolve: (_root, args, ctx) => ctx.service.submit(ctx, args.urls, submitRequest(args.options)),
  }),
  crawl: t.field({
    type: TaskRef,
    description:
      "Submit one URL and wait for it (pool.submit(...).result()). Fails with TIMEOUT after timeoutMs; the task goes on. " +
      `timeoutMs: ${waitDescription()}`,
    args: { url: t.arg.string({ required: true }), timeoutMs: t.arg.int(), options: t.arg({ type: CrawlOptions }) },
    resolve: (_root, args, ctx) => ctx.service.crawl(ctx, args.url, args.timeoutMs, submitRequest(args.options)),
  }),
}));

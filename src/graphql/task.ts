import { shownError, type PageResult, type Task, type TaskError } from "../tasks/task.js";
import { describeLifecycle, isTerminal, TASK_STATUSES } from "../tasks/task-state.js";
import { builder } from "./builder.js";
import { documentedLimits, formatCount, waitDescription } from "./documented-limits.js";

export const TaskStatusEnum = builder.enumType("TaskStatus", {
  description: describeLifecycle(),
  values: TASK_STATUSES,
});

export const CrawlResultRef = builder.objectRef<PageResult>("CrawlResult").implement({
  description: "What a successful fetch and parse produced.",
  fields: (t) => ({
    httpStatus: t.exposeInt("httpStatus"),
    finalUrl: t.exposeString("finalUrl", { description: "The URL after redirects." }),
    contentType: t.exposeString("contentType", { nullable: true }),
    contentLength: t.exposeInt("contentLength", {
      description: "Bytes of the body as received, after content-encoding (gzip, br) is undone and before charset decoding.",
    }),
    title: t.exposeString("title", { nullable: true, description: "Text of the first <title>, whitespace collapsed." }),
    linkCount: t.exposeInt("linkCount", { description: "Number of <a> elements with an href." }),
    fetchMs: t.exposeFloat("fetchMs", { description: "From request start to the last body byte." }),
    parseMs: t.exposeFloat("parseMs", { description: "Charset decoding and HTML parsing." }),
  }),
});

export const TaskErrorRef = builder.objectRef<TaskError>("TaskError").implement({
  description: "Why a task FAILED.",
  fields: (t) => ({
    code: t.exposeString("code", {
      description:
        "HTTP_STATUS (non-2xx; the status is in the message), TIMEOUT, DNS, CONNECT, TOO_LARGE, TOO_MANY_REDIRECTS, " +
        "BLOCKED_ADDRESS (private/loopback/link-local target refused), UNSUPPORTED_SCHEME, ROBOTS_DISALLOWED " +
        "(robots.txt forbids the URL, or it is unreachable), INTERNAL.",
    }),
    message: t.exposeString("message"),
  }),
});

export const TaskRef = builder.objectRef<Task>("Task").implement({
  description: "One URL to crawl: a future whose result is a CrawlResult.",
  fields: (t) => ({
    id: t.id({ resolve: (task) => String(task.id) }),
    url: t.exposeString("url"),
    status: t.field({ type: TaskStatusEnum, resolve: (task) => task.status }),
    done: t.boolean({
      description: "True once status is SUCCEEDED, FAILED or CANCELLED (Future.done()).",
      resolve: (task) => isTerminal(task.status),
    }),
    attempts: t.exposeInt("attempts", { description: "Attempts started so far, retries included." }),
    submissionId: t.id({ resolve: (task) => String(task.submissionId) }),
    result: t.field({ type: CrawlResultRef, nullable: true, description: "Set when SUCCEEDED.", resolve: (task) => task.result }),
    error: t.field({
      type: TaskErrorRef,
      nullable: true,
      description: "Set when FAILED.",
      resolve: shownError,
    }),
    worker: t.exposeInt("worker", { nullable: true, description: "Id of the worker thread that ran the last attempt." }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
  }),
});

builder.queryFields((t) => ({
  task: t.field({
    type: TaskRef,
    nullable: true,
    description: "The task as it stands now; never blocks. Null for an unknown id.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.service.get(ctx, String(args.id)),
  }),
  result: t.field({
    type: TaskRef,
    description: "Future.result(timeout): blocks until the task is done. Fails with TIMEOUT (the task goes on) or NOT_FOUND.",
    args: {
      id: t.arg.id({ required: true }),
      timeoutMs: t.arg.int({ description: waitDescription() }),
    },
    resolve: (_root, args, ctx) => ctx.service.result(ctx, String(args.id), args.timeoutMs),
  }),
  tasks: t.field({
    type: [TaskRef],
    description: "Tasks in submission order, optionally by status; page with `after` (the last id seen).",
    args: {
      status: t.arg({ type: TaskStatusEnum }),
      first: t.arg.int({
        description: `Default ${formatCount(documentedLimits().defaultPageSize)}, at most ${formatCount(documentedLimits().maxPageSize)}.`,
      }),
      after: t.arg.id(),
    },
    resolve: (_root, args, ctx) =>
      ctx.service.list(ctx, { status: args.status, first: args.first, after: args.after == null ? null : String(args.after) }),
  }),
}));

builder.mutationFields((t) => ({
  cancelTask: t.field({
    type: TaskRef,
    description: "Future.cancel(): a PENDING task becomes CANCELLED; a RUNNING or done task is returned unchanged.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.service.cancel(ctx, String(args.id)),
  }),
}));

import type { BatchOutcome } from "../tasks/task-service.js";
import { builder } from "./builder.js";
import { documentedLimits, formatCount, waitDescription } from "./documented-limits.js";
import { TaskRef } from "./task.js";

const ReturnWhenEnum = builder.enumType("ReturnWhen", {
  description: "As concurrent.futures.wait's return_when.",
  values: {
    ALL_COMPLETED: { description: "Every task is done." },
    FIRST_COMPLETED: { description: "Any task is done." },
    FIRST_EXCEPTION: { description: "Any task FAILED, or every task is done." },
  } as const,
});

const BatchResultRef = builder.objectRef<BatchOutcome>("BatchResult").implement({
  fields: (t) => ({
    tasks: t.field({ type: [TaskRef], description: "One per id asked, in the order asked.", resolve: (b) => b.tasks }),
    done: t.exposeInt("done"),
    notDone: t.exposeInt("notDone"),
    complete: t.exposeBoolean("complete", { description: "The returnWhen condition was met before the timeout." }),
  }),
});

builder.queryFields((t) => ({
  batch: t.field({
    type: BatchResultRef,
    description:
      "Collect many results: waits until returnWhen holds or timeoutMs passes (then complete is false; it does not fail). " +
      `Takes exactly one of ids (at most ${formatCount(documentedLimits().maxBatchIds)}) or submissionId; ` +
      "unknown ids fail with NOT_FOUND naming them.",
    args: {
      ids: t.arg.idList(),
      submissionId: t.arg.id(),
      timeoutMs: t.arg.int({ description: waitDescription() }),
      returnWhen: t.arg({ type: ReturnWhenEnum, defaultValue: "ALL_COMPLETED" }),
    },
    resolve: (_root, args, ctx) =>
      ctx.service.batch(
        ctx,
        {
          ids: args.ids?.map(String),
          submissionId: args.submissionId == null ? null : String(args.submissionId),
          timeoutMs: args.timeoutMs,
          returnWhen: args.returnWhen,
        },
      ),
  }),
}));


import { SlowSubscriberError } from "../tasks/done-feed.js";
import type { Task } from "../tasks/task.js";
import { builder } from "./builder.js";
import { TaskRef } from "./task.js";

builder.subscriptionField("taskDone", (t) =>
  t.field({
    type: TaskRef,
    description:
      "add_done_callback: each selected task once, when it reaches a terminal state, in completion order; tasks already " +
      "done come first. With ids or submissionId the stream completes after the last one; with neither it emits every " +
      "completion from now on and does not complete. A subscriber that falls too far behind gets one SLOW_SUBSCRIBER " +
      "error and the stream ends; subscribing again sends the done tasks first.",
    args: { ids: t.arg.idList(), submissionId: t.arg.id() },
    subscribe: (_root, args, ctx) =>
      ctx.service.watchDone(ctx, {
        ids: args.ids?.map(String),
        submissionId: args.submissionId == null ? null : String(args.submissionId),
      }) as Promise<AsyncIterable<Task>>,
    // The feed's last item, when it overflowed, is the error: it reaches the client as this event's error.
    resolve: (event: Task | SlowSubscriberError) => {
      if (event instanceof SlowSubscriberError) throw event;
      return event;
    },
  }),
);

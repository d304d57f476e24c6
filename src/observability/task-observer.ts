import type { Logger } from "pino";
import type { LifecycleObserver } from "../tasks/task-lifecycle.js";
import type { Metrics } from "./metrics.js";

/**
 * What the lifecycle tells after each commit goes to the metrics (when on) and, at debug level, to the log:
 * one line per task that reached a terminal state. At info level the log costs one level check per batch.
 */
export function observeTasks(logger: Logger, metrics: Metrics | null): LifecycleObserver {
  return {
    ended(tasks) {
      metrics?.ended(tasks);
      if (!logger.isLevelEnabled("debug")) return;
      for (const task of tasks) {
        logger.debug({ taskId: task.id, status: task.status, code: task.error?.code ?? null }, "task finished");
      }
    },
    retried(count) {
      metrics?.retried(count);
    },
  };
}

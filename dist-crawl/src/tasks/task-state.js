/**
 * The task lifecycle: statuses and the only transitions allowed between them.
 * Every status write in the repository is built from this table and is conditional on
 * the row still being in one of the `from` states, so a terminal state is written once.
 */
export const TASK_STATUSES = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];
export const TERMINAL_STATUSES = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
/** Done as in `Future.done()`: SUCCEEDED, FAILED or CANCELLED. */
export function isTerminal(status) {
    return TERMINAL_STATUSES.has(status);
}
/** Named transitions, as BullMQ names its moves (`moveToCompleted`, ...). */
export const TRANSITIONS = {
    /** The dispatcher hands the task to the pool. */
    start: { from: ["PENDING"], to: "RUNNING" },
    /** The attempt fetched a 2xx page. */
    succeed: { from: ["RUNNING"], to: "SUCCEEDED" },
    /** The attempt failed for good (or retries are used up). */
    fail: { from: ["RUNNING"], to: "FAILED" },
    /** Failed without being fetched (robots.txt disallows it). */
    reject: { from: ["PENDING"], to: "FAILED" },
    /** The attempt failed but may be tried again after a backoff; no worker slot is held meanwhile. */
    retry: { from: ["RUNNING"], to: "PENDING" },
    /** `Future.cancel()`: only a task that has not started. */
    cancel: { from: ["PENDING"], to: "CANCELLED" },
    /** A RUNNING task whose process died or shut down before it finished runs again. */
    requeue: { from: ["RUNNING"], to: "PENDING" },
};
/** Whether `transition` may be applied to a task currently in `status`. */
export function canTransition(transition, status) {
    return TRANSITIONS[transition].from.includes(status);
}
//# sourceMappingURL=task-state.js.map
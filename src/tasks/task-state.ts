/**
 * The task lifecycle as data: the statuses, the state a task is created in, and the only transitions
 * allowed between them. Every status write (in any store) is built from this table and is conditional on
 * the row still being in one of the `from` states, so a terminal state is written once. The verbs that
 * perform the writes live in task-lifecycle.ts; the GraphQL description of TaskStatus is printed from here.
 */

export const TASK_STATUSES = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Every task is created in this state, in the same transaction as its submission. */
export const INITIAL_STATUS = "PENDING" satisfies TaskStatus;

/** Named transitions, as BullMQ names its moves (`moveToCompleted`, ...). */
export const TRANSITIONS = {
  /** The dispatcher hands the task to the pool; one attempt starts. */
  claim: { from: ["PENDING"], to: "RUNNING" },
  /** The attempt fetched a 2xx page. */
  succeed: { from: ["RUNNING"], to: "SUCCEEDED" },
  /** The attempt failed for good (or its retries are used up). */
  fail: { from: ["RUNNING"], to: "FAILED" },
  /** The attempt failed but may be tried again after a backoff; no pool slot is held meanwhile. */
  retryLater: { from: ["RUNNING"], to: "PENDING" },
  /** Failed without being fetched: robots.txt disallows the URL. */
  reject: { from: ["PENDING"], to: "FAILED" },
  /** `Future.cancel()`: only a task that has not started. */
  cancel: { from: ["PENDING"], to: "CANCELLED" },
  /** A claim given back unfinished (shutdown, a write that could not be saved, a dead process): it runs again. */
  requeue: { from: ["RUNNING"], to: "PENDING" },
} as const satisfies Record<string, { from: readonly TaskStatus[]; to: TaskStatus }>;

export type TransitionName = keyof typeof TRANSITIONS;

// Terminal: no transition leaves it. Derived from the table so the two can never disagree.
const LEFT_BY_SOME_TRANSITION: ReadonlySet<TaskStatus> = new Set(
  Object.values(TRANSITIONS).flatMap((t) => t.from as readonly TaskStatus[]),
);

/** SUCCEEDED, FAILED and CANCELLED: the states no transition leaves. */
export const TERMINAL_STATUSES: readonly TaskStatus[] = TASK_STATUSES.filter((s) => !LEFT_BY_SOME_TRANSITION.has(s));

/** Done as in `Future.done()`: the task is in a state no transition leaves. */
export function isTerminal(status: TaskStatus): boolean {
  return !LEFT_BY_SOME_TRANSITION.has(status);
}

/** Whether `transition` may be applied to a task currently in `status`. */
export function canTransition(transition: TransitionName, status: TaskStatus): boolean {
  return (TRANSITIONS[transition].from as readonly TaskStatus[]).includes(status);
}

/** Whether the transition ends the task (its write is then published as a completion). */
export function endsTask(transition: TransitionName): boolean {
  return isTerminal(TRANSITIONS[transition].to);
}

/** The lifecycle in one line per transition, e.g. "PENDING → RUNNING (claim)"; printed in the schema. */
export function describeLifecycle(): string {
  const lines = (Object.keys(TRANSITIONS) as TransitionName[]).map((name) => {
    const { from, to } = TRANSITIONS[name];
    return `${from.join(" | ")} → ${to} (${name})`;
  });
  return `Every task starts ${INITIAL_STATUS}. Transitions: ${lines.join("; ")}. ${TERMINAL_STATUSES.join(", ")} are final.`;
}

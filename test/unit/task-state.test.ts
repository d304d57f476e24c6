import { describe, expect, it } from "vitest";
import { canTransition, isTerminal, TASK_STATUSES, TRANSITIONS, type TaskStatus } from "../../src/tasks/task-state.js";

describe("task lifecycle", () => {
  it("never leaves a terminal state", () => {
    for (const transition of Object.values(TRANSITIONS)) {
      for (const from of transition.from as readonly TaskStatus[]) expect(isTerminal(from)).toBe(false);
    }
  });

  it("allows exactly the documented moves", () => {
    const allowed = TASK_STATUSES.flatMap((status) =>
      (Object.keys(TRANSITIONS) as Array<keyof typeof TRANSITIONS>)
        .filter((name) => canTransition(name, status))
        .map((name) => `${status} -${name}-> ${TRANSITIONS[name].to}`),
    );
    expect(allowed.sort()).toEqual(
      [
        "PENDING -claim-> RUNNING",
        "PENDING -cancel-> CANCELLED",
        "PENDING -reject-> FAILED",
        "RUNNING -succeed-> SUCCEEDED",
        "RUNNING -fail-> FAILED",
        "RUNNING -retryLater-> PENDING",
        "RUNNING -requeue-> PENDING",
      ].sort(),
    );
  });
});

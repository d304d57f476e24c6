import { createPubSub } from "graphql-yoga";
import type { Task } from "./task.js";

/** Which completions a listener wants. */
export type DoneSelection =
  | { kind: "all" }
  | { kind: "ids"; ids: ReadonlySet<number> }
  | { kind: "submission"; submissionId: number };

type Topics = {
  taskDone: [task: Task];
  "taskDone:task": [taskId: number, task: Task];
  "taskDone:submission": [submissionId: number, task: Task];
};

// Above this many ids, one listener on the global topic filtering by a Set beats one listener per id.
const PER_ID_TOPIC_LIMIT = 64;

/**
 * Completion events. Published only after the terminal write committed, with the whole row.
 * Built on yoga's createPubSub over an EventTarget, so a Redis-backed EventTarget
 * (@graphql-yoga/redis-event-target) can replace the in-process one for several instances.
 * Listeners attach synchronously (addEventListener), which is what closes the
 * "is it done already? / tell me when it is" race: callers listen first, then read.
 */
export class TaskEvents {
  readonly #target: EventTarget;
  readonly #pubsub;

  constructor(eventTarget: EventTarget = new EventTarget()) {
    this.#target = eventTarget;
    this.#pubsub = createPubSub<Topics>({ eventTarget });
  }

  /** Publishes each task (must be terminal and committed) on the global, per-task and per-submission topics. */
  publishDone(tasks: readonly Task[]): void {
    for (const task of tasks) {
      this.#pubsub.publish("taskDone", task);
      this.#pubsub.publish("taskDone:task", task.id, task);
      this.#pubsub.publish("taskDone:submission", task.submissionId, task);
    }
  }

  /** Calls `listener` for each completion in `selection` until the returned function is called. */
  listen(selection: DoneSelection, listener: (task: Task) => void): () => void {
    const topics = topicsFor(selection);
    const ids = selection.kind === "ids" && topics[0] === "taskDone" ? selection.ids : null;
    const handler = (event: Event) => {
      const task = (event as CustomEvent<Task>).detail;
      if (ids === null || ids.has(task.id)) listener(task);
    };
    for (const topic of topics) this.#target.addEventListener(topic, handler);
    return () => {
      for (const topic of topics) this.#target.removeEventListener(topic, handler);
    };
  }
}

function topicsFor(selection: DoneSelection): string[] {
  switch (selection.kind) {
    case "all":
      return ["taskDone"];
    case "submission":
      return [`taskDone:submission:${selection.submissionId}`];
    case "ids":
      return selection.ids.size > PER_ID_TOPIC_LIMIT ? ["taskDone"] : [...selection.ids].map((id) => `taskDone:task:${id}`);
  }
}

import { createPubSub } from "graphql-yoga";
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
    #target;
    #pubsub;
    constructor(eventTarget = new EventTarget()) {
        this.#target = eventTarget;
        this.#pubsub = createPubSub({ eventTarget });
    }
    /** Publishes each task (must be terminal and committed) on the global, per-task and per-submission topics. */
    publishDone(tasks) {
        for (const task of tasks) {
            this.#pubsub.publish("taskDone", task);
            this.#pubsub.publish("taskDone:task", task.id, task);
            this.#pubsub.publish("taskDone:submission", task.submissionId, task);
        }
    }
    /** Calls `listener` for each completion in `selection` until the returned function is called. */
    listen(selection, listener) {
        const topics = topicsFor(selection);
        const ids = selection.kind === "ids" && topics[0] === "taskDone" ? selection.ids : null;
        const handler = (event) => {
            const task = event.detail;
            if (ids === null || ids.has(task.id))
                listener(task);
        };
        for (const topic of topics)
            this.#target.addEventListener(topic, handler);
        return () => {
            for (const topic of topics)
                this.#target.removeEventListener(topic, handler);
        };
    }
}
function topicsFor(selection) {
    switch (selection.kind) {
        case "all":
            return ["taskDone"];
        case "submission":
            return [`taskDone:submission:${selection.submissionId}`];
        case "ids":
            return selection.ids.size > PER_ID_TOPIC_LIMIT ? ["taskDone"] : [...selection.ids].map((id) => `taskDone:task:${id}`);
    }
}
//# sourceMappingURL=task-events.js.map
/**
 * The completions of a selection of tasks, each exactly once: listens on construction (before the
 * caller reads the database), takes what the read found already done via `seed`, and drops any event
 * for a task it has already emitted. Used by `result`, `batch` and the `taskDone` subscription.
 */
export class DoneFeed {
    #queue = [];
    #seen = new Set();
    #unlisten;
    #onClose;
    #wake = null;
    #remaining = null;
    #closed = false;
    constructor(events, selection, onClose = () => { }) {
        this.#onClose = onClose;
        this.#unlisten = events.listen(selection, (task) => this.#push(task, false));
    }
    /** Tasks found already done by the read that followed listening; they go before anything newer. */
    seed(done) {
        const fresh = done.filter((t) => !this.#seen.has(t.id));
        fresh.sort((a, b) => (a.finishedAt?.getTime() ?? 0) - (b.finishedAt?.getTime() ?? 0));
        for (const t of fresh.reverse())
            this.#push(t, true);
    }
    /** Ends the feed once every one of `ids` has been emitted (finite selections). */
    expect(ids) {
        this.#remaining = new Set([...ids].filter((id) => !this.#seen.has(id)));
        this.#closeIfComplete();
    }
    /** The next completion, or null when the deadline passes or the feed is closed first. */
    async nextBefore(deadline) {
        while (this.#queue.length === 0) {
            const wait = deadline - Date.now();
            if (this.#closed || wait <= 0)
                return null;
            await new Promise((resolve) => {
                const timer = setTimeout(resolve, wait);
                this.#wake = () => {
                    clearTimeout(timer);
                    resolve();
                };
            });
            this.#wake = null;
        }
        return this.#queue.shift();
    }
    async next() {
        for (;;) {
            const task = this.#queue.shift();
            if (task) {
                this.#closeIfComplete();
                return { value: task, done: false };
            }
            if (this.#closed)
                return { value: undefined, done: true };
            await new Promise((resolve) => (this.#wake = resolve));
            this.#wake = null;
        }
    }
    async return() {
        this.close();
        this.#queue.length = 0;
        return { value: undefined, done: true };
    }
    [Symbol.asyncIterator]() {
        return this;
    }
    /** Stops listening; queued completions are still delivered, then the iterator ends. */
    close() {
        if (this.#closed)
            return;
        this.#closed = true;
        this.#unlisten();
        this.#onClose(this);
        this.#wake?.();
    }
    #push(task, front) {
        if (this.#closed || this.#seen.has(task.id))
            return;
        this.#seen.add(task.id);
        if (front)
            this.#queue.unshift(task);
        else
            this.#queue.push(task);
        this.#remaining?.delete(task.id);
        this.#wake?.();
    }
    // Only once the last expected task has been handed out, so nothing queued is lost.
    #closeIfComplete() {
        if (this.#remaining !== null && this.#remaining.size === 0 && this.#queue.length === 0)
            this.close();
    }
}
//# sourceMappingURL=done-feed.js.map
/**
 * Coalesces the single-task reads that arrive in the same turn of the event loop into one query,
 * so a thousand clients calling `result(id)` at once cost one read, not a thousand.
 */
export class TaskLoader {
    #fetch;
    #pending = new Map();
    #scheduled = false;
    constructor(fetch) {
        this.#fetch = fetch;
    }
    load(id) {
        return new Promise((resolve, reject) => {
            const waiting = this.#pending.get(id);
            if (waiting)
                waiting.push({ resolve, reject });
            else
                this.#pending.set(id, [{ resolve, reject }]);
            if (!this.#scheduled) {
                this.#scheduled = true;
                setImmediate(() => void this.#flush());
            }
        });
    }
    async #flush() {
        const batch = this.#pending;
        this.#pending = new Map();
        this.#scheduled = false;
        try {
            const found = new Map((await this.#fetch([...batch.keys()])).map((t) => [t.id, t]));
            for (const [id, waiters] of batch)
                for (const w of waiters)
                    w.resolve(found.get(id));
        }
        catch (error) {
            for (const waiters of batch.values())
                for (const w of waiters)
                    w.reject(error);
        }
    }
}
//# sourceMappingURL=task-loader.js.map
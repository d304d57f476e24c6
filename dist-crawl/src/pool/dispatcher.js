import { coerceError } from "../tasks/errors.js";
import { retryDelay } from "./retry-policy.js";
/**
 * Feeds PENDING tasks from the database to the pool, oldest first, with at most `maxInFlight` in the
 * pool and the host gate's politeness. Attempt ends are written in batches (one transaction per turn of
 * the event loop), then published: persist, then publish.
 */
export class Dispatcher {
    #deps;
    #options;
    #running = new Map();
    // Set when shutdown gives up on running tasks: their late results are ignored, the rows go back to PENDING.
    #abandoned = false;
    #finished = [];
    #flushing = null;
    #pumping = false;
    #pumpAgain = false;
    #stopped = false;
    #wakeTimer = null;
    // Retry backoff leaves PENDING rows that are not runnable yet. Counting committed retries lets an idle
    // dispatcher skip the "next runAt?" query when none can exist, without racing a concurrent commit.
    #retriesCommitted = 0;
    #noDelayedAsOf = -1;
    #idle = null;
    constructor(deps, options) {
        this.#deps = deps;
        this.#options = options;
    }
    /** Tasks currently in the pool. */
    get inFlight() {
        return this.#running.size;
    }
    /** Start-up: RUNNING rows left by a dead process go back to PENDING, then work starts. */
    async start() {
        const requeued = await this.#deps.repository.requeue();
        if (requeued > 0)
            this.#deps.logger.info({ requeued }, "requeued tasks left running by a previous process");
        this.wake();
    }
    /** New work, a free slot or an opened host: look for tasks to start. */
    wake() {
        if (this.#stopped)
            return;
        if (this.#pumping) {
            this.#pumpAgain = true;
            return;
        }
        this.#pumping = true;
        void this.#pump().finally(() => (this.#pumping = false));
    }
    /**
     * Shutdown: starts nothing more, gives running tasks `graceMs` to finish, then abandons the rest and
     * puts them back to PENDING for the next start (the caller then destroys the pool).
     */
    async stop(graceMs) {
        this.#stopped = true;
        if (this.#wakeTimer)
            clearTimeout(this.#wakeTimer);
        if (this.#running.size > 0) {
            await new Promise((resolve) => {
                const timer = setTimeout(resolve, graceMs);
                this.#idle = () => {
                    clearTimeout(timer);
                    resolve();
                };
            });
        }
        const unfinished = [...this.#running.keys()];
        this.#abandoned = true;
        await this.#flush();
        if (unfinished.length > 0) {
            const requeued = await this.#deps.repository.requeue(unfinished);
            this.#deps.logger.info({ requeued }, "left unfinished tasks PENDING for the next start");
        }
    }
    async #pump() {
        try {
            do {
                this.#pumpAgain = false;
                await this.#fill();
            } while (this.#pumpAgain && !this.#stopped);
        }
        catch (error) {
            this.#deps.logger.error({ err: coerceError(error) }, "dispatcher failed to start tasks; retrying in 1 s");
            this.#wakeAt(Date.now() + 1000);
        }
    }
    async #fill() {
        const { repository, gate, events } = this.#deps;
        const waiting = new Set();
        while (!this.#stopped && this.#running.size < this.#options.maxInFlight) {
            const now = Date.now();
            const free = this.#options.maxInFlight - this.#running.size;
            const skip = [...new Set([...gate.busyHosts(now), ...waiting])];
            const candidates = await repository.findRunnable(free, skip, now);
            if (candidates.length === 0)
                return this.#sleepUntilRunnable(now);
            const admitted = [];
            const denied = new Map();
            for (const task of candidates) {
                if (waiting.has(task.host))
                    continue;
                const admission = gate.admit(task, now);
                if (admission.verdict === "admit")
                    admitted.push(task);
                else if (admission.verdict === "wait")
                    waiting.add(task.host);
                else
                    denied.set(admission.reason, [...(denied.get(admission.reason) ?? []), task.id]);
            }
            for (const [reason, ids] of denied) {
                events.publishDone(await repository.reject(ids, { code: "ROBOTS_DISALLOWED", message: reason }, now));
            }
            // Nothing admitted: the busy hosts are now skipped, so the next query reaches other hosts or runs dry.
            if (admitted.length === 0)
                continue;
            const claimed = await repository.start(admitted.map((t) => t.id), now);
            const claimedIds = new Set(claimed.map((t) => t.id));
            for (const task of admitted)
                if (!claimedIds.has(task.id))
                    gate.release(task.host);
            for (const task of claimed)
                this.#run(task);
        }
    }
    #run(task) {
        this.#running.set(task.id, task);
        // No AbortSignal: piscina runs at most one abortable task per thread, which would undo the per-thread concurrency.
        this.#deps.pool
            .crawl(task.url)
            .then(({ worker, outcome }) => {
            if (this.#abandoned)
                return null;
            if (outcome.ok)
                return { id: task.id, worker, kind: "succeeded", page: outcome.page };
            return this.#failure(task, worker, outcome.error);
        }, (error) => {
            if (this.#abandoned)
                return null; // shutdown: stop() put it back to PENDING
            const message = coerceError(error).message;
            this.#deps.logger.error({ taskId: task.id, err: coerceError(error) }, "pool worker failed");
            return { id: task.id, worker: null, kind: "failed", error: { code: "INTERNAL", message } };
        })
            .then((outcome) => {
            if (outcome)
                this.#finish(outcome);
            else
                this.#settle(task);
        });
    }
    #failure(task, worker, error) {
        const delay = retryDelay(error, task.attempts, task.maxRetries, this.#options.retry);
        if (delay === null)
            return { id: task.id, worker, kind: "failed", error };
        return { id: task.id, worker, kind: "retry", error, runAt: Date.now() + delay };
    }
    #finish(outcome) {
        this.#finished.push(outcome);
        if (this.#finished.length === 1)
            setImmediate(() => void this.#flush());
    }
    // One transaction for every attempt that ended in this turn, then one publish, then more work.
    async #flush() {
        while (this.#flushing)
            await this.#flushing;
        if (this.#finished.length === 0)
            return;
        const batch = this.#finished;
        this.#finished = [];
        this.#flushing = (async () => {
            try {
                const written = await this.#deps.repository.finishAttempts(batch, Date.now());
                if (written.some((t) => t.status === "PENDING"))
                    this.#retriesCommitted++;
                this.#deps.events.publishDone(written.filter((t) => t.status !== "PENDING"));
            }
            catch (error) {
                // The rows stay RUNNING; the next start requeues them. Never lose the slot accounting.
                this.#deps.logger.error({ err: coerceError(error), count: batch.length }, "could not record attempt results");
            }
            for (const outcome of batch) {
                const task = this.#running.get(outcome.id);
                if (task)
                    this.#settle(task);
            }
        })();
        await this.#flushing;
        this.#flushing = null;
    }
    #settle(task) {
        this.#running.delete(task.id);
        this.#deps.gate.release(task.host);
        if (this.#running.size === 0)
            this.#idle?.();
        this.wake();
    }
    async #sleepUntilRunnable(now) {
        const candidates = [this.#deps.gate.nextOpening(now)];
        const retries = this.#retriesCommitted;
        if (retries !== this.#noDelayedAsOf) {
            const nextRunAt = await this.#deps.repository.nextRunAt(now);
            if (nextRunAt === null)
                this.#noDelayedAsOf = retries;
            candidates.push(nextRunAt);
        }
        const next = candidates.filter((t) => t !== null).sort((a, b) => a - b)[0];
        if (next !== undefined)
            this.#wakeAt(next);
    }
    #wakeAt(at) {
        if (this.#stopped)
            return;
        if (this.#wakeTimer)
            clearTimeout(this.#wakeTimer);
        this.#wakeTimer = setTimeout(() => {
            this.#wakeTimer = null;
            this.wake();
        }, Math.max(0, at - Date.now()));
        this.#wakeTimer.unref();
    }
}
//# sourceMappingURL=dispatcher.js.map
import { createRequire } from "node:module";
// robots-parser is CommonJS whose typings declare an ES default export; load it the CommonJS way.
const robotsParser = createRequire(import.meta.url)("robots-parser");
const MAX_ROBOTS_ENTRIES = 10_000;
const HOST_UNREACHABLE_CODES = new Set(["CONNECT", "DNS", "BLOCKED_ADDRESS", "UNSUPPORTED_SCHEME"]);
/**
 * Politeness, decided in one place on the main thread so it holds across submissions and workers:
 * at most N requests in flight per host, a minimum delay between starts on one host (the larger of the
 * submission's delay and robots.txt Crawl-delay), and robots.txt rules (fetched once per origin, cached).
 * Holds state only for hosts with work in flight or a pending delay, plus a bounded robots cache.
 */
export class HostGate {
    #options;
    #hosts = new Map();
    #robots = new Map();
    constructor(options) {
        this.#options = options;
    }
    /** Hosts no task may start on right now; the dispatcher's query skips them. */
    busyHosts(now) {
        const busy = [];
        for (const [host, state] of this.#hosts) {
            if (state.active >= this.#options.perHostConcurrency || state.nextStartAt > now)
                busy.push(host);
            else if (state.active === 0)
                this.#hosts.delete(host);
        }
        return busy;
    }
    /** Earliest time a delayed host opens again, or null. */
    nextOpening(now) {
        let next = null;
        for (const state of this.#hosts.values()) {
            if (state.nextStartAt > now && (next === null || state.nextStartAt < next))
                next = state.nextStartAt;
        }
        return next;
    }
    /** Decides for one task; on "admit" a slot on its host is taken (give it back with `release`). */
    admit(task, now) {
        let crawlDelayMs = 0;
        if (task.respectRobots) {
            const robots = this.#robotsFor(new URL(task.url).origin, now);
            if (robots.state === "loading")
                return { verdict: "wait" };
            if (!robots.isAllowed(task.url))
                return { verdict: "deny", reason: robots.note };
            crawlDelayMs = robots.crawlDelayMs;
        }
        const state = this.#hosts.get(task.host) ?? { active: 0, nextStartAt: 0 };
        const limit = Math.min(task.perHostConcurrency, this.#options.perHostConcurrency);
        if (state.active >= limit || state.nextStartAt > now)
            return { verdict: "wait" };
        state.active++;
        const delay = Math.max(task.hostDelayMs, crawlDelayMs);
        if (delay > 0)
            state.nextStartAt = now + delay;
        this.#hosts.set(task.host, state);
        return { verdict: "admit" };
    }
    release(host) {
        const state = this.#hosts.get(host);
        if (!state)
            return;
        state.active = Math.max(0, state.active - 1);
        if (state.active === 0 && state.nextStartAt <= Date.now())
            this.#hosts.delete(host);
    }
    #robotsFor(origin, now) {
        const cached = this.#robots.get(origin);
        if (cached && (cached.state === "loading" || cached.expiresAt > now))
            return cached;
        if (this.#robots.size >= MAX_ROBOTS_ENTRIES)
            this.#evictOldest();
        const loading = { state: "loading" };
        this.#robots.set(origin, loading);
        this.#options
            .fetchRobots(origin)
            .catch((error) => ({ kind: "unreachable", code: "INTERNAL", reason: String(error) }))
            .then((outcome) => {
            this.#robots.set(origin, this.#entryFor(origin, outcome));
            this.#options.onRobotsReady();
        });
        return loading;
    }
    #entryFor(origin, outcome) {
        const now = Date.now();
        const { robotsTtlMs, robotsRetryMs, userAgent } = this.#options;
        switch (outcome.kind) {
            case "found": {
                const robots = robotsParser(`${origin}/robots.txt`, outcome.body);
                return {
                    state: "ready",
                    expiresAt: now + robotsTtlMs,
                    isAllowed: (url) => robots.isAllowed(url, userAgent) !== false,
                    crawlDelayMs: (robots.getCrawlDelay(userAgent) ?? 0) * 1000,
                    note: `robots.txt of ${origin} disallows this URL`,
                };
            }
            case "missing":
                return { state: "ready", expiresAt: now + robotsTtlMs, isAllowed: () => true, crawlDelayMs: 0, note: "" };
            case "unreachable":
                // The host itself cannot be reached (refused, unknown, blocked): let the fetch fail with that precise code.
                if (HOST_UNREACHABLE_CODES.has(outcome.code)) {
                    return { state: "ready", expiresAt: now + robotsRetryMs, isAllowed: () => true, crawlDelayMs: 0, note: "" };
                }
                // RFC 9309 §2.3.1.4: a robots.txt answering 429/5xx or timing out means "disallow all" for now.
                return {
                    state: "ready",
                    expiresAt: now + robotsRetryMs,
                    isAllowed: () => false,
                    crawlDelayMs: 0,
                    note: `robots.txt of ${origin} is unreachable (${outcome.reason}); treated as disallow-all (RFC 9309)`,
                };
        }
    }
    #evictOldest() {
        for (const [origin, entry] of this.#robots) {
            if (entry.state === "ready") {
                this.#robots.delete(origin);
                return;
            }
        }
    }
}
//# sourceMappingURL=host-gate.js.map
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "../generated/prisma/client.js";
import { TRANSITIONS } from "./task-state.js";
// A transition's guard as SQL: the row must still be in one of the `from` states.
const from = (t) => `status IN (${TRANSITIONS[t].from.map((s) => `'${s}'`).join(",")})`;
const to = (t) => `'${TRANSITIONS[t].to}'`;
/**
 * The only code that touches the database. Every status write is one conditional statement built
 * from TRANSITIONS (`UPDATE ... WHERE status IN (<from>)`) and returns the rows it changed, so callers
 * publish exactly what committed. Hot paths use one raw statement per batch (json_each) because
 * Prisma's per-call overhead (~0.3–1 ms) would otherwise dominate a 1,000 pages/s pipeline.
 */
export class TaskRepository {
    #prisma;
    constructor(prisma) {
        this.#prisma = prisma;
    }
    static async open(databaseUrl, synchronous) {
        const adapter = new PrismaBetterSQLite3({ url: databaseUrl }, { timestampFormat: "unixepoch-ms" });
        const prisma = new PrismaClient({ adapter });
        // WAL lets readers run beside the single writer; see README for what synchronous=NORMAL trades.
        await prisma.$queryRawUnsafe("PRAGMA journal_mode = WAL");
        await prisma.$executeRawUnsafe(`PRAGMA synchronous = ${synchronous}`);
        await prisma.$queryRawUnsafe("PRAGMA busy_timeout = 5000");
        return new TaskRepository(prisma);
    }
    async close() {
        await this.#prisma.$disconnect();
    }
    /** Writes the submission and all its tasks in one transaction; returns them in input order. */
    async createSubmission(entries, options) {
        const now = Date.now();
        return this.#prisma.$transaction(async (tx) => {
            const submission = await tx.submission.create({
                data: {
                    perHostConcurrency: options.perHostConcurrency,
                    hostDelayMs: options.hostDelayMs,
                    respectRobots: options.respectRobots,
                },
            });
            const rows = await tx.$queryRawUnsafe(`INSERT INTO Task (submissionId, url, host, status, attempts, maxRetries, runAt, createdAt)
         SELECT ?, value->>0, value->>1, 'PENDING', 0, ?, ?, ? FROM json_each(?) RETURNING id`, submission.id, options.maxRetries, now, now, JSON.stringify(entries.map((e) => [e.url, e.host])));
            // Rows are inserted in json_each order, so ascending ids follow the input order.
            const ids = rows.map((r) => r.id).sort((a, b) => a - b);
            const createdAt = new Date(now);
            const tasks = entries.map((e, i) => ({
                id: ids[i],
                submissionId: submission.id,
                url: e.url,
                host: e.host,
                status: "PENDING",
                attempts: 0,
                maxRetries: options.maxRetries,
                worker: null,
                result: null,
                error: null,
                createdAt,
                startedAt: null,
                finishedAt: null,
            }));
            return { id: submission.id, tasks };
        });
    }
    async findByIds(ids) {
        if (ids.length === 0)
            return [];
        const rows = await this.#prisma.$queryRawUnsafe(`SELECT * FROM Task WHERE id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids));
        return rows.map(toTask);
    }
    async findBySubmission(submissionId) {
        const submission = await this.#prisma.submission.findUnique({ where: { id: submissionId }, select: { id: true } });
        if (!submission)
            return null;
        const rows = await this.#prisma.$queryRawUnsafe(`SELECT * FROM Task WHERE submissionId = ? ORDER BY id`, submissionId);
        return rows.map(toTask);
    }
    /** Keyset pagination in id (submission) order. */
    async list(filter) {
        const rows = await this.#prisma.task.findMany({
            where: { status: filter.status, id: filter.afterId === undefined ? undefined : { gt: filter.afterId } },
            orderBy: { id: "asc" },
            take: filter.first,
        });
        return rows.map(toTask);
    }
    async countByStatus() {
        const groups = await this.#prisma.task.groupBy({ by: ["status"], _count: { _all: true } });
        const counts = { PENDING: 0, RUNNING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 };
        for (const g of groups)
            counts[g.status] = g._count._all;
        return counts;
    }
    /**
     * Oldest runnable PENDING tasks (runAt reached), skipping hosts the dispatcher cannot use now.
     * A read only: `start` claims them.
     */
    async findRunnable(limit, skipHosts, now) {
        const rows = await this.#prisma.$queryRawUnsafe(`SELECT t.id, t.url, t.host, s.perHostConcurrency, s.hostDelayMs, s.respectRobots
         FROM Task t JOIN Submission s ON s.id = t.submissionId
        WHERE t.status = 'PENDING' AND t.runAt <= ?
          AND t.host NOT IN (SELECT value FROM json_each(?))
        ORDER BY t.id LIMIT ?`, now, JSON.stringify(skipHosts), limit);
        return rows.map((r) => ({ ...r, respectRobots: Boolean(r.respectRobots) }));
    }
    /** Earliest runAt among PENDING tasks not yet runnable (retry backoff), or null. */
    async nextRunAt(now) {
        const rows = await this.#prisma.$queryRawUnsafe(`SELECT MIN(runAt) AS next FROM Task WHERE status = 'PENDING' AND runAt > ?`, now);
        const next = rows[0]?.next;
        return next == null ? null : +next;
    }
    /** PENDING → RUNNING for the given ids; returns the tasks actually claimed. */
    async start(ids, now) {
        if (ids.length === 0)
            return [];
        const rows = await this.#prisma.$queryRawUnsafe(`UPDATE Task SET status = ${to("start")}, attempts = attempts + 1, startedAt = ?
        WHERE id IN (SELECT value FROM json_each(?)) AND ${from("start")} RETURNING *`, now, JSON.stringify(ids));
        return rows.map(toTask);
    }
    /**
     * Records the ends of many attempts in one transaction (succeed, fail or retry, each conditional
     * on the task still RUNNING). Returns the rows written, terminal ones first to publish.
     */
    async finishAttempts(outcomes, now) {
        const succeeded = outcomes.filter((o) => o.kind === "succeeded");
        const failed = outcomes.filter((o) => o.kind === "failed");
        const retried = outcomes.filter((o) => o.kind === "retry");
        const written = await this.#prisma.$transaction(async (tx) => {
            const out = [];
            if (succeeded.length > 0) {
                const json = succeeded.map((o) => [o.id, o.worker, ...pageColumns(o.page)]);
                out.push(...(await tx.$queryRawUnsafe(`UPDATE Task SET status = ${to("succeed")}, finishedAt = ?, errorCode = NULL, errorMessage = NULL,
                    worker = j.value->>1, httpStatus = j.value->>2, finalUrl = j.value->>3, contentType = j.value->>4,
                    contentLength = j.value->>5, title = j.value->>6, linkCount = j.value->>7,
                    fetchMs = j.value->>8, parseMs = j.value->>9
               FROM json_each(?) AS j
              WHERE Task.id = j.value->>0 AND Task.${from("succeed")} RETURNING *`, now, JSON.stringify(json))));
            }
            if (failed.length > 0) {
                const json = failed.map((o) => [o.id, o.worker, o.error.code, o.error.message]);
                out.push(...(await tx.$queryRawUnsafe(`UPDATE Task SET status = ${to("fail")}, finishedAt = ?,
                    worker = j.value->>1, errorCode = j.value->>2, errorMessage = j.value->>3
               FROM json_each(?) AS j
              WHERE Task.id = j.value->>0 AND Task.${from("fail")} RETURNING *`, now, JSON.stringify(json))));
            }
            if (retried.length > 0) {
                const json = retried.map((o) => [o.id, o.worker, o.error.code, o.error.message, o.runAt]);
                out.push(...(await tx.$queryRawUnsafe(`UPDATE Task SET status = ${to("retry")},
                    worker = j.value->>1, errorCode = j.value->>2, errorMessage = j.value->>3, runAt = j.value->>4
               FROM json_each(?) AS j
              WHERE Task.id = j.value->>0 AND Task.${from("retry")} RETURNING *`, JSON.stringify(json))));
            }
            return out;
        });
        return written.map(toTask);
    }
    /** PENDING → FAILED without an attempt (robots.txt disallows the URL). */
    async reject(ids, error, now) {
        if (ids.length === 0)
            return [];
        const rows = await this.#prisma.$queryRawUnsafe(`UPDATE Task SET status = ${to("reject")}, finishedAt = ?, errorCode = ?, errorMessage = ?
        WHERE id IN (SELECT value FROM json_each(?)) AND ${from("reject")} RETURNING *`, now, error.code, error.message, JSON.stringify(ids));
        return rows.map(toTask);
    }
    /** PENDING → CANCELLED; null when the task was not PENDING (it is then returned as it stands by the caller). */
    async cancel(id, now) {
        const rows = await this.#prisma.$queryRawUnsafe(`UPDATE Task SET status = ${to("cancel")}, finishedAt = ? WHERE id = ? AND ${from("cancel")} RETURNING *`, now, id);
        return rows[0] ? toTask(rows[0]) : null;
    }
    /** RUNNING → PENDING: for the given ids (shutdown), or for all (start-up after a crash). */
    async requeue(ids) {
        if (ids && ids.length === 0)
            return 0;
        const where = ids ? `id IN (SELECT value FROM json_each(?)) AND ${from("requeue")}` : from("requeue");
        return this.#prisma.$executeRawUnsafe(`UPDATE Task SET status = ${to("requeue")}, startedAt = NULL WHERE ${where}`, ...(ids ? [JSON.stringify(ids)] : []));
    }
}
function pageColumns(p) {
    return [p.httpStatus, p.finalUrl, p.contentType, p.contentLength, p.title, p.linkCount, p.fetchMs, p.parseMs];
}
function toTask(r) {
    const status = r.status;
    return {
        id: r.id,
        submissionId: r.submissionId,
        url: r.url,
        host: r.host,
        status,
        attempts: r.attempts,
        maxRetries: r.maxRetries,
        worker: r.worker,
        result: status === "SUCCEEDED"
            ? {
                httpStatus: r.httpStatus ?? 0,
                finalUrl: r.finalUrl ?? r.url,
                contentType: r.contentType,
                contentLength: r.contentLength ?? 0,
                title: r.title,
                linkCount: r.linkCount ?? 0,
                fetchMs: r.fetchMs ?? 0,
                parseMs: r.parseMs ?? 0,
            }
            : null,
        error: r.errorCode ? { code: r.errorCode, message: r.errorMessage ?? "" } : null,
        createdAt: asDate(r.createdAt),
        startedAt: r.startedAt == null ? null : asDate(r.startedAt),
        finishedAt: r.finishedAt == null ? null : asDate(r.finishedAt),
    };
}
// Raw rows carry Dates for DATETIME columns; RETURNING from UPDATE ... FROM may carry plain numbers.
function asDate(v) {
    return v instanceof Date ? v : new Date(typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v);
}
//# sourceMappingURL=task-repository.js.map
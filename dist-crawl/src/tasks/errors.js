/**
 * Errors the service raises on purpose. Each carries a stable `code` that the GraphQL layer
 * exposes as `extensions.code`; anything else is masked.
 */
export class CrawlqError extends Error {
    code;
    details;
    constructor(code, message, details = {}) {
        super(message);
        this.name = new.target.name;
        this.code = code;
        this.details = details;
    }
}
export class BadUserInputError extends CrawlqError {
    constructor(message, details = {}) {
        super("BAD_USER_INPUT", message, details);
    }
}
export class NotFoundError extends CrawlqError {
    constructor(ids) {
        super("NOT_FOUND", `No task with id ${ids.join(", ")}`, { ids });
    }
}
export class WaitTimeoutError extends CrawlqError {
    constructor(id, timeoutMs) {
        super("TIMEOUT", `Task ${id} was not done within ${timeoutMs} ms; it goes on running`, { id, timeoutMs });
    }
}
export class ShuttingDownError extends CrawlqError {
    constructor() {
        super("SHUTTING_DOWN", "The service is shutting down and takes no new submissions");
    }
}
/** Turns anything thrown into an Error (graphile-worker's coerceError). */
export function coerceError(thrown) {
    return thrown instanceof Error ? thrown : new Error(String(thrown));
}
//# sourceMappingURL=errors.js.map
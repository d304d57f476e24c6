/**
 * Errors the service raises on purpose. Each carries a stable `code` that the GraphQL layer
 * exposes as `extensions.code`; anything else is masked.
 */
export class CrawlqError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

export interface InvalidEntry {
  index: number;
  value: string;
  reason: string;
}

export class BadUserInputError extends CrawlqError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("BAD_USER_INPUT", message, details);
  }
}

/** Unknown ids, named exactly as the client sent them. */
export class NotFoundError extends CrawlqError {
  constructor(kind: "task" | "submission", ids: readonly string[]) {
    super("NOT_FOUND", `No ${kind} with id ${ids.join(", ")}`, { ids });
  }
}

export class WaitTimeoutError extends CrawlqError {
  constructor(id: string, timeoutMs: number) {
    super("TIMEOUT", `Task ${id} was not done within ${timeoutMs} ms; it goes on running`, { id, timeoutMs });
  }
}

export class ShuttingDownError extends CrawlqError {
  constructor() {
    super("SHUTTING_DOWN", "The service is shutting down and takes no new submissions");
  }
}

/** The client went away while waiting: nobody reads this answer, but the wait must end now. */
export class WaitAbortedError extends CrawlqError {
  constructor() {
    super("ABORTED", "The request was aborted while waiting");
  }
}

/** Turns anything thrown into an Error (graphile-worker's coerceError). */
export function toError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

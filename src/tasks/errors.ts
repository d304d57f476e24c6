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

export class NotFoundError extends CrawlqError {
  constructor(ids: readonly string[]) {
    super("NOT_FOUND", `No task with id ${ids.join(", ")}`, { ids });
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

/** Turns anything thrown into an Error (graphile-worker's coerceError). */
export function coerceError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

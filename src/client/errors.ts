/** One entry of a GraphQL response's `errors`, as crawlq sends it (README: every error carries `extensions.code`). */
export interface GraphQLErrorPayload {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: Record<string, unknown>;
}

/** One bad entry of a BAD_USER_INPUT refusal (`extensions.invalid`): its index in the list sent, the value, why. */
export interface InvalidInput {
  index: number;
  value: string;
  reason: string;
}

/**
 * The server answered, with an error: a GraphQL error (its `extensions.code`: BAD_USER_INPUT, NOT_FOUND,
 * TIMEOUT, SHUTTING_DOWN, UNAUTHENTICATED, RATE_LIMITED, …), a WebSocket closed by the server for a reason
 * (4401: UNAUTHENTICATED), or an HTTP answer that is not GraphQL (`HTTP_<status>`).
 */
export class CrawlqClientError extends Error {
  /** `extensions.code` of the first error. */
  readonly code: string;
  /** `extensions` of the first error (code included). */
  readonly extensions: Record<string, unknown>;
  /** Every error of the answer. */
  readonly errors: readonly GraphQLErrorPayload[];
  /** The HTTP status, for an answer over HTTP. */
  readonly status: number | null;

  constructor(code: string, message: string, options: { extensions?: Record<string, unknown>; errors?: readonly GraphQLErrorPayload[]; status?: number | null } = {}) {
    super(message);
    this.name = "CrawlqClientError";
    this.code = code;
    this.extensions = { ...options.extensions, code };
    this.errors = options.errors ?? [{ message, extensions: this.extensions }];
    this.status = options.status ?? null;
  }

  /** From a response's `errors` (at least one). */
  static fromErrors(errors: readonly GraphQLErrorPayload[], status: number | null = null): CrawlqClientError {
    const [first] = errors;
    const extensions = first?.extensions ?? {};
    const code = typeof extensions["code"] === "string" ? extensions["code"] : "UNKNOWN";
    return new CrawlqClientError(code, first?.message ?? "Unknown error", { extensions, errors, status });
  }

  /** The bad entries of a BAD_USER_INPUT about a list (`submitCrawl` URLs), if it names them. */
  get invalid(): InvalidInput[] | undefined {
    const invalid = this.extensions["invalid"];
    return Array.isArray(invalid) ? (invalid as InvalidInput[]) : undefined;
  }

  /** How long to wait before trying again, for RATE_LIMITED. */
  get retryAfterMs(): number | undefined {
    const ms = this.extensions["retryAfterMs"];
    return typeof ms === "number" ? ms : undefined;
  }
}

/** The server could not be reached (refused, unknown host, reset), or a lost connection was not regained. */
export class CrawlqConnectionError extends Error {
  /** The address the client tried. */
  readonly url: string;

  constructor(url: string, reason: string, options: { cause?: unknown } = {}) {
    super(`cannot reach crawlq at ${url}: ${reason}`, options);
    this.name = "CrawlqConnectionError";
    this.url = url;
  }
}

/** Why a fetch or a socket failed, in a few words: the system error code and message where there is one. */
export function describeNetworkFailure(error: unknown): string {
  // fetch throws TypeError("fetch failed") with the system error as its cause; ws gives an ErrorEvent with `.error`.
  let inner: unknown = error;
  for (let depth = 0; depth < 3 && typeof inner === "object" && inner !== null; depth++) {
    const next = (inner as { cause?: unknown; error?: unknown }).cause ?? (inner as { error?: unknown }).error;
    if (next === undefined) break;
    inner = next;
  }
  if (inner instanceof AggregateError && inner.errors.length > 0) inner = inner.errors[0];
  const code = (inner as { code?: unknown } | null)?.code;
  const message = inner instanceof Error ? inner.message : String((inner as { message?: unknown } | null)?.message ?? inner);
  return typeof code === "string" && !message.includes(code) ? `${code} ${message}` : message;
}

import { clampMessage } from "./limits.js";
import type { CrawlErrorCode, CrawlFailure } from "./types.js";

/**
 * An error the crawler raises on purpose: it already knows its {@link CrawlFailure}.
 * It never leaves the crawler; {@link toCrawlFailure} turns it back into the plain failure.
 */
export class CrawlError extends Error {
  readonly code: CrawlErrorCode;
  readonly failure: CrawlFailure;

  /** The failure's message is cut to MAX_ERROR_MESSAGE_LENGTH (it may quote a URL or a header value). */
  constructor(failure: CrawlFailure) {
    const bounded = { ...failure, message: clampMessage(failure.message) };
    super(bounded.message);
    this.name = "CrawlError";
    this.code = bounded.code;
    this.failure = bounded;
  }
}

const DNS_RETRYABLE = new Set(["EAI_AGAIN"]);
const DNS_FINAL = new Set(["ENOTFOUND", "ENODATA", "EAI_NONAME", "EAI_FAIL"]);
const TIMEOUTS = new Set([
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
]);
const CONNECTION_RETRYABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
]);
// TLS failures are a property of the server's setup: another attempt gets the same answer.
const TLS_PREFIXES = ["ERR_TLS_", "ERR_SSL_", "CERT_"];
const TLS_CODES = new Set([
  "EPROTO",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
]);
const DECOMPRESSION_PREFIXES = ["Z_", "ERR_BROTLI_"];

/**
 * Maps anything a crawl attempt can throw (a {@link CrawlError}, a Node or undici error,
 * or a value that is not an error at all) to the one {@link CrawlFailure} it stands for.
 */
export function toCrawlFailure(err: unknown): CrawlFailure {
  if (err instanceof CrawlError) return err.failure;

  const code = errorCode(err);
  const message = messageOf(err);
  if (code === undefined) return failure("INTERNAL", message, false);
  if (DNS_FINAL.has(code)) return failure("DNS", message, false);
  if (DNS_RETRYABLE.has(code)) return failure("DNS", message, true);
  if (TIMEOUTS.has(code)) return failure("TIMEOUT", message, true);
  if (CONNECTION_RETRYABLE.has(code)) return failure("CONNECT", message, true);
  if (TLS_CODES.has(code) || TLS_PREFIXES.some((prefix) => code.startsWith(prefix))) {
    return failure("CONNECT", `TLS: ${message}`, false);
  }
  if (DECOMPRESSION_PREFIXES.some((prefix) => code.startsWith(prefix))) {
    return failure("INTERNAL", `could not decompress the body: ${message}`, false);
  }
  return failure("INTERNAL", message, false);
}

/** Builds a {@link CrawlError} in one call. */
export function crawlError(
  code: CrawlErrorCode,
  message: string,
  retryable: boolean,
  extra: Pick<CrawlFailure, "httpStatus" | "retryAfterMs"> = {},
): CrawlError {
  return new CrawlError({ code, message, retryable, ...extra });
}

function failure(code: CrawlErrorCode, message: string, retryable: boolean): CrawlFailure {
  return { code, message: clampMessage(message), retryable };
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") return code;
  // Node's happy-eyeballs connect reports every failed address in an AggregateError.
  if (err instanceof AggregateError) return errorCode(err.errors[0]);
  return undefined;
}

// The message alone, never a stack; failure() cuts it to its bound.
function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.message === "" && err.errors.length > 0) return messageOf(err.errors[0]);
  if (err instanceof Error) return err.message || err.name;
  return `non-error thrown: ${String(err)}`;
}

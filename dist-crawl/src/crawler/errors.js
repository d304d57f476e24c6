/**
 * An error the crawler raises on purpose: it already knows its {@link CrawlFailure}.
 * It never leaves the crawler; {@link coerceError} turns it back into the plain failure.
 */
export class CrawlError extends Error {
    code;
    failure;
    constructor(failure) {
        super(failure.message);
        this.name = "CrawlError";
        this.code = failure.code;
        this.failure = failure;
    }
}
const MAX_MESSAGE_LENGTH = 300;
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
export function coerceError(err) {
    if (err instanceof CrawlError)
        return err.failure;
    const code = errorCode(err);
    const message = shortMessage(err);
    if (code === undefined)
        return failure("INTERNAL", message, false);
    if (DNS_FINAL.has(code))
        return failure("DNS", message, false);
    if (DNS_RETRYABLE.has(code))
        return failure("DNS", message, true);
    if (TIMEOUTS.has(code))
        return failure("TIMEOUT", message, true);
    if (CONNECTION_RETRYABLE.has(code))
        return failure("CONNECT", message, true);
    if (TLS_CODES.has(code) || TLS_PREFIXES.some((prefix) => code.startsWith(prefix))) {
        return failure("CONNECT", `TLS: ${message}`, false);
    }
    if (DECOMPRESSION_PREFIXES.some((prefix) => code.startsWith(prefix))) {
        return failure("INTERNAL", `could not decompress the body: ${message}`, false);
    }
    return failure("INTERNAL", message, false);
}
/** Builds a {@link CrawlError} in one call. */
export function crawlError(code, message, retryable, extra = {}) {
    return new CrawlError({ code, message: truncate(message), retryable, ...extra });
}
function failure(code, message, retryable) {
    return { code, message, retryable };
}
function errorCode(err) {
    if (typeof err !== "object" || err === null)
        return undefined;
    const code = err.code;
    if (typeof code === "string")
        return code;
    // Node's happy-eyeballs connect reports every failed address in an AggregateError.
    if (err instanceof AggregateError)
        return errorCode(err.errors[0]);
    return undefined;
}
function shortMessage(err) {
    if (err instanceof AggregateError && err.message === "" && err.errors.length > 0)
        return shortMessage(err.errors[0]);
    if (err instanceof Error)
        return truncate(err.message || err.name);
    return truncate(`non-error thrown: ${String(err)}`);
}
// Messages end up in Task.error and logs; a URL inside one can be kilobytes long.
function truncate(message) {
    return message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH - 1)}…` : message;
}
//# sourceMappingURL=errors.js.map
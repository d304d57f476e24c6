/**
 * When to try a failed attempt again: only retryable failures, only while attempts remain.
 * Exponential backoff with equal jitter; a server's Retry-After wins when it asks for longer.
 * Returns the delay in ms, or null for "final".
 */
export function retryDelay(failure, attempts, maxRetries, options, random = Math.random) {
    if (!failure.retryable || attempts > maxRetries)
        return null;
    const exponential = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempts - 1));
    const jittered = exponential / 2 + (random() * exponential) / 2;
    return Math.min(options.maxDelayMs, Math.max(jittered, failure.retryAfterMs ?? 0));
}
//# sourceMappingURL=retry-policy.js.map
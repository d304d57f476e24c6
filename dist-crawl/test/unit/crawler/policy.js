/** A policy for tests against the loopback fixture: private targets allowed unless overridden. */
export function testPolicy(overrides = {}) {
    return {
        timeoutMs: 5000,
        connectTimeoutMs: 2000,
        maxBodyBytes: 10 * 1024 * 1024,
        maxRedirects: 5,
        userAgent: "crawlq-test/0.1 (+https://github.com/crawlq)",
        allowPrivate: true,
        allowList: [],
        resolve: {},
        ...overrides,
    };
}
//# sourceMappingURL=policy.js.map
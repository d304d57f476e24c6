import { createServer } from "node:net";
import { beforeEach, describe, expect, it } from "vitest";
import { crawlPage, type CrawlFailure, type CrawlOutcome, type PageResult } from "../../../src/crawler/index.js";
import {
  BIG_BODY_BYTES,
  expectedBenchPage,
  expectedPage,
  FILE_BIN_BYTES,
  GBK_TITLE,
  SJIS_TITLE,
  type FixtureSite,
} from "../../../testkit/fixture-site.js";
import { testPolicy, useFixtureSite } from "./policy.js";

let site: FixtureSite;

useFixtureSite((started) => (site = started));

beforeEach(() => site.resetStats());

function page(outcome: CrawlOutcome): PageResult {
  if (!outcome.ok) throw new Error(`expected a page, got ${JSON.stringify(outcome.error)}`);
  return outcome.page;
}

function failure(outcome: CrawlOutcome): CrawlFailure {
  if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome.page)}`);
  return outcome.error;
}

/** The fixture sees the client's disconnect a moment after crawlPage returns. */
async function settled(path: string) {
  await expect.poll(() => site.requestLog.find((record) => record.path === path)?.end ?? null).not.toBeNull();
  return site.requestLog.find((record) => record.path === path)!;
}

describe("crawlPage on ordinary pages", () => {
  it.each([0, 1, 7, 16, 17, 123, 4096])("extracts /page/%i exactly as the fixture built it", async (n) => {
    const result = page(await crawlPage(site.url(`/page/${n}`), testPolicy()));
    expect(result).toMatchObject({
      httpStatus: 200,
      finalUrl: site.url(`/page/${n}`),
      contentType: "text/html; charset=utf-8",
      ...expectedPage(n),
    });
    expect(result.fetchMs).toBeGreaterThan(0);
    expect(result.parseMs).toBeGreaterThan(0);
  });

  it("extracts a 30 KB /bench page", async () => {
    const result = page(await crawlPage(site.url("/bench/42"), testPolicy()));
    expect(result).toMatchObject(expectedBenchPage(42));
    expect(result.contentLength).toBeGreaterThan(25_000);
  });

  it.each(["gzip", "deflate", "br"])("undoes %s content-encoding and reports the decoded length", async (encoding) => {
    const result = page(await crawlPage(site.url(`/page/5?encoding=${encoding}`), testPolicy()));
    expect(result).toMatchObject(expectedPage(5));
  });

  it("sends the policy's User-Agent", async () => {
    await crawlPage(site.url("/redirect/2"), testPolicy({ userAgent: "crawlq-ua-check/1.0" }));
    expect(site.requestLog.map((record) => record.userAgent)).toEqual(Array(3).fill("crawlq-ua-check/1.0"));
  });

  it("records non-HTML content without parsing it", async () => {
    expect(page(await crawlPage(site.url("/file.bin"), testPolicy()))).toMatchObject({
      httpStatus: 200,
      contentType: "application/octet-stream",
      contentLength: FILE_BIN_BYTES,
      title: null,
      linkCount: 0,
      parseMs: 0,
    });
  });

  it("decodes a GBK page by its Content-Type charset", async () => {
    expect(page(await crawlPage(site.url("/gbk"), testPolicy()))).toMatchObject({ title: GBK_TITLE, linkCount: 2 });
  });

  it("decodes a Shift_JIS page by its <meta charset>", async () => {
    const result = page(await crawlPage(site.url("/sjis"), testPolicy()));
    expect(result).toMatchObject({ title: SJIS_TITLE, linkCount: 2, contentType: "text/html" });
  });
});

describe("crawlPage on HTTP errors", () => {
  it.each([
    [404, "HTTP 404 Not Found", false],
    [410, "HTTP 410 Gone", false],
    [408, "HTTP 408 Request Timeout", true],
    [429, "HTTP 429 Too Many Requests", true],
    [500, "HTTP 500 Internal Server Error", true],
    [503, "HTTP 503 Service Unavailable", true],
  ])("fails %i with HTTP_STATUS", async (status, message, retryable) => {
    expect(failure(await crawlPage(site.url(`/status/${status}`), testPolicy()))).toEqual({
      code: "HTTP_STATUS",
      message,
      retryable,
      httpStatus: status,
    });
  });

  it("carries Retry-After in seconds", async () => {
    expect(failure(await crawlPage(site.url("/status/503?retry-after=7"), testPolicy())).retryAfterMs).toBe(7000);
  });

  it("carries Retry-After given as an HTTP date", async () => {
    const date = new Date(Date.now() + 30_000).toUTCString();
    const { retryAfterMs } = failure(await crawlPage(site.url(`/status/429?retry-after=${encodeURIComponent(date)}`), testPolicy()));
    expect(retryAfterMs).toBeGreaterThan(27_000);
    expect(retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it("fails a connection refused with CONNECT, retryable", async () => {
    const port = await unusedPort();
    expect(failure(await crawlPage(`http://127.0.0.1:${port}/`, testPolicy()))).toMatchObject({
      code: "CONNECT",
      retryable: true,
    });
  });
});

describe("crawlPage redirects", () => {
  it("follows a chain through 301, 302, 303, 307 and 308", async () => {
    const result = page(await crawlPage(site.url("/redirect/5"), testPolicy()));
    expect(result).toMatchObject({ finalUrl: site.url("/page/1"), ...expectedPage(1) });
    expect(site.requestCount("/redirect/")).toBe(5);
  });

  it("fails one redirect past maxRedirects with TOO_MANY_REDIRECTS", async () => {
    const error = failure(await crawlPage(site.url("/redirect/3"), testPolicy({ maxRedirects: 2 })));
    expect(error).toMatchObject({ code: "TOO_MANY_REDIRECTS", retryable: false, httpStatus: 302 });
    expect(error.message).toContain("HTTP 302");
    expect(site.requestCount("/page/")).toBe(0);
  });

  it("stops a redirect loop", async () => {
    expect(failure(await crawlPage(site.url("/loop"), testPolicy()))).toMatchObject({ code: "TOO_MANY_REDIRECTS" });
    expect(site.requestCount("/loop")).toBe(6);
  });

  it("treats a 3xx without a Location as a failed status", async () => {
    expect(failure(await crawlPage(site.url("/status/302"), testPolicy()))).toMatchObject({
      code: "HTTP_STATUS",
      httpStatus: 302,
      retryable: false,
    });
  });
});

describe("crawlPage departure", () => {
  it("reports once, after the first request is written and before the site handles it, not again for redirect hops", async () => {
    const reported: number[] = [];
    const result = page(await crawlPage(site.url("/redirect/3"), testPolicy(), undefined, () => reported.push(performance.now())));
    expect(result.finalUrl).toBe(site.url("/page/1"));
    expect(reported).toHaveLength(1);
    const [first] = [...site.requestLog].sort((a, b) => a.start - b.start);
    expect(first?.path).toBe("/redirect/3");
    // The fixture runs on this thread: its handler is a later task than the microtask that reports.
    expect(reported[0]).toBeLessThanOrEqual(first!.start);
  });

  it("reports nothing for a request that never left: a refused connection, an address the SSRF guard blocks", async () => {
    const reported: string[] = [];
    const port = await unusedPort();
    expect(failure(await crawlPage(`http://127.0.0.1:${port}/`, testPolicy(), undefined, () => reported.push("refused"))).code).toBe("CONNECT");
    const guarded = testPolicy({ allowPrivate: false, resolve: { "www.public-site.test": "127.0.0.1" } });
    const blocked = await crawlPage(`http://www.public-site.test:${site.port}/page/1`, guarded, undefined, () => reported.push("blocked"));
    expect(failure(blocked).code).toBe("BLOCKED_ADDRESS");
    expect(reported).toEqual([]);
    expect(site.requestCount()).toBe(0);
  });
});

describe("crawlPage schemes", () => {
  it.each(["ftp://127.0.0.1/file", "file:///etc/passwd", "javascript:alert(1)", "not a url"])(
    "refuses %s with UNSUPPORTED_SCHEME",
    async (url) => {
      expect(failure(await crawlPage(url, testPolicy()))).toMatchObject({ code: "UNSUPPORTED_SCHEME", retryable: false });
    },
  );

  it("refuses a redirect to another scheme with UNSUPPORTED_SCHEME", async () => {
    const url = site.url(`/redirect-to?url=${encodeURIComponent("ftp://127.0.0.1/pub/file")}`);
    expect(failure(await crawlPage(url, testPolicy()))).toMatchObject({ code: "UNSUPPORTED_SCHEME", retryable: false });
  });
});

describe("crawlPage limits", () => {
  it("aborts a streamed body as soon as it passes maxBodyBytes", async () => {
    const error = failure(await crawlPage(site.url("/big"), testPolicy()));
    expect(error).toMatchObject({ code: "TOO_LARGE", retryable: false, httpStatus: 200 });
    expect(error.message).toContain("HTTP 200");
    // The client hung up: the fixture never got to send all BIG_BODY_BYTES.
    expect((await settled("/big")).aborted).toBe(true);
  });

  it("fails early on a declared Content-Length over the cap", async () => {
    const started = performance.now();
    const error = failure(await crawlPage(site.url("/big?declare=1"), testPolicy({ maxBodyBytes: BIG_BODY_BYTES - 1 })));
    expect(error).toMatchObject({ code: "TOO_LARGE", httpStatus: 200 });
    expect(error.message).toContain(`Content-Length ${BIG_BODY_BYTES}`);
    expect(performance.now() - started).toBeLessThan(1000);
    expect((await settled("/big?declare=1")).aborted).toBe(true);
  });

  it("caps the decompressed size of a gzip bomb without buffering it", async () => {
    const maxBodyBytes = 1024 * 1024;
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }, 1);
    try {
      expect(failure(await crawlPage(site.url("/gzip-bomb"), testPolicy({ maxBodyBytes })))).toMatchObject({
        code: "TOO_LARGE",
        httpStatus: 200,
      });
    } finally {
      clearInterval(sampler);
    }
    // The bomb inflates to 64 MiB; holding it would show up here.
    expect(peak - baseline).toBeLessThan(16 * 1024 * 1024);
  });

  it("fails a gzip bomb with the default 10 MiB cap too", async () => {
    expect(failure(await crawlPage(site.url("/gzip-bomb"), testPolicy()))).toMatchObject({ code: "TOO_LARGE" });
  });

  it.each([
    ["/hang", "a server that never answers"],
    ["/stall", "a body that stops halfway"],
    ["/slow?ms=3000", "a slow answer"],
  ])("times out %s (%s) within timeoutMs", async (path) => {
    const timeoutMs = 400;
    const started = performance.now();
    const error = failure(await crawlPage(site.url(path), testPolicy({ timeoutMs })));
    const elapsed = performance.now() - started;
    expect(error).toEqual({ code: "TIMEOUT", message: `timed out after ${timeoutMs} ms`, retryable: true });
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(elapsed).toBeLessThan(timeoutMs + 1000);
  });

  it("applies the timeout across redirect hops", async () => {
    const url = site.url(`/redirect-to?url=${encodeURIComponent("/hang")}`);
    expect(failure(await crawlPage(url, testPolicy({ timeoutMs: 300 })))).toMatchObject({ code: "TIMEOUT" });
  });
});

function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

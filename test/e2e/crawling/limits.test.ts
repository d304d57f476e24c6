/**
 * Limits, identity and decoding, end to end: body cap (streamed and decompressed), redirect cap, the
 * per-attempt timeout, schemes on redirect, non-HTML bodies, charsets, and the User-Agent the site sees.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectedPage,
  FILE_BIN_BYTES,
  GBK_TITLE,
  SJIS_TITLE,
  startFixtureSite,
  type FixtureSite,
} from "../../../testkit/fixture-site.js";
import { startCrawlq, type Crawlq } from "./harness.js";

const USER_AGENT = "crawlq-e2e/1.0 (+https://crawlq.example/bot)";
// Long enough that reading and inflating 2 MiB never runs out of it on a 2-core machine busy with other test files.
const TIMEOUT_MS = 2500;
// Below /big's 16 MiB and the gzip bomb's 64 MiB, small enough to be read well within TIMEOUT_MS on a busy
// machine. (The 10 MiB default itself is covered by test/unit/crawler.)
const MAX_BODY_BYTES = 2 * 1024 * 1024;
const MAX_REDIRECTS = 2;
/** The User-Agent of this file's own look at the fixture (not the service's). */
const PROBE = "limits-test-probe";

let site: FixtureSite;
let crawlq: Crawlq;

beforeAll(async () => {
  site = await startFixtureSite();
  crawlq = await startCrawlq({
    CRAWLQ_RESPECT_ROBOTS: "0",
    CRAWLQ_MAX_RETRIES: "0",
    CRAWLQ_MAX_REDIRECTS: String(MAX_REDIRECTS),
    CRAWLQ_TASK_TIMEOUT_MS: String(TIMEOUT_MS),
    CRAWLQ_USER_AGENT: USER_AGENT,
    CRAWLQ_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
  });
});

afterAll(async () => {
  await crawlq?.stop();
  await site?.close();
});

const crawlOne = async (path: string, options?: { maxRetries?: number }) => (await crawlq.crawl([site.url(path)], options))[0]!;
const forPath = (path: string) => site.requestLog.filter((r) => r.path === path);

describe(`body size cap (CRAWLQ_MAX_BODY_BYTES=${MAX_BODY_BYTES})`, () => {
  it("fails a 16 MiB streamed body with TOO_LARGE and stops reading it", async () => {
    const task = await crawlOne("/big");
    expect(task).toMatchObject({ status: "FAILED", attempts: 1, result: null });
    expect(task.error?.code).toBe("TOO_LARGE");
    expect(task.error?.message).toContain(String(MAX_BODY_BYTES));
    expect(task.error?.message).toContain("HTTP 200");
    const [request] = forPath("/big");
    // The crawler hung up before the fixture could send the whole body.
    expect(request!.aborted).toBe(true);
  });

  it("fails a body whose declared Content-Length is over the cap before reading it", async () => {
    const task = await crawlOne("/big?declare=1");
    expect(task.error?.code).toBe("TOO_LARGE");
    expect(task.error?.message).toMatch(/Content-Length/);
  });

  it("fails a gzip bomb (small on the wire, 64 MiB inflated) with TOO_LARGE", async () => {
    const task = await crawlOne("/gzip-bomb");
    expect(task).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(task.error?.code).toBe("TOO_LARGE");
  });
});

describe("redirects (CRAWLQ_MAX_REDIRECTS=2)", () => {
  it("follows up to the cap", async () => {
    const task = await crawlOne("/redirect/2");
    expect(task).toMatchObject({ status: "SUCCEEDED" });
    expect(task.result).toMatchObject({ finalUrl: site.url("/page/1"), title: expectedPage(1).title });
  });

  it("fails past the cap with TOO_MANY_REDIRECTS, without following the extra hop", async () => {
    site.resetStats();
    const task = await crawlOne("/redirect/5");
    expect(task).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(task.error?.code).toBe("TOO_MANY_REDIRECTS");
    expect(task.error?.message).toContain("HTTP 30");
    expect(site.requestLog.map((r) => r.path)).toEqual(["/redirect/5", "/redirect/4", "/redirect/3"]);
  });

  it.each([
    ["ftp://files.example.invalid/pub/file.txt"],
    ["file:///etc/passwd"],
  ])("fails a redirect to %s with UNSUPPORTED_SCHEME", async (target) => {
    const task = await crawlOne(`/redirect-to?url=${encodeURIComponent(target)}`);
    expect(task).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(task.error?.code).toBe("UNSUPPORTED_SCHEME");
    expect(task.error?.message).toContain(new URL(target).protocol);
  });
});

describe(`per-attempt timeout (CRAWLQ_TASK_TIMEOUT_MS=${TIMEOUT_MS})`, () => {
  it("fails a server that never answers and a body that stops halfway with TIMEOUT, and retries a timeout", async () => {
    const started = performance.now();
    const [hang, stall] = await crawlq.crawl([site.url("/hang?case=timeout"), site.url("/stall?case=timeout")]);
    for (const task of [hang!, stall!]) {
      expect(task).toMatchObject({ status: "FAILED", attempts: 1 });
      expect(task.error?.code).toBe("TIMEOUT");
      expect(task.error?.message).toContain(String(TIMEOUT_MS));
    }
    expect(performance.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS);

    // TIMEOUT is retryable.
    const retried = await crawlOne("/hang?case=timeout-retried", { maxRetries: 1 });
    expect(retried).toMatchObject({ status: "FAILED", attempts: 2 });
    expect(retried.error?.code).toBe("TIMEOUT");
    expect(forPath("/hang?case=timeout-retried")).toHaveLength(2);
  });
});

describe("content", () => {
  it("records a non-HTML body (status, type, length) without parsing it", async () => {
    const task = await crawlOne("/file.bin");
    expect(task).toMatchObject({ status: "SUCCEEDED", error: null });
    expect(task.result).toMatchObject({
      httpStatus: 200,
      contentType: "application/octet-stream",
      contentLength: FILE_BIN_BYTES,
      title: null,
      linkCount: 0,
      parseMs: 0,
    });
  });

  it.each([
    ["GBK, charset in Content-Type", "/gbk", GBK_TITLE],
    ["Shift_JIS, charset in <meta charset>", "/sjis", SJIS_TITLE],
  ])("decodes %s: correct title, contentLength in raw bytes", async (_label, path, title) => {
    const task = await crawlOne(path);
    expect(task).toMatchObject({ status: "SUCCEEDED" });
    // The body as the site sends it, counted in bytes, not as the length of the decoded text.
    const raw = await fetch(site.url(path), { headers: { "user-agent": PROBE } });
    const rawBytes = (await raw.arrayBuffer()).byteLength;
    expect(task.result).toMatchObject({ title, linkCount: 2, contentLength: rawBytes });
  });

  it.each(["gzip", "deflate", "br"])("counts a %s page's contentLength after decompression", async (encoding) => {
    const task = await crawlOne(`/page/3?encoding=${encoding}`);
    expect(task.result).toMatchObject({ title: expectedPage(3).title, contentLength: expectedPage(3).contentLength });
  });
});

describe("identity", () => {
  it("sends CRAWLQ_USER_AGENT on every request", async () => {
    await crawlOne("/page/8?case=ua");
    const fromService = site.requestLog.filter((r) => r.userAgent !== PROBE);
    expect(fromService.length).toBeGreaterThan(5);
    expect(new Set(fromService.map((r) => r.userAgent))).toEqual(new Set([USER_AGENT]));
  });
});

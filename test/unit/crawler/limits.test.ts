import { describe, expect, it } from "vitest";
import { crawlPage, type CrawlFailure, type CrawlOutcome, type PageResult } from "../../../src/crawler/index.js";
import {
  boundCrawlOutcome,
  boundRobotsOutcome,
  clampMessage,
  clampText,
  MAX_CONTENT_TYPE_LENGTH,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_FINAL_URL_LENGTH,
  MAX_TITLE_LENGTH,
} from "../../../src/crawler/limits.js";
import { hugeTitle, type FixtureSite } from "../../../testkit/fixture-site.js";
import { testPolicy, useFixtureSite } from "./policy.js";

let site: FixtureSite;

useFixtureSite((started) => (site = started));

const page = (overrides: Partial<PageResult> = {}): PageResult => ({
  httpStatus: 200,
  finalUrl: "http://site.example/",
  contentType: "text/html",
  contentLength: 10,
  title: "Title",
  linkCount: 3,
  fetchMs: 1,
  parseMs: 1,
  ...overrides,
});

describe("clampText and clampMessage", () => {
  it("leave a string at or under the bound alone", () => {
    expect(clampText("abc", 3)).toBe("abc");
    expect(clampMessage("x".repeat(MAX_ERROR_MESSAGE_LENGTH))).toBe("x".repeat(MAX_ERROR_MESSAGE_LENGTH));
  });

  it("cut to the bound, never splitting a surrogate pair", () => {
    expect(clampText("abcdef", 4)).toBe("abcd");
    // "😀" is two UTF-16 code units; a cut through it drops the whole character.
    expect(clampText("abc😀def", 4)).toBe("abc");
    expect(clampText("abc😀def", 5)).toBe("abc😀");
  });

  it("end a cut message with an ellipsis, within the bound", () => {
    const message = clampMessage("y".repeat(MAX_ERROR_MESSAGE_LENGTH + 1));
    expect(message).toHaveLength(MAX_ERROR_MESSAGE_LENGTH);
    expect(message.endsWith("y…")).toBe(true);
  });
});

describe("boundCrawlOutcome (the worker's reply)", () => {
  it("cuts title, finalUrl and contentType to their bounds and keeps everything else", () => {
    const long = page({
      finalUrl: `http://site.example/${"u".repeat(20_000)}`,
      contentType: `text/html; ${"c".repeat(20_000)}`,
      title: "t".repeat(20_000),
    });
    const bounded = boundCrawlOutcome({ ok: true, page: long });
    expect(bounded).toEqual({
      ok: true,
      page: {
        ...long,
        finalUrl: long.finalUrl.slice(0, MAX_FINAL_URL_LENGTH),
        contentType: long.contentType!.slice(0, MAX_CONTENT_TYPE_LENGTH),
        title: "t".repeat(MAX_TITLE_LENGTH),
      },
    });
  });

  it("leaves an ordinary page, and null title and content type, as they are", () => {
    expect(boundCrawlOutcome({ ok: true, page: page() })).toEqual({ ok: true, page: page() });
    const nulls = page({ title: null, contentType: null });
    expect(boundCrawlOutcome({ ok: true, page: nulls })).toEqual({ ok: true, page: nulls });
  });

  it("cuts a failure's message and keeps its other fields", () => {
    const error: CrawlFailure = { code: "BLOCKED_ADDRESS", message: "m".repeat(50_000), retryable: false, beforeRequest: true };
    const bounded = boundCrawlOutcome({ ok: false, error });
    expect(bounded).toEqual({ ok: false, error: { ...error, message: `${"m".repeat(MAX_ERROR_MESSAGE_LENGTH - 1)}…` } });
  });
});

describe("boundRobotsOutcome", () => {
  it("cuts the URL of a found robots.txt and the reason of an unreachable one; leaves the body alone", () => {
    const body = "User-agent: *\n".repeat(1000);
    const found = boundRobotsOutcome({ kind: "found", url: `http://a.example/${"u".repeat(20_000)}`, body });
    expect(found).toMatchObject({ kind: "found", body });
    expect(found.kind === "found" && found.url.length).toBe(MAX_FINAL_URL_LENGTH);
    const unreachable = boundRobotsOutcome({ kind: "unreachable", code: "TIMEOUT", reason: "r".repeat(20_000) });
    expect(unreachable.kind === "unreachable" && unreachable.reason.length).toBe(MAX_ERROR_MESSAGE_LENGTH);
    expect(boundRobotsOutcome({ kind: "missing", httpStatus: 404 })).toEqual({ kind: "missing", httpStatus: 404 });
  });
});

describe("what a page can make long, from the crawler", () => {
  function failure(outcome: CrawlOutcome): CrawlFailure {
    if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome.page)}`);
    return outcome.error;
  }

  it("a 10,000,000-character <title> comes back cut to MAX_TITLE_LENGTH", async () => {
    const outcome = await crawlPage(site.url("/huge-title"), testPolicy());
    expect(outcome.ok && outcome.page.title).toBe(hugeTitle(MAX_TITLE_LENGTH));
  });

  it("a redirect refused by the redirect check quotes a long Location within the message bound", async () => {
    const url = site.url("/long-header?name=location&length=12000");
    const error = failure(
      await crawlPage(url, testPolicy(), async () => ({ code: "ROBOTS_DISALLOWED", message: "robots.txt says no", retryable: false })),
    );
    expect(error.code).toBe("ROBOTS_DISALLOWED");
    expect(error.message.startsWith(`redirect to ${site.url("/page/1?pad=xxx")}`)).toBe(true);
    expect(error.message).toHaveLength(MAX_ERROR_MESSAGE_LENGTH);
  });

  it.each([
    ["TOO_MANY_REDIRECTS", { maxRedirects: 0 }],
    ["UNSUPPORTED_SCHEME", {}],
  ] as const)("a %s failure about a long URL stays within the message bound", async (code, overrides) => {
    const target = code === "UNSUPPORTED_SCHEME" ? `ftp://files.example/${"f".repeat(12_000)}` : "/page/1";
    const url = site.url(`/redirect-to?url=${encodeURIComponent(target)}&pad=${"p".repeat(code === "UNSUPPORTED_SCHEME" ? 0 : 12_000)}`);
    const error = failure(await crawlPage(url, testPolicy(overrides)));
    expect(error.code).toBe(code);
    expect(error.message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_LENGTH);
  });

  it("a long Content-Type and a long final URL are cut in the worker's reply", async () => {
    const longType = boundCrawlOutcome(await crawlPage(site.url("/long-header?name=content-type&length=12000"), testPolicy()));
    expect(longType.ok && longType.page.contentType).toBe(`text/html; charset=utf-8; pad=${"x".repeat(MAX_CONTENT_TYPE_LENGTH - 30)}`);
    const longUrl = boundCrawlOutcome(await crawlPage(site.url("/long-header?name=location&length=12000"), testPolicy()));
    expect(longUrl.ok && longUrl.page.finalUrl).toHaveLength(MAX_FINAL_URL_LENGTH);
    expect(longUrl.ok && longUrl.page.title).toBe("Page 1");
  });
});

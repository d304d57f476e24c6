import { describe, expect, it } from "vitest";
import { BadUserInputError } from "../../src/tasks/errors.js";
import { validateUrls } from "../../src/tasks/validate-urls.js";

const limits = { maxUrlsPerSubmission: 3, maxUrlLength: 40 };

function invalidOf(urls: string[]) {
  try {
    validateUrls(urls, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(BadUserInputError);
    return (error as BadUserInputError).details.invalid;
  }
  throw new Error("expected a BadUserInputError");
}

describe("validateUrls", () => {
  it("accepts absolute http(s) URLs and keys them by host name", () => {
    expect(validateUrls(["https://Example.COM/a?b#c", "http://[::1]:8080/"], limits)).toEqual([
      { url: "https://example.com/a?b#c", host: "example.com" },
      { url: "http://[::1]:8080/", host: "[::1]" },
    ]);
  });

  it("names every bad entry with its index and reason", () => {
    expect(invalidOf(["http://ok.example/", "ftp://x.example/", "relative/path"])).toEqual([
      { index: 1, value: "ftp://x.example/", reason: "scheme must be http or https, not ftp" },
      { index: 2, value: "relative/path", reason: "not an absolute URL" },
    ]);
    expect(invalidOf([`http://a.example/${"x".repeat(40)}`])).toEqual([
      expect.objectContaining({ index: 0, reason: "longer than 40 characters" }),
    ]);
  });

  it("bounds the number of URLs", () => {
    expect(() => validateUrls([], limits)).toThrow(BadUserInputError);
    expect(() => validateUrls(["http://a.example/", "http://b.example/", "http://c.example/", "http://d.example/"], limits)).toThrow(
      /1 to 3 URLs/,
    );
  });
});

import { describe, expect, it } from "vitest";
import { maxNesting } from "../../src/http/graphql-limits.js";

describe("maxNesting (the text scan before parsing)", () => {
  it("counts braces, parentheses and brackets, and not those inside strings or comments", () => {
    expect(maxNesting("{ pool { threads } }", 100)).toBe(2);
    expect(maxNesting('query { a(x: [[1]], s: "{{{{", b: """ {{{ \\""" {{ """) { b } } # {{{{{{', 100)).toBe(4);
  });

  it("stops counting past the limit", () => {
    expect(maxNesting("{".repeat(20_000), 64)).toBe(65);
  });
});

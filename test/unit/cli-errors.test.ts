import { CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { CrawlqClientError, CrawlqConnectionError, describeNetworkFailure } from "../../src/client/errors.js";
import { describeFailure, EXIT, UsageError } from "../../src/cli/errors.js";

const served = (code: string, message: string, extensions: Record<string, unknown> = {}) =>
  CrawlqClientError.fromErrors([{ message, extensions: { code, ...extensions } }], 200);

describe("what a failing command prints", () => {
  it("one line with the server's code, and the exit code: 2 for BAD_USER_INPUT, 1 for the other refusals", () => {
    const cases: Array<[CrawlqClientError, string, number]> = [
      [served("BAD_USER_INPUT", "2 of 3 URLs are invalid: #1: not an absolute URL"), "BAD_USER_INPUT: 2 of 3 URLs are invalid: #1: not an absolute URL", EXIT.usage],
      [served("NOT_FOUND", "No task with id 9"), "NOT_FOUND: No task with id 9", EXIT.failed],
      [served("TIMEOUT", "Task 9 was not done within 5 ms; it goes on running"), "TIMEOUT: Task 9 was not done within 5 ms; it goes on running", EXIT.failed],
      [served("SHUTTING_DOWN", "The service is shutting down and takes no new submissions"), "SHUTTING_DOWN: The service is shutting down and takes no new submissions", EXIT.failed],
      [served("RATE_LIMITED", "Rate limited: at most 10 operations per minute per API key; retry in 6 s", { retryAfterMs: 5400 }), "RATE_LIMITED: Rate limited: at most 10 operations per minute per API key; retry in 6 s", EXIT.failed],
      [served("UNAUTHENTICATED", "This crawlq requires an API key"), "UNAUTHENTICATED: This crawlq requires an API key (pass --key KEY or set CRAWLQ_API_KEY)", EXIT.failed],
    ];
    for (const [error, line, exitCode] of cases) expect(describeFailure(error)).toEqual({ line, exitCode });
    expect(served("RATE_LIMITED", "x", { retryAfterMs: 5400 }).retryAfterMs).toBe(5400);
  });

  it("exit 3 for a server that cannot be reached; 2 for usage errors; line breaks never reach the terminal", () => {
    const refused = new CrawlqConnectionError("http://127.0.0.1:1/graphql", "ECONNREFUSED connect failed");
    expect(describeFailure(refused)).toEqual({ line: "cannot reach crawlq at http://127.0.0.1:1/graphql: ECONNREFUSED connect failed", exitCode: EXIT.unreachable });
    expect(describeFailure(new UsageError("cannot read urls.txt: ENOENT"))).toEqual({ line: "cannot read urls.txt: ENOENT", exitCode: EXIT.usage });
    expect(describeFailure(served("NOT_FOUND", "No task with id a\nb\r\nc")).line).toBe("NOT_FOUND: No task with id a b c");
    expect(describeFailure(new CommanderError(1, "commander.unknownOption", "error: unknown option"))).toEqual({ line: "", exitCode: EXIT.usage });
    expect(describeFailure(new CommanderError(0, "commander.helpDisplayed", "(outputHelp)"))).toEqual({ line: "", exitCode: EXIT.ok });
  });

  it("names a network failure by its system error", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    expect(describeNetworkFailure(new TypeError("fetch failed", { cause }))).toBe("connect ECONNREFUSED 127.0.0.1:1");
    const dns = Object.assign(new Error("getaddrinfo failed"), { code: "ENOTFOUND" });
    expect(describeNetworkFailure({ type: "error", error: dns })).toBe("ENOTFOUND getaddrinfo failed");
  });
});

import type { Command } from "commander";
import { Result } from "../../client/operations.js";
import { integer, withClient, withConnectionOptions, type ConnectionOptions } from "../connection.js";
import { isFailure, outcomeExitCode } from "../errors.js";
import { printTask } from "../render.js";

/** `crawlq result ID`: Future.result(timeout). */
export function registerResult(program: Command): void {
  withConnectionOptions(
    program
      .command("result")
      .description("wait until a task is done and print it (exit 1 if it failed or was cancelled)")
      .argument("<id>", "the task's id")
      .option("--timeout <ms>", "how long to wait; TIMEOUT after it (the server's default 30,000, at most 300,000)", integer(0))
      .option("--json", "print the task as one JSON object (the export's fields)", false),
  ).action((id: string, options: ConnectionOptions & { timeout?: number; json: boolean }) =>
    withClient(options, async (client) => {
      const { result } = await client.request(Result, { id, timeoutMs: options.timeout });
      printTask(process.stdout, result, options.json);
      process.exitCode = outcomeExitCode(isFailure(result.status) ? 1 : 0);
    }),
  );
}

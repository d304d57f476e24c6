import { Option, type Command } from "commander";
import type { ReturnWhen } from "../../client/generated/graphql.js";
import { toExportRecord } from "../../client/export-format.js";
import { Batch } from "../../client/operations.js";
import { integer, withClient, withConnectionOptions, type ConnectionOptions } from "../connection.js";
import { EXIT, isFailure, outcomeExitCode, UsageError } from "../errors.js";
import { count, printTasks } from "../render.js";

const RETURN_WHEN: readonly ReturnWhen[] = ["ALL_COMPLETED", "FIRST_COMPLETED", "FIRST_EXCEPTION"];

interface BatchOptions extends ConnectionOptions {
  submission?: string;
  returnWhen: ReturnWhen;
  timeout?: number;
  json: boolean;
}

/** `crawlq batch ID…|--submission ID`: concurrent.futures.wait, then every result. */
export function registerBatch(program: Command): void {
  withConnectionOptions(
    program
      .command("batch")
      .description(
        "wait for many tasks (given ids, or a whole submission) until --return-when holds or the timeout passes, then print them " +
          "(exit 1 if the condition was not met in time, or a task failed or was cancelled)",
      )
      .argument("[ids...]", "task ids (or use --submission)")
      .option("--submission <id>", "every task of this submission")
      .addOption(new Option("--return-when <condition>", "when to stop waiting").choices(RETURN_WHEN).default("ALL_COMPLETED"))
      .option("--timeout <ms>", "how long to wait (the server's default 30,000, at most 300,000)", integer(0))
      .option("--json", "print {complete, done, notDone, tasks: [...]} as one JSON object", false),
  ).action((ids: string[], options: BatchOptions) => {
    if ((ids.length > 0) === (options.submission !== undefined)) throw new UsageError("give task ids or --submission ID (one of them)");
    return withClient(options, async (client) => {
      const { batch } = await client.request(Batch, {
        ids: ids.length > 0 ? ids : undefined,
        submissionId: options.submission,
        timeoutMs: options.timeout,
        returnWhen: options.returnWhen,
      });
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ ...batch, tasks: batch.tasks.map(toExportRecord) })}\n`);
      } else {
        printTasks(process.stdout, batch.tasks, false);
        process.stderr.write(`crawlq: ${batch.complete ? "complete" : "not complete"}: ${count(batch.done)} done, ${count(batch.notDone)} not done\n`);
      }
      const failures = batch.tasks.filter((t) => isFailure(t.status)).length;
      process.exitCode = batch.complete ? outcomeExitCode(failures) : EXIT.failed;
    });
  });
}

import type { Command } from "commander";
import { CancelTask } from "../../client/operations.js";
import { withClient, withConnectionOptions, type ConnectionOptions } from "../connection.js";
import { EXIT } from "../errors.js";
import { printTask } from "../render.js";

/** `crawlq cancel ID`: Future.cancel(). */
export function registerCancel(program: Command): void {
  withConnectionOptions(
    program
      .command("cancel")
      .description("cancel a PENDING task and print it (exit 1 if it was already running or done, as Future.cancel() returns False)")
      .argument("<id>", "the task's id")
      .option("--json", "print the task as one JSON object (the export's fields)", false),
  ).action((id: string, options: ConnectionOptions & { json: boolean }) =>
    withClient(options, async (client) => {
      const { cancelTask } = await client.request(CancelTask, { id });
      printTask(process.stdout, cancelTask, options.json);
      if (cancelTask.status === "CANCELLED") return;
      process.stderr.write(`crawlq: task ${id} is ${cancelTask.status}: only a PENDING task can be cancelled\n`);
      process.exitCode = EXIT.failed;
    }),
  );
}

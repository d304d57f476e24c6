import type { Command } from "commander";
import { followCompletions, followSubmission, type DoneTask } from "../../client/follow.js";
import { connect, withConnectionOptions, type ConnectionOptions } from "../connection.js";
import { isFailure, oneLine, outcomeExitCode } from "../errors.js";
import { formatTaskLine } from "../render.js";

/** `crawlq watch [--submission ID]`: each completion as it happens. */
export function registerWatch(program: Command): void {
  withConnectionOptions(
    program
      .command("watch")
      .description(
        "print each task as it completes: those of one submission (done ones first; ends after the last, exit 1 if any " +
          "failed or was cancelled), or without --submission every completion you may see from now on, until interrupted",
      )
      .option("--submission <id>", "only this submission's tasks")
      .option("--json", "one JSON object per line (the export's fields)", false),
  ).action(async (options: ConnectionOptions & { submission?: string; json: boolean }) => {
    const note = (message: string) => process.stderr.write(`crawlq: ${oneLine(message)}\n`);
    const client = connect(options, note);
    let failures = 0;
    const print = (task: DoneTask) => {
      if (isFailure(task.status)) failures++;
      process.stdout.write(formatTaskLine(task, options.json));
    };
    const onResubscribe = (why: string) => note(`subscribing again (${why})`);
    try {
      if (options.submission === undefined) await followCompletions(client, print, { onResubscribe });
      else await followSubmission(client, options.submission, { onTask: print, onResubscribe });
      process.exitCode = outcomeExitCode(failures);
    } finally {
      await client.close();
    }
  });
}

import type { Command } from "commander";
import { Pool } from "../../client/operations.js";
import { withClient, withConnectionOptions, type ConnectionOptions } from "../connection.js";
import { count, formatTable } from "../render.js";

/** `crawlq stats`: the pool query. */
export function registerStats(program: Command): void {
  withConnectionOptions(
    program
      .command("stats")
      .description("the worker pool's size and the task counts by status (yours; every key's with an admin key)")
      .option("--json", "print one JSON object", false),
  ).action((options: ConnectionOptions & { json: boolean }) =>
    withClient(options, async (client) => {
      const { pool } = await client.request(Pool);
      process.stdout.write(
        options.json ? `${JSON.stringify(pool)}\n` : formatTable(Object.entries(pool).map(([name, value]) => [name, count(value)])),
      );
    }),
  );
}

import type { Command } from "commander";
import { Pool } from "../../client/operations.js";
import { withClient, withConnectionOptions, type ConnectionOptions } from "../connection.js";
import { count, formatTable } from "../render.js";

/** `crawlq stats`: the pool query. */
export function registerStats(program: Command): void {
  withConnectionOptions(
    program
      .command("stats")
      .description(
        "the worker pools' size (every live instance's), the task counts by status (yours; every key's with an admin key), and the instances",
      )
      .option("--json", "print one JSON object", false),
  ).action((options: ConnectionOptions & { json: boolean }) =>
    withClient(options, async (client) => {
      const { pool } = await client.request(Pool);
      if (options.json) return void process.stdout.write(`${JSON.stringify(pool)}\n`);
      const { instances, ...totals } = pool;
      process.stdout.write(formatTable(Object.entries(totals).map(([name, value]) => [name, count(value)])));
      // One line per live instance (one with SQLite; each of a PostgreSQL cluster's).
      process.stdout.write(
        `\n${formatTable([
          ["instance", "host", "threads", "in flight", "last heartbeat"],
          ...instances.map((i) => [i.id, i.hostName, count(i.threads), count(i.inFlight), i.lastHeartbeat]),
        ])}`,
      );
    }),
  );
}

#!/usr/bin/env node
/**
 * The `crawlq` command: `serve` runs the service; `keys` manages API keys in the database that
 * DATABASE_URL names (the same settings as the service: see the README); `submit`, `result`, `batch`,
 * `watch`, `cancel` and `stats` are clients of a running service (--server, --key).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import type { KeyStore } from "../auth/api-keys.js";
import { CrawlqError } from "../tasks/errors.js";
import { registerBatch } from "./commands/batch.js";
import { registerCancel } from "./commands/cancel.js";
import { registerResult } from "./commands/result.js";
import { registerStats } from "./commands/stats.js";
import { registerSubmit } from "./commands/submit.js";
import { registerWatch } from "./commands/watch.js";
import { DEFAULT_SERVER } from "./connection.js";
import { describeFailure, EXIT } from "./errors.js";

const mainJs = fileURLToPath(new URL("../main.js", import.meta.url));

/** The service in a child node with the README's heap cap; SIGTERM and SIGINT are passed on, its exit code returned. */
function serve(): Promise<number> {
  const child = spawn(process.execPath, ["--max-old-space-size=256", mainJs], { stdio: "inherit" });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGTERM", forward);
  process.on("SIGINT", forward);
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}

/**
 * Runs `work` on the key store of the configured database. A database without the keys table (new, or
 * from an older crawlq) is migrated first; one that has it is left alone, so this works beside a
 * running service.
 */
async function withKeys<T>(work: (keys: KeyStore) => Promise<T>): Promise<T> {
  // Loaded here: the client commands start faster without the service's configuration and database code.
  const [{ backendFor }, { loadConfig }] = await Promise.all([import("../backends/index.js"), import("../config.js")]);
  const keys = await backendFor(loadConfig()).openKeys();
  try {
    return await work(keys);
  } finally {
    await keys.close();
  }
}

const program = new Command("crawlq")
  .description("A self-hosted crawl-task service with a futures API over GraphQL")
  .showHelpAfterError()
  .exitOverride()
  .addHelpText(
    "after",
    `
The client commands (submit, result, batch, watch, cancel, stats) take --server URL (env CRAWLQ_SERVER,
default ${DEFAULT_SERVER}) and --key KEY (env CRAWLQ_API_KEY); \`crawlq COMMAND --help\` lists each one's flags.

Exit codes: ${EXIT.ok} done (every task reported succeeded); ${EXIT.failed} a task failed or was cancelled, or the server
refused (NOT_FOUND, TIMEOUT, UNAUTHENTICATED, ...); ${EXIT.usage} usage error (bad flags, unreadable URL file,
BAD_USER_INPUT); ${EXIT.unreachable} the server could not be reached.`,
  );

program
  .command("serve")
  .description("start the service (what `npm start` runs); SIGTERM/SIGINT stop it gracefully")
  .action(async () => {
    process.exitCode = await serve();
  });

const keys = program
  .command("keys")
  .description("manage API keys; once any key exists, every request needs one (Authorization: Bearer KEY)");

keys
  .command("create")
  .description("create a key and print it once (only its hash is stored)")
  .argument("<name>", "a name for the key: letters, digits, '.', '_' or '-'")
  .option("--admin", "the key sees every task and the whole pool", false)
  .action(async (name: string, options: { admin: boolean }) => {
    const { key, record } = await withKeys((store) => store.create(name, options.admin));
    process.stderr.write(`created key ${record.name}${record.admin ? " (admin)" : ""}; it is shown this once:\n`);
    process.stdout.write(`${key}\n`);
  });

keys
  .command("list")
  .description("list keys (names, roles, dates; never the keys themselves)")
  .option("--json", "one JSON object per line", false)
  .action(async (options: { json: boolean }) => {
    const records = await withKeys((store) => store.list());
    for (const r of records) {
      const line = options.json
        ? JSON.stringify(r)
        : `${r.name}\t${r.admin ? "admin" : "client"}\tcreated ${r.createdAt.toISOString()}\t${
            r.revokedAt ? `revoked ${r.revokedAt.toISOString()}` : "active"
          }`;
      process.stdout.write(`${line}\n`);
    }
  });

keys
  .command("revoke")
  .description("revoke a key: requests with it are refused from now on")
  .argument("<name>", "the key's name")
  .action(async (name: string) => {
    if (!(await withKeys((store) => store.revoke(name)))) throw new CrawlqError("NOT_FOUND", `No active key named ${name}`);
    process.stderr.write(`revoked key ${name}\n`);
  });

for (const register of [registerSubmit, registerResult, registerBatch, registerWatch, registerCancel, registerStats]) register(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  // One line, never a stack; Commander has printed its own usage errors (and help) already.
  const { line, exitCode } = describeFailure(error);
  if (line) process.stderr.write(`crawlq: ${line}\n`);
  process.exitCode = exitCode;
});

/**
 * Process entry: config (the environment, then `.env` in the working directory) → database lock → migrations →
 * app → "listening on ..."; SIGTERM/SIGINT → graceful stop (a second signal forces the exit).
 */
import { startApp } from "./app.js";
import { SqliteKeyStore } from "./auth/sqlite-key-store.js";
import { checkExposure, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { migrateSqlite } from "./tasks/store/sqlite/migrate.js";
import { lockDatabaseFile } from "./tasks/store/sqlite/sqlite-task-store.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  // Before migrations: a second process on the same file stops here with one clear line.
  const lock = lockDatabaseFile(config.databaseUrl);
  // And before migrations too: an exposed HOST without keys stops with one line, touching nothing.
  checkExposure(config, SqliteKeyStore.anyActiveIn(config.databaseUrl));
  migrateSqlite(config.databaseUrl);
  const app = await startApp(config, logger);
  logger.info({ threads: config.pool.threads, concurrencyPerThread: config.pool.concurrencyPerThread }, "pool started");
  // Scripts wait for this exact line on stdout.
  process.stdout.write(`crawlq listening on ${app.url}\n`);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    logger.info({ signal }, "shutting down");
    app.stop().then(
      () => {
        lock.release();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

main().catch((error: unknown) => {
  process.stderr.write(`crawlq failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

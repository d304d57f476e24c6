/**
 * Process entry: config (the environment, then `.env` in the working directory) → backend (DATABASE_URL) →
 * its lock → migrations → app → "listening on ..."; SIGTERM/SIGINT → graceful stop (a second signal forces the exit).
 */
import { startApp } from "./app.js";
import { backendFor } from "./backends/index.js";
import { checkExposure, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const backend = backendFor(config);
  // Before migrations: a second process on the same SQLite file stops here with one clear line.
  const lock = await backend.lock();
  // And before migrations too: an exposed HOST without keys stops with one line, touching nothing.
  checkExposure(config, await backend.anyActiveKeys());
  await backend.migrate();
  const app = await startApp(config, logger, await backend.open(logger));
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

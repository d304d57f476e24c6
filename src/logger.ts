import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";
import pretty from "pino-pretty";

export type { Logger };

/**
 * The service's logger; LOG_LEVEL picks the level. JSON lines on stdout, or, when stdout is a terminal,
 * pino-pretty's coloured lines. `destination` (tests) takes the JSON lines instead of stdout.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = { level, base: { service: "crawlq" } };
  if (destination) return pino(options, destination);
  // In the process, synchronously, like pino's own stdout: no transport thread, nothing lost at exit.
  if (process.stdout.isTTY) return pino(options, pretty({ sync: true, ignore: "pid,hostname,service" }));
  return pino(options);
}

import { pino, type Logger } from "pino";

export type { Logger };

/** JSON lines on stdout; LOG_LEVEL picks the level. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "crawlq" } });
}

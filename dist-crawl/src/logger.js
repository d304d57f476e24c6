import { pino } from "pino";
/** JSON lines on stdout; LOG_LEVEL picks the level. */
export function createLogger(level) {
    return pino({ level, base: { service: "crawlq" } });
}
//# sourceMappingURL=logger.js.map
/**
 * The crawler: pure fetch + HTML-extraction code that a pool worker runs. It imports
 * nothing from the server (no Prisma, no pubsub) and returns plain, cloneable data.
 */
export { isBlockedAddress, type GuardDecision, type GuardPolicy } from "./address-guard.js";
export { closeHttpAgents } from "./agent.js";
export { crawlPage } from "./crawl-page.js";
export {
  boundCrawlOutcome,
  boundRobotsOutcome,
  MAX_CONTENT_TYPE_LENGTH,
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_FINAL_URL_LENGTH,
  MAX_TITLE_LENGTH,
} from "./limits.js";
export { fetchRobots, ROBOTS_MAX_BYTES } from "./robots.js";
export type * from "./types.js";

/**
 * The crawler: fetch, HTML-extraction and robots.txt-fetch code that a pool worker runs. Nothing it
 * imports runs on the server (no Prisma, no events; from tasks/ only the PageResult type), and it
 * returns plain, cloneable data.
 */
export { isBlockedAddress, type GuardDecision, type GuardPolicy } from "./address-guard.js";
export { closeHttpAgents, keepConnectionsFor } from "./agent.js";
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

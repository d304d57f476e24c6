/**
 * The crawler: pure fetch + HTML-extraction code that a pool worker runs. It imports
 * nothing from the server (no Prisma, no pubsub) and returns plain, cloneable data.
 */
export { isBlockedAddress } from "./address-guard.js";
export { closeHttpAgents } from "./agent.js";
export { crawlPage } from "./crawl-page.js";
export { fetchRobots, ROBOTS_MAX_BYTES } from "./robots.js";
//# sourceMappingURL=index.js.map
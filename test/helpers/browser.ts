import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

/** Debian's chromium (`apt-get install -y chromium`); Playwright never downloads a browser here. */
export const CHROMIUM = process.env["CRAWLQ_CHROMIUM"] ?? "/usr/bin/chromium";

/** Where browser tests leave screenshots (gitignored). */
export const TEST_OUTPUT = path.resolve("test-results", "browser");

/** Starts headless chromium with nothing running in the background that could reach the network. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CRAWLQ_CHROMIUM`);
  }
  mkdirSync(TEST_OUTPUT, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

const isLoopback = (url: URL) => url.hostname === "127.0.0.1" || url.hostname === "[::1]" || url.hostname === "localhost";

/** A page that is offline but for loopback, and the requests it tried to make elsewhere. */
export interface OfflinePage {
  page: Page;
  /** Every request (HTTP or WebSocket) the page tried to make to a host that is not loopback. */
  blocked: string[];
  /** Uncaught errors in the page. */
  errors: string[];
}

/**
 * A new page in `context` whose requests to any host but loopback are aborted (as on a machine with no
 * network), WebSockets too unless `webSockets` is false: Playwright then relays every WebSocket message
 * of the page itself, which a benchmark must not measure.
 */
export async function offlinePage(context: BrowserContext, options: { webSockets?: boolean } = {}): Promise<OfflinePage> {
  const page = await context.newPage();
  const blocked: string[] = [];
  const errors: string[] = [];
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if ((url.protocol === "http:" || url.protocol === "https:") && !isLoopback(url)) {
      blocked.push(url.href);
      return route.abort("internetdisconnected");
    }
    return route.fallback();
  });
  if (options.webSockets !== false) {
    await page.routeWebSocket(
      (url) => !isLoopback(url),
      (ws) => {
        blocked.push(ws.url());
        return ws.close();
      },
    );
  }
  page.on("pageerror", (error) => errors.push(error.message));
  return { page, blocked, errors };
}

/** Percentiles of a list of numbers (nearest rank). */
export function percentiles(values: readonly number[], ...ranks: number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  return ranks.map((rank) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((rank / 100) * sorted.length) - 1))] ?? NaN);
}

/**
 * The longest strings a crawl result may carry. A page chooses its title, its final URL (through
 * redirects), its Content-Type, and parts of failure messages (URLs and header values quoted in them);
 * each of them crosses from a pool thread to the main thread, then into the database and out through
 * GraphQL, so each is cut to a bound before it leaves the thread. Lengths are JavaScript string lengths
 * (UTF-16 code units); a cut never splits a surrogate pair, so a cut value may be one shorter.
 */
import type { CrawlFailure, CrawlOutcome, RobotsOutcome } from "./types.js";

/** `title`: the first this many characters of the title, after whitespace is collapsed. */
export const MAX_TITLE_LENGTH = 1024;
/** `finalUrl`, and the URL a robots.txt outcome names. */
export const MAX_FINAL_URL_LENGTH = 8192;
/** `contentType`: the Content-Type header as the server sent it. */
export const MAX_CONTENT_TYPE_LENGTH = 256;
/** Every failure message (Task.error.message), and the reason an unreachable robots.txt gives; cut ones end in "…". */
export const MAX_ERROR_MESSAGE_LENGTH = 1024;

/** The first `max` characters of `text` (one fewer rather than half of a surrogate pair). */
export function clampText(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
  return text.slice(0, cut);
}

/** A failure message cut to {@link MAX_ERROR_MESSAGE_LENGTH}, ending in "…" when it was cut. */
export function clampMessage(message: string): string {
  if (message.length <= MAX_ERROR_MESSAGE_LENGTH) return message;
  return `${clampText(message, MAX_ERROR_MESSAGE_LENGTH - 1)}…`;
}

/** The outcome with every string a page could have made long cut to its bound; nothing else changes. */
export function boundCrawlOutcome(outcome: CrawlOutcome): CrawlOutcome {
  if (!outcome.ok) return { ok: false, error: boundFailure(outcome.error) };
  const { page } = outcome;
  return {
    ok: true,
    page: {
      ...page,
      finalUrl: clampText(page.finalUrl, MAX_FINAL_URL_LENGTH),
      contentType: page.contentType === null ? null : clampText(page.contentType, MAX_CONTENT_TYPE_LENGTH),
      title: page.title === null ? null : clampText(page.title, MAX_TITLE_LENGTH),
    },
  };
}

/** The robots.txt outcome with its URL and reason cut to their bounds (the body is capped when it is read). */
export function boundRobotsOutcome(outcome: RobotsOutcome): RobotsOutcome {
  switch (outcome.kind) {
    case "found":
      return { ...outcome, url: clampText(outcome.url, MAX_FINAL_URL_LENGTH) };
    case "missing":
      return outcome;
    case "unreachable":
      return { ...outcome, reason: clampMessage(outcome.reason) };
  }
}

/** The failure with its message cut to {@link MAX_ERROR_MESSAGE_LENGTH}. */
export function boundFailure(failure: CrawlFailure): CrawlFailure {
  return { ...failure, message: clampMessage(failure.message) };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

import { toCrawlFailure } from "./errors.js";
import { fetchResource } from "./http-client.js";
import { describeStatus } from "./http-status.js";
import type { FetchPolicy, RobotsOutcome } from "./types.js";

/** Google's limit (also RFC 9309's minimum): rules past the first 500 KiB are ignored. */
export const ROBOTS_MAX_BYTES = 500 * 1024;

const utf8 = new TextDecoder();

/**
 * GETs `origin + "/robots.txt"` with the same guarded client and limits as a page
 * (redirects followed, body truncated at {@link ROBOTS_MAX_BYTES}). 2xx is `found`;
 * 4xx other than 429, a 3xx that is not followed (no usable Location), and a redirect
 * chain that never ends are `missing`; 429, 5xx and every transport failure are
 * `unreachable`. Never throws.
 */
export async function fetchRobots(origin: string, policy: FetchPolicy): Promise<RobotsOutcome> {
  let url: string;
  try {
    url = new URL("/robots.txt", origin).href;
  } catch {
    return { kind: "unreachable", code: "UNSUPPORTED_SCHEME", reason: `not an absolute URL: ${origin}` };
  }
  try {
    const limit = { maxBytes: Math.min(policy.maxBodyBytes, ROBOTS_MAX_BYTES), truncate: true };
    const response = await fetchResource(url, policy, limit);
    // The rules belong to the origin asked about, wherever a redirect fetched them from.
    if (response.body !== null) return { kind: "found", url, body: utf8.decode(response.body) };
    if (response.status === 429 || response.status >= 500) {
      return { kind: "unreachable", code: "HTTP_STATUS", reason: describeStatus(response.status) };
    }
    return { kind: "missing", httpStatus: response.status };
  } catch (err) {
    const failure = toCrawlFailure(err);
    // RFC 9309 2.3.1.2: after too many redirects the file may be taken as unavailable (a 4xx).
    if (failure.code === "TOO_MANY_REDIRECTS" && failure.httpStatus !== undefined) {
      return { kind: "missing", httpStatus: failure.httpStatus };
    }
    return { kind: "unreachable", code: failure.code, reason: failure.message };
  }
}

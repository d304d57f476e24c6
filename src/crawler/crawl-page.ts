import { isHtmlMediaType, parseContentType } from "./content-type.js";
import { decodeHtml } from "./decode.js";
import { toCrawlFailure } from "./errors.js";
import { fetchResource, headerValue, type FetchedResponse } from "./http-client.js";
import { httpStatusFailure } from "./http-status.js";
import { extractPageInfo } from "./parse-html.js";
import type { CrawlOutcome, FetchPolicy, PageResult, RedirectCheck } from "./types.js";

/**
 * Fetches one URL under the policy (SSRF guard, redirects, timeouts, body cap) and, when
 * it is HTML, extracts its title and link count. `checkRedirect`, when given, may refuse a
 * redirect hop before it is requested. `onDeparture`, when given, is called once, just after the
 * first request has been written to its connection (see fetchResource). Never throws: every failure,
 * expected or not, comes back as `{ ok: false, error }`.
 */
export async function crawlPage(
  url: string,
  policy: FetchPolicy,
  checkRedirect?: RedirectCheck,
  onDeparture?: () => void,
): Promise<CrawlOutcome> {
  try {
    const limit = { maxBytes: policy.maxBodyBytes, truncate: false };
    const response = await fetchResource(url, policy, limit, checkRedirect, onDeparture);
    if (response.body === null) {
      return { ok: false, error: httpStatusFailure(response.status, headerValue(response.headers, "retry-after")) };
    }
    return { ok: true, page: toPageResult(response, response.body) };
  } catch (err) {
    return { ok: false, error: toCrawlFailure(err) };
  }
}

function toPageResult(response: FetchedResponse, body: Buffer): PageResult {
  const contentType = headerValue(response.headers, "content-type") ?? null;
  const page: PageResult = {
    httpStatus: response.status,
    finalUrl: response.finalUrl,
    contentType,
    contentLength: body.length,
    title: null,
    linkCount: 0,
    fetchMs: response.fetchMs,
    parseMs: 0,
  };
  const { mediaType, charset } = parseContentType(contentType ?? "");
  if (!isHtmlMediaType(mediaType)) return page;

  const started = performance.now();
  const { title, linkCount } = extractPageInfo(decodeHtml(body, charset));
  return { ...page, title, linkCount, parseMs: performance.now() - started };
}

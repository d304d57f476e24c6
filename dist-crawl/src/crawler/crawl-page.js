import { isHtmlMediaType, parseContentType } from "./content-type.js";
import { decodeHtml } from "./decode.js";
import { coerceError } from "./errors.js";
import { fetchResource, headerValue } from "./http-client.js";
import { httpStatusFailure } from "./http-status.js";
import { extractPageInfo } from "./parse-html.js";
/**
 * Fetches one URL under the policy (SSRF guard, redirects, timeouts, body cap) and, when
 * it is HTML, extracts its title and link count. Never throws: every failure, expected
 * or not, comes back as `{ ok: false, error }`.
 */
export async function crawlPage(url, policy) {
    try {
        const response = await fetchResource(url, policy, { maxBytes: policy.maxBodyBytes, truncate: false });
        if (response.body === null) {
            return { ok: false, error: httpStatusFailure(response.status, headerValue(response.headers, "retry-after")) };
        }
        return { ok: true, page: toPageResult(response, response.body) };
    }
    catch (err) {
        return { ok: false, error: coerceError(err) };
    }
}
function toPageResult(response, body) {
    const contentType = headerValue(response.headers, "content-type") ?? null;
    const page = {
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
    if (!isHtmlMediaType(mediaType))
        return page;
    const started = performance.now();
    const { title, linkCount } = extractPageInfo(decodeHtml(body, charset));
    return { ...page, title, linkCount, parseMs: performance.now() - started };
}
//# sourceMappingURL=crawl-page.js.map
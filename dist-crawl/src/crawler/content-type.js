const HTML_TYPES = new Set(["text/html", "application/xhtml+xml"]);
/** Splits a Content-Type header value into its media type and charset. */
export function parseContentType(value) {
    const [type = "", ...params] = value.split(";");
    const result = { mediaType: type.trim().toLowerCase() };
    for (const param of params) {
        const eq = param.indexOf("=");
        if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== "charset")
            continue;
        const charset = unquote(param.slice(eq + 1).trim());
        if (charset !== "")
            result.charset = charset;
        break;
    }
    return result;
}
/** Whether a body of this media type is an HTML document the crawler parses. */
export function isHtmlMediaType(mediaType) {
    return HTML_TYPES.has(mediaType);
}
function unquote(value) {
    return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}
//# sourceMappingURL=content-type.js.map
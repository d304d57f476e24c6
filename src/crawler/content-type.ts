/** The two parts of a Content-Type header the crawler uses. */
export interface ContentType {
  /** Lower-cased type/subtype, e.g. "text/html"; "" when the header is empty. */
  mediaType: string;
  /** The charset parameter as sent (a label, not yet an encoding name). */
  charset?: string;
}

const HTML_TYPES = new Set(["text/html", "application/xhtml+xml"]);

/** Splits a Content-Type header value into its media type and charset. */
export function parseContentType(value: string): ContentType {
  const [type = "", ...params] = value.split(";");
  const result: ContentType = { mediaType: type.trim().toLowerCase() };
  for (const param of params) {
    const eq = param.indexOf("=");
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== "charset") continue;
    const charset = unquote(param.slice(eq + 1).trim());
    if (charset !== "") result.charset = charset;
    break;
  }
  return result;
}

/** Whether a body of this media type is an HTML document the crawler parses. */
export function isHtmlMediaType(mediaType: string): boolean {
  return HTML_TYPES.has(mediaType);
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

import { TextDecoder } from "node:util";
import sniffHTMLEncoding from "html-encoding-sniffer";
import { decode as decodeWithIconv } from "whatwg-encoding";
// One decoder per encoding is enough: decode() without { stream } keeps no state between calls.
const nativeDecoders = new Map();
/**
 * Decodes an HTML body to text the way a browser picks the encoding: a BOM, then the
 * Content-Type charset, then a `<meta charset>` / `http-equiv` prescan, then UTF-8.
 */
export function decodeHtml(bytes, charset) {
    const encoding = sniffHTMLEncoding(bytes, { transportLayerEncodingLabel: charset, defaultEncoding: "UTF-8" });
    const decoder = nativeDecoder(encoding);
    // Node's ICU covers every WHATWG encoding but a couple of rare ones (ISO-8859-16, x-user-defined).
    return decoder === null ? decodeWithIconv(bytes, encoding) : decoder.decode(bytes);
}
function nativeDecoder(encoding) {
    let decoder = nativeDecoders.get(encoding);
    if (decoder === undefined) {
        try {
            decoder = new TextDecoder(encoding);
        }
        catch {
            decoder = null;
        }
        nativeDecoders.set(encoding, decoder);
    }
    return decoder;
}
//# sourceMappingURL=decode.js.map
import { pipeline } from "node:stream";
import { constants, createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { crawlError } from "./errors.js";
/** The content codings {@link readBody} can undo, as sent in Accept-Encoding. */
export const ACCEPT_ENCODING = "gzip, deflate, br";
// Like browsers, accept a stream cut short after its last complete block.
const LENIENT_ZLIB = { flush: constants.Z_SYNC_FLUSH, finishFlush: constants.Z_SYNC_FLUSH };
const LENIENT_BROTLI = {
    flush: constants.BROTLI_OPERATION_FLUSH,
    finishFlush: constants.BROTLI_OPERATION_FLUSH,
};
/**
 * Reads a response body, undoing its Content-Encoding on the fly, and stops at `maxBytes`
 * of decoded output: the rest is never read, the stream is destroyed, and `overflowed` is
 * set. So a small compressed body that inflates without bound costs at most `maxBytes`.
 */
export async function readBody(body, contentEncoding, maxBytes) {
    const decoded = decodeContent(body, contentEncoding);
    const chunks = [];
    let size = 0;
    // Returning from inside the loop destroys `decoded`, and with it the whole pipeline.
    for await (const chunk of decoded) {
        if (size + chunk.length > maxBytes) {
            chunks.push(chunk.subarray(0, maxBytes - size));
            return { bytes: Buffer.concat(chunks, maxBytes), overflowed: true };
        }
        chunks.push(chunk);
        size += chunk.length;
    }
    return { bytes: Buffer.concat(chunks, size), overflowed: false };
}
function decodeContent(body, contentEncoding) {
    const codings = (contentEncoding ?? "")
        .split(",")
        .map((coding) => coding.trim().toLowerCase())
        .filter((coding) => coding !== "" && coding !== "identity");
    let stream = body;
    // Codings are listed in the order they were applied, so they are undone last to first.
    for (const coding of codings.reverse()) {
        stream = pipeline(stream, decoderFor(coding, body), () => {
            // Errors reach the consumer through the last stream's iterator.
        });
    }
    return stream;
}
function decoderFor(coding, body) {
    switch (coding) {
        case "gzip":
        case "x-gzip":
            return createGunzip(LENIENT_ZLIB);
        case "deflate":
            return createInflate(LENIENT_ZLIB);
        case "br":
            return createBrotliDecompress(LENIENT_BROTLI);
        default:
            body.destroy();
            throw crawlError("INTERNAL", `unsupported content-encoding: ${coding}`, false);
    }
}
//# sourceMappingURL=body.js.map
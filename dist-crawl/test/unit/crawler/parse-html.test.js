import { describe, expect, it } from "vitest";
import { parseContentType } from "../../../src/crawler/content-type.js";
import { decodeHtml } from "../../../src/crawler/decode.js";
import { extractPageInfo } from "../../../src/crawler/parse-html.js";
describe("extractPageInfo", () => {
    it("takes the first title, trimmed, entities decoded, whitespace collapsed", () => {
        const html = "<html><head><TITLE>\n  Fish &amp;\t Chips \n</TITLE><title>second</title></head></html>";
        expect(extractPageInfo(html).title).toBe("Fish & Chips");
    });
    it("keeps markup inside a title as text", () => {
        expect(extractPageInfo("<title>a <b>bold</b> claim</title>").title).toBe("a <b>bold</b> claim");
    });
    it("returns null without a title and an empty string for an empty one", () => {
        expect(extractPageInfo("<p>no title</p>").title).toBeNull();
        expect(extractPageInfo("<title>  </title>").title).toBe("");
    });
    it("reads an unclosed title up to the end of the document", () => {
        expect(extractPageInfo("<title>cut short").title).toBe("cut short");
    });
    it("counts <a> elements with an href, whatever their case or value", () => {
        const html = `<a href="/x">1</a><A HREF=y>2</A><a href="">3</a><a name="n">no</a><area href="/z">
      <script>document.write('<a href="/in-script">')</script><!-- <a href="/in-comment"> -->`;
        expect(extractPageInfo(html).linkCount).toBe(3);
    });
});
describe("decodeHtml", () => {
    const gbkTitle = Buffer.concat([Buffer.from("<title>"), Buffer.from("d6d0cec4", "hex"), Buffer.from("</title>")]);
    it("uses the Content-Type charset", () => {
        expect(extractPageInfo(decodeHtml(gbkTitle, "gbk")).title).toBe("中文");
    });
    it("falls back to a <meta charset> or http-equiv declaration", () => {
        const meta = Buffer.concat([Buffer.from('<meta charset="GB2312">'), gbkTitle]);
        const httpEquiv = Buffer.concat([Buffer.from('<meta http-equiv="Content-Type" content="text/html; charset=gbk">'), gbkTitle]);
        expect(extractPageInfo(decodeHtml(meta, undefined)).title).toBe("中文");
        expect(extractPageInfo(decodeHtml(httpEquiv, undefined)).title).toBe("中文");
    });
    it("defaults to UTF-8 and drops a BOM, which wins over the declared charset", () => {
        const utf8 = Buffer.from("<title>naïve café</title>");
        expect(decodeHtml(utf8, undefined)).toBe("<title>naïve café</title>");
        expect(decodeHtml(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]), "windows-1252")).toBe("<title>naïve café</title>");
    });
    it("ignores an unknown charset label and sniffs instead", () => {
        expect(extractPageInfo(decodeHtml(Buffer.concat([Buffer.from('<meta charset="gbk">'), gbkTitle]), "no-such-charset")).title).toBe("中文");
    });
    it("decodes encodings Node's ICU lacks", () => {
        // 0xAA is "Ș" in ISO-8859-16.
        expect(decodeHtml(Buffer.from([0x3c, 0x70, 0x3e, 0xaa]), "iso-8859-16")).toBe("<p>Ș");
    });
});
describe("parseContentType", () => {
    it("splits media type and charset", () => {
        expect(parseContentType('Text/HTML; Charset="Shift_JIS"; foo=bar')).toEqual({
            mediaType: "text/html",
            charset: "Shift_JIS",
        });
        expect(parseContentType("application/xhtml+xml")).toEqual({ mediaType: "application/xhtml+xml" });
        expect(parseContentType("")).toEqual({ mediaType: "" });
    });
});
//# sourceMappingURL=parse-html.test.js.map
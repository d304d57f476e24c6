import { describe, expect, it } from "vitest";
import { parseContentType } from "../../../src/crawler/content-type.js";
import { decodeHtml } from "../../../src/crawler/decode.js";
import { MAX_TITLE_LENGTH } from "../../../src/crawler/limits.js";
import { extractPageInfo } from "../../../src/crawler/parse-html.js";

/** The title as the whole text gives it: ASCII whitespace runs collapsed, trimmed, cut to the bound. */
function referenceTitle(text: string): string {
  const whole = text.replace(/[\t\n\f\r ]+/g, " ").trim();
  return whole.slice(0, MAX_TITLE_LENGTH);
}

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

  it("cuts a ten-million-character title to MAX_TITLE_LENGTH", () => {
    const words = "lorem ipsum dolor sit amet ".repeat(400_000);
    const { title, linkCount } = extractPageInfo(`<title>${words}</title><a href="/after">after</a>`);
    expect(title).toHaveLength(MAX_TITLE_LENGTH);
    expect(title).toBe(words.slice(0, MAX_TITLE_LENGTH));
    // The rest of the document is still read.
    expect(linkCount).toBe(1);
  });

  it.each([
    ["leading whitespace", `${" \n\t".repeat(5000)}${"word ".repeat(1000)}`],
    ["whitespace runs split across entities", `${"a&amp;  \n ".repeat(2000)}`],
    ["megabytes of whitespace after the bound", `${"x".repeat(MAX_TITLE_LENGTH - 1)} ${" ".repeat(3_000_000)}`],
    ["whitespace at the cut, then more text", `${"x".repeat(MAX_TITLE_LENGTH - 1)}${" ".repeat(10)}y${" ".repeat(10)}`],
    ["non-breaking spaces at the cut, then only whitespace", `${"x".repeat(MAX_TITLE_LENGTH - 1)}\u00a0\u00a0\u00a0 \n `],
    ["non-breaking spaces at the cut, then text", `${"x".repeat(MAX_TITLE_LENGTH - 1)}\u00a0\u00a0\u00a0 z`],
    ["a title just at the bound", `  ${"t".repeat(MAX_TITLE_LENGTH)}  `],
    ["a title one over the bound", `${"t".repeat(MAX_TITLE_LENGTH + 1)}`],
  ])("gives the same title as collapsing the whole text first (%s)", (_label, text) => {
    const html = `<title>${text}</title>`;
    const whole = text.replaceAll("&amp;", "&");
    expect(extractPageInfo(html).title).toBe(referenceTitle(whole));
  });

  it("gives the same title as collapsing the whole text first, on random whitespace-heavy titles", () => {
    const pieces = ["a", "bc", " ", "  ", "\n", "\t\t", "&amp;", "\u00a0", "é", "&lt;x&gt;"];
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 50; round += 1) {
      const length = Math.floor(random() * 3 * MAX_TITLE_LENGTH);
      let text = "";
      while (text.length < length) text += pieces[Math.floor(random() * pieces.length)];
      const decoded = text.replaceAll("&amp;", "&").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
      expect(extractPageInfo(`<title>${text}</title>`).title, `round ${round}`).toBe(referenceTitle(decoded));
    }
  });

  it("never ends a cut title with half of a surrogate pair", () => {
    const title = extractPageInfo(`<title>${"x".repeat(MAX_TITLE_LENGTH - 1)}😀😀</title>`).title!;
    expect(title).toBe("x".repeat(MAX_TITLE_LENGTH - 1));
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
    expect(decodeHtml(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]), "windows-1252")).toBe(
      "<title>naïve café</title>",
    );
  });

  it("ignores an unknown charset label and sniffs instead", () => {
    expect(extractPageInfo(decodeHtml(Buffer.concat([Buffer.from('<meta charset="gbk">'), gbkTitle]), "no-such-charset")).title).toBe(
      "中文",
    );
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

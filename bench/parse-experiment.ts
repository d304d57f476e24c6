/**
 * An experiment, not used by the service: how much would a purpose-built scanner save over htmlparser2
 * for what the crawler extracts (first <title>, count of <a href>)? htmlparser2 tokenizes every
 * character and builds every tag's attributes; the scanner jumps from "<" to "<" with indexOf and only
 * reads the attributes of <a> tags. It follows htmlparser2's tokenizer where that matters here:
 * comments, <!...> and <?...> declarations, raw-text elements (script, style, xmp, iframe, noembed,
 * noframes: skipped to their end tag), RCDATA (title, textarea), quoted attribute values, and an
 * unclosed title running to the end of the document.
 *
 *   node dist/bench/parse-experiment.js     compares both on the fixture pages and on generated documents
 */
import { decodeHTML } from "entities";
import { extractPageInfo, type PageInfo } from "../src/crawler/parse-html.js";

const RAW_TEXT = new Set(["script", "style", "xmp", "iframe", "noembed", "noframes", "textarea"]);
const WHITESPACE = /[\t\n\f\r ]+/g;

function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
}

/** Index of the next case-insensitive `</name` followed by whitespace, "/" or ">" (or the end), or -1. */
function findEndTag(html: string, name: string, from: number): number {
  for (let i = html.indexOf("</", from); i >= 0; i = html.indexOf("</", i + 2)) {
    let k = 0;
    while (k < name.length && (html.charCodeAt(i + 2 + k) | 0x20) === name.charCodeAt(k)) k++;
    if (k < name.length) continue;
    const next = html.charCodeAt(i + 2 + k);
    if (Number.isNaN(next) || isSpace(next) || next === 0x2f || next === 0x3e) return i;
  }
  return -1;
}

export function scanPageInfo(html: string): PageInfo {
  let linkCount = 0;
  let title: string | null = null;
  const n = html.length;
  let i = html.indexOf("<");
  while (i >= 0 && i < n - 1) {
    const c = html.charCodeAt(i + 1);
    if (c === 0x21 /* ! */) {
      if (html.startsWith("<!--", i)) {
        // "<!-->" and "<!--->" are empty comments, as in htmlparser2.
        const end = html.indexOf("-->", i + 2);
        i = end < 0 ? -1 : html.indexOf("<", end + 3);
      } else {
        const end = html.indexOf(">", i + 2);
        i = end < 0 ? -1 : html.indexOf("<", end + 1);
      }
      continue;
    }
    if (c === 0x3f /* ? */) {
      const end = html.indexOf(">", i + 2);
      i = end < 0 ? -1 : html.indexOf("<", end + 1);
      continue;
    }
    const closing = c === 0x2f; /* / */
    const nameStart = closing ? i + 2 : i + 1;
    if (!isNameStart(html.charCodeAt(nameStart))) {
      i = html.indexOf("<", i + 1);
      continue;
    }
    let j = nameStart + 1;
    while (j < n) {
      const d = html.charCodeAt(j);
      if (isSpace(d) || d === 0x2f || d === 0x3e) break;
      j++;
    }
    // Only a, title and the raw-text elements matter: skip building other names.
    const nameLength = j - nameStart;
    const first = html.charCodeAt(nameStart) | 0x20;
    const name =
      nameLength === 1 && first === 0x61
        ? "a"
        : nameLength >= 3 && nameLength <= 8 && (first === 0x74 || first === 0x73 || first === 0x78 || first === 0x69 || first === 0x6e)
          ? html.slice(nameStart, j).toLowerCase()
          : "";
    // Attributes, to the tag's closing ">" (quoted values may contain ">").
    let hasHref = false;
    while (j < n) {
      const d = html.charCodeAt(j);
      if (d === 0x3e) break;
      if (isSpace(d) || d === 0x2f) {
        j++;
        continue;
      }
      const attrStart = j;
      while (j < n) {
        const e = html.charCodeAt(j);
        if (isSpace(e) || e === 0x2f || e === 0x3e || e === 0x3d) break;
        j++;
      }
      if (!closing && name === "a" && j - attrStart === 4 && html.slice(attrStart, j).toLowerCase() === "href") hasHref = true;
      while (j < n && isSpace(html.charCodeAt(j))) j++;
      if (html.charCodeAt(j) !== 0x3d /* = */) continue;
      j++;
      while (j < n && isSpace(html.charCodeAt(j))) j++;
      const q = html.charCodeAt(j);
      if (q === 0x22 || q === 0x27) {
        const end = html.indexOf(q === 0x22 ? '"' : "'", j + 1);
        j = end < 0 ? n : end + 1;
      } else {
        while (j < n) {
          const e = html.charCodeAt(j);
          if (isSpace(e) || e === 0x3e) break;
          j++;
        }
      }
    }
    if (j >= n) break; // an unfinished tag at the end is not a tag
    const afterTag = j + 1;
    if (closing) {
      i = html.indexOf("<", afterTag);
      continue;
    }
    if (name === "a" && hasHref) linkCount++;
    if (name === "title") {
      const end = findEndTag(html, "title", afterTag);
      const text = html.slice(afterTag, end < 0 ? n : end);
      if (title === null) title = decodeHTML(text).replace(WHITESPACE, " ").trim();
      i = end < 0 ? -1 : html.indexOf("<", end + 1);
      continue;
    }
    if (RAW_TEXT.has(name)) {
      const end = findEndTag(html, name, afterTag);
      i = end < 0 ? -1 : html.indexOf("<", end + 1);
      continue;
    }
    i = html.indexOf("<", afterTag);
  }
  return { title, linkCount };
}

// ------------------------------------------------------------------------------------------ comparison

function time(fn: () => unknown, rounds: number): number {
  for (let k = 0; k < Math.min(500, rounds); k++) fn();
  const start = performance.now();
  for (let k = 0; k < rounds; k++) fn();
  return ((performance.now() - start) / rounds) * 1000;
}

async function main() {
  const { startFixtureSite } = await import("../test/helpers/fixture-site.js");
  const site = await startFixtureSite();
  const pages: string[] = [];
  for (const path of ["/bench/7", "/page/1", "/page/42", "/page/999"]) pages.push(await (await fetch(site.url(path))).text());
  await site.close();
  const cases = [
    "<html><head><TITLE>\n  Fish &amp;\t Chips \n</TITLE><title>second</title></head></html>",
    "<title>a <b>bold</b> claim</title>",
    "<p>no title</p>",
    "<title>  </title>",
    "<title>cut short",
    `<a href="/x">1</a><A HREF=y>2</A><a href="">3</a><a name="n">no</a><area href="/z">
      <script>document.write('<a href="/in-script">')</script><!-- <a href="/in-comment"> -->`,
    `<a title="x>y" href=1>ok</a><a data-href=1>no</a><a hrefx=1>no</a><a\nhref>bare</a>`,
    `<!DOCTYPE html><?xml x?><style>a{}</style ><a href=1><textarea><a href=2></textarea><a href=3>`,
  ];
  // Generated documents: random sequences of fragments, to catch disagreements the cases above miss.
  const fragments = ["<a href=x>", "<A HREF='y'>", "<a name=z>", "</a>", "<title>T &lt;1&gt;", "</title>", "<!-- c -->", "<!--",
    "-->", "<script>", "</script>", "<style>", "</style>", "<p class=\"q>\">", "text ", "<b>", "</b", ">", "<", "&amp;", "<br/>", "<a/>",
    "<a\thref>", "<textarea>", "</textarea>", "<!x>", "<?p?>", "<xmp>", "</xmp>", "\n"];
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let k = 0; k < 20_000; k++) {
    const length = 1 + Math.floor(random() * 12);
    cases.push(Array.from({ length }, () => fragments[Math.floor(random() * fragments.length)]).join(""));
  }
  let disagreements = 0;
  for (const doc of [...pages, ...cases]) {
    const a = extractPageInfo(doc);
    const b = scanPageInfo(doc);
    if (a.title !== b.title || a.linkCount !== b.linkCount) {
      if (disagreements++ < 8) console.log("differs:", JSON.stringify(doc).slice(0, 160), a, b);
    }
  }
  console.log(`${disagreements} of ${pages.length + cases.length} documents differ`);
  const bench = pages[0]!;
  const rounds = 3000;
  console.log(`/bench page (${bench.length} chars): htmlparser2 ${time(() => extractPageInfo(bench), rounds).toFixed(1)} µs, scanner ${time(() => scanPageInfo(bench), rounds).toFixed(1)} µs`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

import { Tokenizer, type TokenizerCallbacks } from "htmlparser2";

/** What the crawler extracts from an HTML document. */
export interface PageInfo {
  /** Text of the first `<title>`, trimmed and with whitespace runs collapsed; null without one. */
  title: string | null;
  /** Number of `<a>` elements that have an `href` attribute. */
  linkCount: number;
}

const ASCII_WHITESPACE = /[\t\n\f\r ]+/g;

/**
 * Extracts the title and link count in one streaming pass over htmlparser2's tokenizer (the HTML
 * tokenizing state machine: comments, CDATA, script/style raw text, RCDATA titles, entities).
 * Only the tag and attribute names that matter are ever turned into strings: at ~1,000 pages/s the
 * full `Parser` (an attribute object per tag, implied-tag bookkeeping) was the workers' largest cost.
 */
export function extractPageInfo(html: string): PageInfo {
  let linkCount = 0;
  let tag: "a" | "title" | "other" = "other";
  let hasHref = false;
  let titleState: "before" | "inside" | "after" = "before";
  let titleText = "";

  const is = (start: number, end: number, name: string) =>
    end - start === name.length && html.slice(start, end).toLowerCase() === name;
  const openTagEnd = () => {
    if (tag === "a" && hasHref) linkCount += 1;
    else if (tag === "title" && titleState === "before") titleState = "inside";
  };

  const callbacks: TokenizerCallbacks = {
    onopentagname(start, end) {
      tag = is(start, end, "a") ? "a" : is(start, end, "title") ? "title" : "other";
      hasHref = false;
    },
    onattribname(start, end) {
      if (tag === "a" && !hasHref && is(start, end, "href")) hasHref = true;
    },
    onopentagend: openTagEnd,
    onselfclosingtag: openTagEnd,
    onclosetag(start, end) {
      if (titleState === "inside" && is(start, end, "title")) titleState = "after";
    },
    ontext(start, end) {
      if (titleState === "inside") titleText += html.slice(start, end);
    },
    ontextentity(codepoint) {
      if (titleState === "inside") titleText += String.fromCodePoint(codepoint);
    },
    onattribdata() {},
    onattribentity() {},
    onattribend() {},
    oncdata() {},
    oncomment() {},
    ondeclaration() {},
    onend() {},
    onprocessinginstruction() {},
  };
  const tokenizer = new Tokenizer({ xmlMode: false, decodeEntities: true }, callbacks);
  tokenizer.write(html);
  tokenizer.end();

  return { title: titleState === "before" ? null : collapseWhitespace(titleText), linkCount };
}

function collapseWhitespace(text: string): string {
  return text.replace(ASCII_WHITESPACE, " ").trim();
}

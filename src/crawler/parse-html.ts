import { Tokenizer, type TokenizerCallbacks } from "htmlparser2";
import { clampText, MAX_TITLE_LENGTH } from "./limits.js";

/** What the crawler extracts from an HTML document. */
export interface PageInfo {
  /**
   * Text of the first `<title>`, trimmed and with whitespace runs collapsed, cut to its first
   * {@link MAX_TITLE_LENGTH} characters; null without one.
   */
  title: string | null;
  /** Number of `<a>` elements that have an `href` attribute. */
  linkCount: number;
}

const ASCII_WHITESPACE = /[\t\n\f\r ]+/g;
const NOT_WHITESPACE = /\S/;

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
  const title = new TitleText(MAX_TITLE_LENGTH);

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
      if (titleState === "inside") title.append(html, start, end);
    },
    ontextentity(codepoint) {
      if (titleState === "inside") title.appendText(String.fromCodePoint(codepoint));
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

  return { title: titleState === "before" ? null : title.text(), linkCount };
}

/**
 * A title's text, whitespace collapsed as it arrives, that keeps no more than `maxLength + 1` characters:
 * a page with a megabytes-long title costs `maxLength`, not the whole title. {@link text} is exactly what
 * collapsing and trimming the whole title, then cutting it to `maxLength`, gives.
 */
class TitleText {
  readonly #maxLength: number;
  // Collapsed, without leading whitespace; at most maxLength + 1 characters.
  #kept = "";
  #full = false;
  // Once full: whether anything but whitespace came after the kept text (then trimming cannot reach it).
  #moreText = false;

  constructor(maxLength: number) {
    this.#maxLength = maxLength;
  }

  /** Adds `source.slice(start, end)` a window at a time, so a long run of text is never copied whole. */
  append(source: string, start: number, end: number): void {
    const window = this.#maxLength + 1;
    for (let from = start; from < end && !this.#moreText; from += window) {
      this.appendText(source.slice(from, Math.min(end, from + window)));
    }
  }

  /** Adds a piece of text, such as the character of an entity. */
  appendText(text: string): void {
    if (this.#full) {
      this.#moreText ||= NOT_WHITESPACE.test(text);
      return;
    }
    let piece = text.replace(ASCII_WHITESPACE, " ");
    // Nothing leads the title, and a run of whitespace split between two pieces is still one space.
    if (this.#kept === "") piece = piece.trimStart();
    else if (piece.startsWith(" ") && this.#kept.endsWith(" ")) piece = piece.slice(1);
    this.#kept += piece;
    if (this.#kept.length > this.#maxLength) {
      this.#moreText = NOT_WHITESPACE.test(this.#kept.slice(this.#maxLength + 1));
      this.#kept = this.#kept.slice(0, this.#maxLength + 1);
      this.#full = true;
    }
  }

  /** The title so far, trimmed and cut to the bound. */
  text(): string {
    return clampText(this.#moreText ? this.#kept : this.#kept.trimEnd(), this.#maxLength);
  }
}

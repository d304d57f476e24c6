import { Parser } from "htmlparser2";

/** What the crawler extracts from an HTML document. */
export interface PageInfo {
  /** Text of the first `<title>`, trimmed and with whitespace runs collapsed; null without one. */
  title: string | null;
  /** Number of `<a>` elements that have an `href` attribute. */
  linkCount: number;
}

const ASCII_WHITESPACE = /[\t\n\f\r ]+/g;

/** Extracts the title and link count in one streaming pass, without building a DOM. */
export function extractPageInfo(html: string): PageInfo {
  let linkCount = 0;
  let titleState: "before" | "inside" | "after" = "before";
  let titleText = "";

  const parser = new Parser({
    onopentag(name, attributes) {
      if (name === "a") {
        if (attributes.href !== undefined) linkCount += 1;
      } else if (name === "title" && titleState === "before") {
        titleState = "inside";
      }
    },
    ontext(text) {
      if (titleState === "inside") titleText += text;
    },
    onclosetag(name) {
      if (name === "title" && titleState === "inside") titleState = "after";
    },
  });
  parser.end(html);

  return { title: titleState === "before" ? null : collapseWhitespace(titleText), linkCount };
}

function collapseWhitespace(text: string): string {
  return text.replace(ASCII_WHITESPACE, " ").trim();
}

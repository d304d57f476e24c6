import { readFile } from "node:fs/promises";
import { UsageError } from "./errors.js";

/** A URL of the list, with its line number for messages. */
export interface ListedUrl {
  url: string;
  line: number;
}

/**
 * The URLs of a file, or of stdin for `-`: one per line, surrounding whitespace trimmed; blank lines and
 * lines starting with `#` are skipped. An unreadable file is a usage error.
 */
export async function readUrlList(file: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<ListedUrl[]> {
  let text: string;
  try {
    text = file === "-" ? await readAll(stdin) : await readFile(file, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new UsageError(`cannot read ${file}: ${typeof code === "string" ? code : (error as Error).message}`);
  }
  const urls: ListedUrl[] = [];
  text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .forEach((raw, index) => {
      const url = raw.trim();
      if (url !== "" && !url.startsWith("#")) urls.push({ url, line: index + 1 });
    });
  return urls;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

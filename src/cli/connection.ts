import { InvalidArgumentError, Option, type Command } from "commander";
import WebSocket from "ws";
import { createCrawlqClient, type ConnectionEvent, type CrawlqClient } from "../client/client.js";

/** Where the commands find crawlq when neither --server nor CRAWLQ_SERVER says. */
export const DEFAULT_SERVER = "http://127.0.0.1:4000/graphql";

/** The options every command that talks to a server takes. */
export interface ConnectionOptions {
  server: string;
  key?: string;
}

/** Adds --server and --key (with their environment variables) to a command that talks to a server. */
export function withConnectionOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--server <url>", "the crawlq GraphQL endpoint (a bare http://host:port gets /graphql)")
        .env("CRAWLQ_SERVER")
        .default(DEFAULT_SERVER)
        .argParser(serverUrl),
    )
    .addOption(new Option("--key <key>", "API key, sent as Authorization: Bearer KEY").env("CRAWLQ_API_KEY"));
}

/** A client for the command's --server and --key; `note` is told when the WebSocket is lost and regained. */
export function connect(options: ConnectionOptions, note?: (message: string) => void): CrawlqClient {
  const onConnection = (event: ConnectionEvent) => {
    if (event === "lost") note?.("connection lost; reconnecting");
    if (event === "reconnected") note?.("reconnected");
  };
  return createCrawlqClient({ url: options.server, key: options.key ?? null, onConnection, webSocketImpl: WebSocket });
}

/** Runs `work` with a client for the command's options, and closes it whatever happens. */
export async function withClient<T>(options: ConnectionOptions, work: (client: CrawlqClient) => Promise<T>): Promise<T> {
  const client = connect(options);
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

function serverUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError("not a URL (e.g. http://127.0.0.1:4000/graphql)");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new InvalidArgumentError("must be an http: or https: URL");
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/graphql";
  return url.href;
}

/** An option parser for a whole number from `min` to `max`. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? " up" : ` to ${max}`}`);
    }
    return n;
  };
}

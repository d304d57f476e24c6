import WebSocket from "ws";
import { createCrawlqClient, type CrawlqClient, type CrawlqClientOptions } from "../../src/client/client.js";

/** The typed client as the CLI makes it (the `ws` package's WebSocket), for the server at `url`. */
export function testClient(url: string, options: Omit<CrawlqClientOptions, "url"> = {}): CrawlqClient {
  return createCrawlqClient({ url, webSocketImpl: WebSocket, ...options });
}

/**
 * A loopback HTTP site whose pages answer only when the test says so: `GET /gate/KEY` is held open until
 * `release(KEY)`, then answered with a small HTML page "Gate KEY". Everything else (robots.txt included)
 * is a 404. Lets a test decide exactly which tasks are done at each step, without timers.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface GatedSite {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** The URL of gate `key`. */
  url(key: string): string;
  /** Resolves once a request for gate `key` has arrived (earlier arrivals count). */
  arrived(key: string): Promise<void>;
  /** Answers gate `key` now if its request is waiting, or as soon as it arrives. */
  release(key: string): void;
  close(): Promise<void>;
}

export async function startGatedSite(): Promise<GatedSite> {
  const held = new Map<string, ServerResponse[]>();
  const released = new Set<string>();
  const arrivals = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  const arrival = (key: string) => {
    let entry = arrivals.get(key);
    if (!entry) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      entry = { promise, resolve };
      arrivals.set(key, entry);
    }
    return entry;
  };
  const answer = (key: string, res: ServerResponse) => {
    const body = `<!doctype html><html><head><title>Gate ${key}</title></head><body><a href="/">home</a></body></html>`;
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };

  const server = createServer((req, res) => {
    const match = /^\/gate\/([^/?]+)/.exec(req.url ?? "");
    if (!match) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
      return;
    }
    const key = decodeURIComponent(match[1]!);
    arrival(key).resolve();
    if (released.has(key)) return answer(key, res);
    held.set(key, [...(held.get(key) ?? []), res]);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    origin,
    url: (key) => `${origin}/gate/${encodeURIComponent(key)}`,
    arrived: (key) => arrival(key).promise,
    release: (key) => {
      released.add(key);
      for (const res of held.get(key) ?? []) answer(key, res);
      held.delete(key);
    },
    close: async () => {
      for (const responses of held.values()) for (const res of responses) res.destroy();
      held.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

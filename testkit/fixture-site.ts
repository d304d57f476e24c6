/**
 * The HTTP site every crawler test and benchmark crawls: node:http on loopback only,
 * on a random port, with deterministic routes and per-host request accounting.
 *
 * Routes
 * - `/page/:n`        HTML page "Page n" with {@link expectedPage}(n) links and size
 *                      (`?encoding=gzip|deflate|br` sends it compressed)
 * - `/bench/:n`       ~30 KB HTML page "Bench n" ({@link expectedBenchPage}), served from a cached body
 * - `/slow?ms=N`      HTML page answered after N ms
 * - `/hang`           accepted, never answered
 * - `/stall`          headers and the start of a body, then nothing
 * - `/status/:code`   that status with an HTML body (`?retry-after=V` adds the header)
 * - `/redirect/:n`    n ≥ 1 redirects (301, 302, 303, 307, 308 in turn) ending at /page/1
 * - `/loop`           redirects to itself
 * - `/redirect-to?url=U[&status=S]`  one redirect to any URL
 * - `/big`            {@link BIG_BODY_BYTES} of HTML, streamed chunked (`?declare=1` sends Content-Length)
 * - `/gzip-bomb`      a small gzip body that inflates to {@link GZIP_BOMB_BYTES}
 * - `/file.bin`       {@link FILE_BIN_BYTES} bytes of application/octet-stream
 * - `/gbk`            title {@link GBK_TITLE} in GBK, charset in Content-Type only
 * - `/sjis`           title {@link SJIS_TITLE} in Shift_JIS, charset in `<meta charset>` only
 * - `/flaky/:key?fail=N[&status=503][&retry-after=V]`  fails N times per key, then a page "Flaky key"
 * - `/robots.txt`     as set by {@link FixtureSite.setRobots} (404 by default), optionally per host name
 * - `/huge-title`     an HTML page whose `<title>` is {@link HUGE_TITLE_LENGTH} characters ({@link hugeTitle}),
 *                      built once and sent from the same bytes every time
 * - `/title?text=T`    an HTML page whose `<title>` is T (HTML-escaped), e.g. with commas, quotes or line breaks
 * - `/long-header?name=H&length=N`  an HTML page "Long header" whose header H (`content-type` or `location`,
 *                      with status 302) is N characters long
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { EventEmitter } from "node:events";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import { brotliCompressSync, createGzip, deflateSync, gzipSync } from "node:zlib";

export interface FixtureSiteOptions {
  /** Delay before every response, in ms. */
  latencyMs?: number;
  /** robots.txt served with status 200; null or absent: 404. */
  robots?: string | null;
}

/** One request the site received. */
export interface RequestRecord {
  /** Path and query as requested. */
  path: string;
  /** The Host header: "127.0.0.1:PORT" and "localhost:PORT" count as different hosts. */
  host: string;
  userAgent: string;
  /** performance.now() when the request arrived. */
  start: number;
  /** performance.now() when the response finished or the connection went away; null while in flight. */
  end: number | null;
  /** True when the client went away before the whole response was sent. */
  aborted: boolean;
}

export interface FixtureSite {
  /** http://127.0.0.1:PORT */
  origin: string;
  port: number;
  /** "127.0.0.1:PORT", the Host header of requests made to {@link origin}. */
  host: string;
  /** http://[::1]:PORT6 (same routes, a second listener) when ::1 can be bound; otherwise null. */
  ipv6Origin: string | null;
  url(path: string): string;
  close(): Promise<void>;
  /** Highest number of requests in flight at once, for one Host header value or for all. */
  maxConcurrent(host?: string): number;
  /** Requests received whose path starts with the prefix (all of them without one). */
  requestCount(pathPrefix?: string): number;
  requestLog: RequestRecord[];
  /** Resolves once `count` requests whose path starts with the prefix have arrived (counting earlier ones). */
  waitForRequests(pathPrefix: string, count: number): Promise<void>;
  /** Clears the request log and the concurrency maxima. */
  resetStats(): void;
  /**
   * What `/robots.txt` answers: `text` with `status` (null text: 404). With `hostname` (no port), only for
   * requests whose Host is that name; such a setting wins over the site-wide one.
   */
  setRobots(text: string | null, status?: number, hostname?: string): void;
}

export const BIG_BODY_BYTES = 16 * 1024 * 1024;
export const GZIP_BOMB_BYTES = 64 * 1024 * 1024;
export const FILE_BIN_BYTES = 5000;
export const GBK_TITLE = "中文网页标题";
export const SJIS_TITLE = "日本語のページ";
/** Links on every /bench page. */
export const BENCH_LINKS = 120;
/** Characters in the `<title>` of `/huge-title`: ten million, a page that only just fits the default 10 MiB body cap. */
export const HUGE_TITLE_LENGTH = 10_000_000;

// Encoded once with iconv-lite and kept as bytes, so the fixture needs no encoder.
const GBK_TITLE_BYTES = Buffer.from("d6d0cec4cdf8d2b3b1eacce2", "hex");
const SJIS_TITLE_BYTES = Buffer.from("93fa967b8cea82cc8379815b8357", "hex");

const HTML = "text/html; charset=utf-8";
const FILLER_WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";

/** Title, link count and byte size of `/page/n`. */
export function expectedPage(n: number): { title: string; linkCount: number; contentLength: number } {
  return { title: `Page ${n}`, linkCount: pageLinkCount(n), contentLength: Buffer.byteLength(renderPage(n)) };
}

/** The first `length` characters of `/huge-title`'s title (filler words, single spaces, no leading space). */
export function hugeTitle(length = HUGE_TITLE_LENGTH): string {
  return FILLER_WORDS.repeat(Math.ceil(length / FILLER_WORDS.length)).slice(0, length);
}

/** Title, link count and byte size of `/bench/n`. */
export function expectedBenchPage(n: number): { title: string; linkCount: number; contentLength: number } {
  return { title: `Bench ${n}`, linkCount: BENCH_LINKS, contentLength: benchHead(n).length + benchBody().length };
}

/** Starts the site on 127.0.0.1 (and ::1 when possible) on random ports. */
export async function startFixtureSite(options: FixtureSiteOptions = {}): Promise<FixtureSite> {
  const latencyMs = options.latencyMs ?? 0;
  const log: RequestRecord[] = [];
  const inFlight = new Map<string, number>();
  const maxima = new Map<string, number>();
  let inFlightTotal = 0;
  let maxTotal = 0;
  const timers = new Set<NodeJS.Timeout>();
  const flakyFailures = new Map<string, number>();
  const arrivals = new EventEmitter();
  let robots: { text: string | null; status: number } = { text: options.robots ?? null, status: 200 };
  const robotsByHost = new Map<string, { text: string | null; status: number }>();

  const later = (ms: number, action: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
  };

  const route = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://fixture.invalid");
    const [, section = "", arg = ""] = url.pathname.split("/");
    const query = url.searchParams;
    switch (section) {
      case "page": {
        const encoding = query.get("encoding");
        const page = Buffer.from(renderPage(Number(arg)));
        if (encoding === null) return sendHtml(res, 200, page);
        return sendHtml(res, 200, compress(page, encoding), { "content-encoding": encoding });
      }
      case "bench": {
        const head = benchHead(Number(arg));
        const body = benchBody();
        res.writeHead(200, { "content-type": HTML, "content-length": head.length + body.length });
        res.write(head);
        res.end(body);
        return;
      }
      case "slow":
        return later(Number(query.get("ms") ?? 1000), () => sendHtml(res, 200, simplePage(`Slow ${query.get("ms")} ms`)));
      case "hang":
        return;
      case "stall":
        res.writeHead(200, { "content-type": HTML });
        res.write("<!doctype html><html><head><title>Stall");
        return;
      case "status": {
        const code = Number(arg);
        const retryAfter = query.get("retry-after");
        return sendHtml(res, code, simplePage(`Status ${code}`), retryAfter === null ? {} : { "retry-after": retryAfter });
      }
      case "redirect": {
        const n = Number(arg);
        return redirect(res, n > 1 ? `/redirect/${n - 1}` : "/page/1", [301, 302, 303, 307, 308][n % 5] ?? 302);
      }
      case "loop":
        return redirect(res, "/loop", 302);
      case "redirect-to":
        return redirect(res, query.get("url") ?? "/", Number(query.get("status") ?? 302));
      case "big":
        res.writeHead(200, {
          "content-type": HTML,
          ...(query.get("declare") === "1" ? { "content-length": BIG_BODY_BYTES } : {}),
        });
        return streamFiller(res, BIG_BODY_BYTES);
      case "gzip-bomb":
        void gzipBomb().then((bomb) => {
          res.writeHead(200, { "content-type": HTML, "content-encoding": "gzip", "content-length": bomb.length });
          res.end(bomb);
        });
        return;
      case "file.bin": {
        const bytes = Buffer.alloc(FILE_BIN_BYTES, "0123456789abcdef");
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length });
        res.end(bytes);
        return;
      }
      case "gbk":
        return sendHtml(res, 200, encodedTitlePage("", GBK_TITLE_BYTES), {
          "content-type": "text/html; charset=GBK",
        });
      case "sjis":
        return sendHtml(res, 200, encodedTitlePage('<meta charset="shift_jis">', SJIS_TITLE_BYTES), {
          "content-type": "text/html",
        });
      case "flaky": {
        const failuresSoFar = flakyFailures.get(arg) ?? 0;
        if (failuresSoFar < Number(query.get("fail") ?? 1)) {
          flakyFailures.set(arg, failuresSoFar + 1);
          const retryAfter = query.get("retry-after");
          const status = Number(query.get("status") ?? 503);
          return sendHtml(res, status, simplePage(`Flaky ${arg} failure`), retryAfter === null ? {} : { "retry-after": retryAfter });
        }
        return sendHtml(res, 200, simplePage(`Flaky ${arg}`));
      }
      case "huge-title": {
        const page = hugeTitlePage();
        res.writeHead(200, { "content-type": HTML, "content-length": page.length });
        res.end(page);
        return;
      }
      case "title":
        return sendHtml(res, 200, simplePage(escapeHtml(query.get("text") ?? "")));
      case "long-header": {
        const name = query.get("name") ?? "content-type";
        const length = Number(query.get("length") ?? 8192);
        if (name === "location") {
          const base = "/page/1?pad=";
          return redirect(res, base + "x".repeat(Math.max(0, length - base.length)), 302);
        }
        const base = "text/html; charset=utf-8; pad=";
        return sendHtml(res, 200, simplePage("Long header"), { [name]: base + "x".repeat(Math.max(0, length - base.length)) });
      }
      case "robots.txt": {
        const hostname = new URL(`http://${req.headers.host ?? "fixture.invalid"}`).hostname;
        const answer = robotsByHost.get(hostname) ?? robots;
        if (answer.text === null) return sendHtml(res, 404, simplePage("No robots.txt"));
        res.writeHead(answer.status, { "content-type": "text/plain; charset=utf-8" });
        res.end(answer.text);
        return;
      }
      default:
        return sendHtml(res, 404, simplePage("Not Found"));
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const host = req.headers.host ?? "";
    const record: RequestRecord = {
      path: req.url ?? "/",
      host,
      userAgent: req.headers["user-agent"] ?? "",
      start: performance.now(),
      end: null,
      aborted: false,
    };
    log.push(record);
    arrivals.emit("request");
    const current = (inFlight.get(host) ?? 0) + 1;
    inFlight.set(host, current);
    maxima.set(host, Math.max(maxima.get(host) ?? 0, current));
    inFlightTotal += 1;
    maxTotal = Math.max(maxTotal, inFlightTotal);
    res.on("close", () => {
      inFlight.set(host, (inFlight.get(host) ?? 1) - 1);
      inFlightTotal -= 1;
      record.end = performance.now();
      record.aborted = !res.writableFinished;
    });
    const respond = (): void => {
      try {
        route(req, res);
      } catch (err) {
        // A malformed test URL (e.g. /status/99) must fail that request, not the test process.
        if (res.headersSent) res.destroy();
        else sendHtml(res, 500, simplePage(`Fixture error: ${String(err)}`));
      }
    };
    if (latencyMs > 0) later(latencyMs, respond);
    else respond();
  };

  const ipv4 = await listen(createServer(handle), "127.0.0.1");
  const ipv6 = await listen(createServer(handle), "::1").catch(() => null);
  const port = (ipv4.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;

  return {
    origin,
    port,
    host: `127.0.0.1:${port}`,
    ipv6Origin: ipv6 === null ? null : `http://[::1]:${(ipv6.address() as AddressInfo).port}`,
    url: (path) => new URL(path, origin).href,
    requestLog: log,
    maxConcurrent: (host) => (host === undefined ? maxTotal : (maxima.get(host) ?? 0)),
    requestCount: (prefix = "") => log.filter((record) => record.path.startsWith(prefix)).length,
    waitForRequests: (prefix, count) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (log.filter((record) => record.path.startsWith(prefix)).length < count) return;
          arrivals.off("request", check);
          resolve();
        };
        arrivals.on("request", check);
        check();
      }),
    resetStats() {
      log.length = 0;
      maxima.clear();
      for (const [host, count] of inFlight) if (count > 0) maxima.set(host, count);
      maxTotal = inFlightTotal;
    },
    setRobots(text, status = 200, hostname) {
      if (hostname === undefined) robots = { text, status };
      else robotsByHost.set(hostname.toLowerCase(), { text, status });
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all([ipv4, ipv6].map((server) => (server === null ? undefined : shutDown(server))));
    },
  };
}

function listen(server: Server, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

function shutDown(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Hanging and keep-alive connections would otherwise hold close() open.
    server.closeAllConnections();
  });
}

function sendHtml(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, { "content-type": HTML, "content-length": bytes.length, ...headers });
  res.end(bytes);
}

function redirect(res: ServerResponse, location: string, status: number): void {
  sendHtml(res, status, simplePage(`Redirect to ${location}`), { location });
}

/** Writes `total` bytes of filler, respecting backpressure, and stops when the client goes away. */
function streamFiller(res: ServerResponse, total: number): void {
  const chunk = Buffer.alloc(64 * 1024, `<p>${FILLER_WORDS}</p>\n`);
  let sent = 0;
  const pump = (): void => {
    while (sent < total && !res.destroyed) {
      const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
      sent += piece.length;
      if (!res.write(piece)) {
        res.once("drain", pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

function compress(body: Buffer, encoding: string): Buffer {
  switch (encoding) {
    case "gzip":
      return gzipSync(body);
    case "deflate":
      return deflateSync(body);
    case "br":
      return brotliCompressSync(body);
    default:
      throw new Error(`unknown encoding ${encoding}`);
  }
}

function pageLinkCount(n: number): number {
  return (n % 17) + 3;
}

function renderPage(n: number): string {
  const links = Array.from(
    { length: pageLinkCount(n) },
    (_, i) => `<li><a href="/page/${n * 31 + i}">Link ${i} of page ${n}</a></li>`,
  ).join("\n");
  const filler = FILLER_WORDS.repeat(Math.ceil(((n * 37) % 3000 + 1000) / FILLER_WORDS.length));
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Page ${n}</title></head>
<body>
<h1>Page ${n}</h1>
<p>${filler}</p>
<a name="top">an anchor without href does not count</a>
<ul>
${links}
</ul>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function simplePage(title: string): string {
  return `<!doctype html><html><head><title>${title}</title></head><body><p>${title}</p></body></html>\n`;
}

function encodedTitlePage(headExtra: string, titleBytes: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`<!doctype html><html><head>${headExtra}<title>`),
    titleBytes,
    Buffer.from(`</title></head><body><a href="/page/1">1</a> <a href="/page/2">2</a></body></html>\n`),
  ]);
}

function benchHead(n: number): Buffer {
  return Buffer.from(`<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Bench ${n}</title></head>\n`);
}

let cachedBenchBody: Buffer | undefined;
function benchBody(): Buffer {
  if (cachedBenchBody === undefined) {
    const sections: string[] = [];
    for (let i = 0; i < BENCH_LINKS; i += 1) {
      sections.push(`<div class="item"><h2>Item ${i}</h2><p>${FILLER_WORDS.repeat(2)}</p><a href="/bench/${i}">Item ${i}</a></div>`);
    }
    cachedBenchBody = Buffer.from(`<body>\n<main>\n${sections.join("\n")}\n</main>\n</body>\n</html>\n`);
  }
  return cachedBenchBody;
}

let cachedHugeTitlePage: Buffer | undefined;
// One ~10 MB buffer, however many requests ask for it: res.end() sends it without copying.
function hugeTitlePage(): Buffer {
  cachedHugeTitlePage ??= Buffer.from(
    `<!doctype html><html><head><title>${hugeTitle()}</title></head><body><a href="/page/1">1</a></body></html>\n`,
  );
  return cachedHugeTitlePage;
}

let cachedGzipBomb: Promise<Buffer> | undefined;
function gzipBomb(): Promise<Buffer> {
  cachedGzipBomb ??= buildGzipBomb();
  return cachedGzipBomb;
}

// Streamed from one reused block, so the fixture never holds the inflated size itself
// (tests measure the crawler's memory in this same process).
async function buildGzipBomb(): Promise<Buffer> {
  const block = Buffer.alloc(1024 * 1024, " ");
  const compressed: Buffer[] = [];
  await pipeline(
    function* () {
      for (let sent = 0; sent < GZIP_BOMB_BYTES; sent += block.length) yield block;
    },
    createGzip({ level: 9 }),
    async (gzipped: AsyncIterable<Buffer>) => {
      for await (const chunk of gzipped) compressed.push(chunk);
    },
  );
  return Buffer.concat(compressed);
}

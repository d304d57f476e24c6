import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { Plugin } from "graphql-yoga";

/** The dashboard's Vite build (`web/` → `dist/web/`), next to the compiled service. */
export const WEB_ROOT = fileURLToPath(new URL("../../web/", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

/** Content type by file extension; unknown ones are served as bytes. */
export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
}

/** One file served from memory. */
export interface StaticAsset {
  body: Buffer;
  type: string;
  etag: string;
  /** The gzip form, made on first demand; null when it would not be smaller. */
  gzipped?: Buffer | null;
}

/** A file to serve from memory, with its ETag (a hash of the bytes). */
export function staticAsset(body: Buffer, type: string): StaticAsset {
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` };
}

/** A year: hashed names never change content. */
export const IMMUTABLE = "public, max-age=31536000, immutable";

/**
 * The answer to a GET or HEAD for `asset`: 304 when the client holds it (ETag), gzip when accepted and
 * worth it, `nosniff` always.
 */
export function assetResponse(request: Request, asset: StaticAsset, cacheControl: string, headers: Record<string, string> = {}): Response {
  let body = asset.body;
  let etag = asset.etag;
  const encoding: Record<string, string> = {};
  if (asset.body.length > 1024 && /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "")) {
    if (asset.gzipped === undefined) {
      const gzipped = gzipSync(asset.body);
      asset.gzipped = gzipped.length < asset.body.length ? gzipped : null;
    }
    if (asset.gzipped) {
      body = asset.gzipped;
      // Another representation, so another validator (a cache must not answer a 304 with the other one).
      etag = `${asset.etag.slice(0, -1)}-gzip"`;
      encoding["content-encoding"] = "gzip";
    }
  }
  const common = { ...headers, etag, "cache-control": cacheControl, vary: "Accept-Encoding", "x-content-type-options": "nosniff" };
  if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers: common });
  // A Buffer is a Uint8Array: sent as it is, not copied.
  return new Response(request.method === "HEAD" ? null : (body as unknown as BodyInit), {
    status: 200,
    headers: { ...common, ...encoding, "content-type": asset.type, "content-length": String(body.length) },
  });
}

/**
 * Every regular file under `root`, by URL path (`/index.html`, `/assets/x.js`). Only these paths are ever
 * served, so no request path can reach outside the folder. Empty when the folder does not exist.
 */
export function readStaticTree(root: string): Map<string, StaticAsset> {
  const files = new Map<string, StaticAsset>();
  const walk = (dir: string, prefix: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of entries) {
      const full = path.join(dir, name);
      const stat = statSync(full);
      if (stat.isDirectory()) walk(full, `${prefix}${name}/`);
      else if (stat.isFile()) files.set(`${prefix}${name}`, staticAsset(readFileSync(full), contentTypeOf(name)));
    }
  };
  walk(root, "/");
  return files;
}

/** The dashboard's own pages may only load from and talk to the service (WebSocket included). */
const DASHBOARD_CSP =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Where the dashboard is built, and which of its files are templates rather than pages. */
export interface StaticFilesOptions {
  /** Defaults to {@link WEB_ROOT}. */
  root?: string;
  /** Paths not served as they are (the GraphiQL template, served filled in at the GraphQL endpoint). */
  hidden?: readonly string[];
}

/** The dashboard's files, read once (see {@link readStaticTree}). */
export class StaticFiles {
  readonly #root: string;
  readonly #hidden: Set<string>;
  #files: Map<string, StaticAsset> | undefined;

  constructor(options: StaticFilesOptions = {}) {
    this.#root = options.root ?? WEB_ROOT;
    this.#hidden = new Set(options.hidden ?? []);
  }

  /** The file at this URL path, read on first use (also the hidden ones). */
  get(urlPath: string): StaticAsset | undefined {
    this.#files ??= readStaticTree(this.#root);
    return this.#files.get(urlPath);
  }

  /** The file a request may get: `/` is `/index.html`; hidden paths are not served. */
  servable(urlPath: string): StaticAsset | undefined {
    const file = urlPath === "/" ? "/index.html" : urlPath;
    return this.#hidden.has(file) ? undefined : this.get(file);
  }
}

/**
 * Yoga plugin: serves the dashboard (`dist/web`) at `/`: GET and HEAD only, exact paths from the build,
 * hashed assets cached for a year, pages revalidated. Anything else goes on to Yoga (GraphQL, 404).
 */
export function useStaticFiles(files: StaticFiles): Plugin {
  return {
    onRequest({ request, url, endResponse }) {
      if (request.method !== "GET" && request.method !== "HEAD") return;
      const asset = files.servable(url.pathname);
      if (!asset) return;
      const html = asset.type.startsWith("text/html");
      const headers: Record<string, string> = html
        ? { "content-security-policy": DASHBOARD_CSP, "x-frame-options": "DENY", "referrer-policy": "no-referrer" }
        : {};
      endResponse(assetResponse(request, asset, url.pathname.startsWith("/assets/") ? IMMUTABLE : "no-cache", headers));
    },
  };
}

import { request as httpRequest } from "node:http";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphiqlRenderer } from "../../src/http/graphiql.js";
import { StaticFiles } from "../../src/http/static-files.js";
import { startInProcessApp, type InProcessApp } from "../helpers/in-process-app.js";

// The dashboard's files (dist/web, built by `npm run build`) and GraphiQL's page and code, as the service
// serves them. In a real browser: test/e2e/browser.test.ts.

let app: InProcessApp;
let origin: string;

beforeAll(async () => {
  app = await startInProcessApp();
  origin = (await app.listen()).replace(/\/graphql$/, "");
});

afterAll(async () => {
  await app?.close();
});

const get = (path: string, headers: Record<string, string> = {}, method = "GET") => fetch(`${origin}${path}`, { method, headers });

/** A request with the path sent exactly as given (fetch would normalise `..`). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the dashboard at /", () => {
  it("serves the page with a strict CSP, and the files it references with their content types", async () => {
    const page = await get("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await page.text();
    expect(html).toContain("<title>crawlq dashboard</title>");
    expect(html).not.toMatch(/(src|href)="https?:/);
    const referenced = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(referenced.some((p) => p.endsWith(".js"))).toBe(true);
    expect(referenced.some((p) => p.endsWith(".css"))).toBe(true);
    for (const path of referenced) {
      const asset = await get(path);
      expect(asset.status, path).toBe(200);
      expect(asset.headers.get("content-type")).toBe(path.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8");
      expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect((await asset.text()).length).toBeGreaterThan(0);
    }
    expect((await get("/index.html")).status).toBe(200);
  });

  it("runs on the typed client (src/client) with none of its Node-only dependencies bundled", async () => {
    const html = await (await get("/")).text();
    const scripts = [...html.matchAll(/src="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
    const code = (await Promise.all(scripts.map(async (path) => (await get(path)).text()))).join("\n");
    expect(code).toContain("subscription Completions");
    // Neither the ws package (its browser stub) nor a node: built-in.
    expect(code).not.toMatch(/ws does not work in the browser|["']node:/);
  });

  it("answers HEAD, revalidation (304) and gzip", async () => {
    const head = await get("/", {}, "HEAD");
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    const etag = head.headers.get("etag")!;
    expect((await get("/", { "if-none-match": etag })).status).toBe(304);

    const html = await (await get("/")).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const { hostname, port } = new URL(origin);
    const gzipped = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      httpRequest({ host: hostname, port, path: script, headers: { "accept-encoding": "gzip" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ encoding: res.headers["content-encoding"], body: Buffer.concat(chunks) }));
      })
        .on("error", reject)
        .end();
    });
    expect(gzipped.encoding).toBe("gzip");
    expect(gunzipSync(gzipped.body).toString("utf8")).toBe(await (await get(script, { "accept-encoding": "identity" })).text());
  });

  it("serves nothing outside the build: traversal, encoded dots, the GraphiQL template, other methods", async () => {
    for (const path of [
      "/../package.json",
      "/../../package.json",
      "/%2e%2e/package.json",
      "/assets/..%2f..%2fpackage.json",
      "/assets/%2e%2e/%2e%2e/src/main.js",
      "/..%5c..%5cpackage.json",
      "//etc/passwd",
      "/assets/",
      "/assets",
      "/web/index.html",
      "/graphiql.html",
      "/index.html%00.js",
    ]) {
      const answer = await rawGet(path);
      expect(answer.status, path).toBe(404);
      expect(answer.body, path).not.toContain('"name": "crawlq"');
      expect(answer.body, path).not.toContain("__CRAWLQ_GRAPHIQL_CONFIG__");
    }
    const post = await fetch(`${origin}/`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(post.status).toBe(404);
  });

  it("applies the Host check to the dashboard too (DNS rebinding)", async () => {
    const { hostname, port } = new URL(origin);
    const status = await new Promise<number>((resolve, reject) => {
      httpRequest({ host: hostname, port, path: "/", headers: { host: "evil.example" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on("error", reject)
        .end();
    });
    expect(status).toBe(421);
  });
});

describe("GraphiQL at /graphql", () => {
  it("is a page whose code is all served by the service, with the example operations", async () => {
    const page = await get("/graphql", { accept: "text/html" });
    expect(page.status).toBe(200);
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    const html = await page.text();
    expect(html).not.toMatch(/unpkg|jsdelivr|cdn|https?:\/\/(?!127\.0\.0\.1)[^"']*\.(js|css)/);
    const config = JSON.parse(/<script id="crawlq-graphiql" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!);
    expect(config.options.defaultQuery).toContain("mutation Submit");
    expect(config.options.defaultQuery).toContain("subscription Watch");
    expect(config.options.subscriptionsProtocol).toBe("WS");
    const assets: string[] = [config.assets.script, config.assets.css, config.assets.favicon, ...Object.values<string>(config.assets.workers)];
    const types: Record<string, string> = { js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8", ico: "image/x-icon" };
    for (const path of assets) {
      expect(path).toMatch(/^\/graphiql\/[\w-]{12}\/[\w.-]+$/);
      const asset = await get(path);
      expect(asset.status, path).toBe(200);
      expect(asset.headers.get("content-type")).toBe(types[path.split(".").pop()!]);
      expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      await asset.arrayBuffer();
    }
    // The page's own module scripts come from the dashboard build.
    for (const [, path] of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) expect((await get(path!)).status).toBe(200);
  });

  it("answers 404 for GraphiQL code of another version or an unknown file", async () => {
    const html = await (await get("/graphql", { accept: "text/html" })).text();
    const script = /"script":"([^"]+)"/.exec(html)![1]!;
    expect((await get(script.replace(/\/graphiql\/[\w-]+\//, "/graphiql/0123456789ab/"))).status).toBe(404);
    expect((await get(script.replace("yoga-graphiql.js", "nope.js"))).status).toBe(404);
    expect((await get(`${script}/more`)).status).toBe(404);
  });

  it("without a dashboard build, falls back to the renderer's own page, self-contained and offline too", async () => {
    const html = await graphiqlRenderer(new StaticFiles({ root: "/nonexistent/web" }))({ title: "crawlq", defaultQuery: "query Pool { pool { threads } }" });
    expect(html).toContain("YogaGraphiQL.renderYogaGraphiQL");
    expect(html).toContain("query Pool { pool { threads } }");
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)="https?:/);
  });
});

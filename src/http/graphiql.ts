import { createHash } from "node:crypto";
import type { GraphiQLOptions, Plugin } from "graphql-yoga";
import { assetResponse, IMMUTABLE, staticAsset, type StaticAsset, type StaticFiles } from "./static-files.js";

/** Where GraphiQL's own code is served: `/graphiql/<content hash>/<file>`. */
export const GRAPHIQL_ASSETS_PATH = "/graphiql/";

/** The page template in the dashboard's build (web/graphiql.html); served filled in, never as it is. */
export const GRAPHIQL_TEMPLATE = "/graphiql.html";

const CONFIG_PLACEHOLDER = "__CRAWLQ_GRAPHIQL_CONFIG__";

/** What web/src/graphiql.ts reads from the page: the renderer's options and where its code is. */
export interface GraphiQLPageConfig {
  options: GraphiQLOptions;
  assets: {
    script: string;
    css: string;
    favicon: string;
    /** Monaco's workers by label, as MonacoEnvironment.getWorkerUrl is asked for them. */
    workers: Record<"editorWorkerService" | "json" | "graphql", string>;
  };
}

interface RendererAssets {
  /** A hash of every file: a new renderer version gets new URLs. */
  version: string;
  files: Map<string, StaticAsset>;
}

let loaded: Promise<RendererAssets> | undefined;

/**
 * GraphiQL as @graphql-yoga/render-graphiql ships it (the whole app, CSS and Monaco's workers as strings;
 * no CDN), split into files so a browser caches them instead of receiving 9 MB of inline page each time.
 * Loaded on first use: a service nobody opens GraphiQL on never holds it.
 */
function rendererAssets(): Promise<RendererAssets> {
  loaded ??= import("@graphql-yoga/render-graphiql/graphiql").then((renderer) => {
    const js = "text/javascript; charset=utf-8";
    const [, favicon = ""] = renderer.favicon.split(",", 2);
    const files = new Map<string, StaticAsset>([
      ["yoga-graphiql.js", staticAsset(Buffer.from(renderer.js), js)],
      ["graphiql.css", staticAsset(Buffer.from(renderer.css), "text/css; charset=utf-8")],
      ["editor.worker.js", staticAsset(Buffer.from(renderer.editorWorkerService), js)],
      ["json.worker.js", staticAsset(Buffer.from(renderer.jsonWorker), js)],
      ["graphql.worker.js", staticAsset(Buffer.from(renderer.graphqlWorker), js)],
      ["favicon.ico", staticAsset(Buffer.from(favicon, "base64"), "image/x-icon")],
    ]);
    const hash = createHash("sha256");
    for (const file of files.values()) hash.update(file.etag);
    return { version: hash.digest("base64url").slice(0, 12), files };
  });
  return loaded;
}

/**
 * Yoga's `renderGraphiQL`: the dashboard build's GraphiQL page (web/graphiql.html: it asks for an API key
 * on 401 and keeps it for the browser session) with the options and asset URLs filled in. Without a
 * dashboard build, the renderer's own self-contained page (offline too, no key prompt).
 */
export function graphiqlRenderer(files: StaticFiles): (options: GraphiQLOptions) => Promise<string> {
  return async (options) => {
    const template = files.get(GRAPHIQL_TEMPLATE);
    if (!template) {
      const { renderGraphiQL } = await import("@graphql-yoga/render-graphiql");
      return renderGraphiQL(options);
    }
    const { version } = await rendererAssets();
    const at = (file: string) => `${GRAPHIQL_ASSETS_PATH}${version}/${file}`;
    const config: GraphiQLPageConfig = {
      options,
      assets: {
        script: at("yoga-graphiql.js"),
        css: at("graphiql.css"),
        favicon: at("favicon.ico"),
        workers: { editorWorkerService: at("editor.worker.js"), json: at("json.worker.js"), graphql: at("graphql.worker.js") },
      },
    };
    // Inside <script type="application/json">: no "<" may close the element early.
    const json = JSON.stringify(config).replace(/</g, "\\u003c");
    return template.body.toString("utf8").replace(CONFIG_PLACEHOLDER, () => json);
  };
}

/**
 * Yoga plugin: serves GraphiQL's code under {@link GRAPHIQL_ASSETS_PATH} (immutable, gzip), and keeps the
 * GraphiQL page out of frames on other sites.
 */
export function useGraphiQLAssets(): Plugin {
  return {
    async onRequest({ request, url, endResponse }) {
      if (!url.pathname.startsWith(GRAPHIQL_ASSETS_PATH) || (request.method !== "GET" && request.method !== "HEAD")) return;
      const [version, name, ...rest] = url.pathname.slice(GRAPHIQL_ASSETS_PATH.length).split("/");
      const assets = await rendererAssets();
      const asset = version === assets.version && rest.length === 0 && name ? assets.files.get(name) : undefined;
      endResponse(
        asset
          ? assetResponse(request, asset, IMMUTABLE)
          : new Response("Not found", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } }),
      );
    },
    onResponse({ response }) {
      if (response.headers.get("content-type")?.startsWith("text/html")) response.headers.set("x-frame-options", "DENY");
    },
  };
}

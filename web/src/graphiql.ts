import { authorization, fetchWithKey } from "./api-key.ts";

/** What the service puts in the page (src/http/graphiql.ts, GraphiQLPageConfig). */
interface PageConfig {
  options: Record<string, unknown> & { endpoint?: string };
  assets: { script: string; css: string; favicon: string; workers: Record<string, string> };
}

declare global {
  interface Window {
    YogaGraphiQL?: { renderYogaGraphiQL: (root: Element, options: Record<string, unknown>) => void };
    MonacoEnvironment?: { globalAPI: boolean; getWorkerUrl: (moduleId: string, label: string) => string };
  }
}

// GraphiQL keeps its tabs in localStorage under "graphiql:"; on a shared origin such as localhost:4000 that
// may be another server's GraphiQL (and its tabs would hide our example operations): ours gets a prefix.
const PREFIX = "crawlq:";
const storage = {
  getItem: (key: string) => localStorage.getItem(PREFIX + key),
  setItem: (key: string, value: string) => localStorage.setItem(PREFIX + key, value),
  removeItem: (key: string) => localStorage.removeItem(PREFIX + key),
  get length() {
    return Object.keys(localStorage).filter((key) => key.startsWith(PREFIX)).length;
  },
  clear: () => {
    for (const key of Object.keys(localStorage)) if (key.startsWith(PREFIX)) localStorage.removeItem(key);
  },
};

function load(tag: "script" | "link", attributes: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    element.addEventListener("load", () => resolve());
    element.addEventListener("error", () => reject(new Error(`could not load ${attributes["src"] ?? attributes["href"]}`)));
    document.head.append(element);
  });
}

/** Asks the service a trivial query, with the session's key: a 401 brings up the key form. */
async function ensureAccess(endpoint: string): Promise<void> {
  await fetchWithKey(endpoint, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ query: "query AccessCheck { __typename }" }),
  });
}

async function start(): Promise<void> {
  const config = JSON.parse(document.getElementById("crawlq-graphiql")!.textContent!) as PageConfig;
  const { assets, options } = config;
  window.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_moduleId, label) => assets.workers[label]! };
  const icon = document.createElement("link");
  icon.rel = "icon";
  icon.href = assets.favicon;
  document.head.append(icon);
  await Promise.all([
    load("link", { rel: "stylesheet", href: assets.css }),
    load("script", { src: assets.script }),
    ensureAccess(options.endpoint ?? location.pathname),
  ]);
  const auth = authorization();
  window.YogaGraphiQL!.renderYogaGraphiQL(document.getElementById("root")!, {
    ...options,
    storage,
    // HTTP requests and the WebSocket (graphql-ws connectionParams) both carry the session's key.
    additionalHeaders: auth === null ? {} : { Authorization: auth },
    connectionParams: auth === null ? {} : { authorization: auth },
  });
}

start().catch((error: unknown) => {
  const root = document.getElementById("root")!;
  root.textContent = `GraphiQL could not start: ${error instanceof Error ? error.message : String(error)}`;
});

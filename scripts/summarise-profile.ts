/**
 * Summarises V8 .cpuprofile files (from `npm run bench -- --cpu-prof DIR`): self time by category
 * and the top functions, one block per thread.
 *
 *   node dist/scripts/summarise-profile.js DIR [--top N]
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** First match wins: more specific patterns first. */
const CATEGORIES: Array<[string, RegExp]> = [
  ["idle", /^\(idle\)$/],
  ["GC", /^\(garbage collector\)$/],
  ["Prisma client/adapter", /@prisma\/|src\/generated\/prisma|query_compiler|\.wasm/],
  ["SQLite (better-sqlite3)", /better-sqlite3/],
  ["GraphQL execution (graphql-js)", /node_modules\/graphql\//],
  ["yoga / envelop / whatwg-node", /graphql-yoga|@envelop|@whatwg-node|@graphql-tools|@graphql-yoga|@repeaterjs/],
  ["graphql-ws / ws", /graphql-ws|node_modules\/ws\//],
  ["pothos", /@pothos/],
  ["pubsub / events / waiting", /src\/tasks\/(task-events|done-feed|task-service|task-loader)/],
  ["repository (our mapping)", /src\/tasks\/task-repository/],
  ["dispatcher / gate", /src\/pool\/(dispatcher|host-gate|retry-policy)/],
  ["piscina messaging", /piscina/],
  ["crawler (ours)", /src\/crawler\//],
  ["undici", /undici/],
  ["htmlparser2 / entities", /htmlparser2|entities|domhandler/],
  ["encoding", /whatwg-encoding|iconv-lite|html-encoding-sniffer/],
  ["zod / pino / other deps", /node_modules\//],
  ["other src", /\/dist\/src\//],
  ["node internals", /^node:|^internal\//],
  ["native / program", /^$/],
];

function categoryOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  for (const [name, pattern] of CATEGORIES) {
    if (pattern.test(url) || (url === "" && pattern.test(functionName))) return name;
  }
  return "other";
}

export function summarise(file: string, top: number): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self].filter(([id]) => byId.get(id)!.callFrame.functionName === "(idle)").reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;
  const categories = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, micros] of self) {
    const node = byId.get(id)!;
    const cat = categoryOf(node);
    categories.set(cat, (categories.get(cat) ?? 0) + micros);
    if (cat === "idle") continue;
    const shortUrl = node.callFrame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/dist\//, "dist/");
    const key = `${node.callFrame.functionName || "(anonymous)"}  ${shortUrl}:${node.callFrame.lineNumber + 1}  [${cat}]`;
    functions.set(key, (functions.get(key) ?? 0) + micros);
  }
  const pct = (us: number, of: number) => `${((100 * us) / of).toFixed(1).padStart(5)}%`;
  const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  const lines = [
    `${path.basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${pct(busy, total).trim()})`,
    "  self time by category (% of busy):",
    ...[...categories]
      .filter(([c]) => c !== "idle")
      .sort((a, b) => b[1] - a[1])
      .map(([c, us]) => `    ${pct(us, busy)} ${ms(us)}  ${c}`),
    `  top ${top} functions by self time (% of busy):`,
    ...[...functions]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([f, us]) => `    ${pct(us, busy)} ${ms(us)}  ${f}`),
  ];
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ options: { top: { type: "string", default: "25" } }, allowPositionals: true });
  const dir = positionals[0];
  if (!dir) throw new Error("usage: node dist/scripts/summarise-profile.js DIR [--top N]");
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).sort();
  for (const f of files) console.log(summarise(path.join(dir, f), Number(values.top)) + "\n");
}

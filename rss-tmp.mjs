import { startBenchService } from "./dist/bench/service.js";
import os from "node:os"; import fs from "node:fs"; import path from "node:path";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rss-"));
const s = await startBenchService({ PORT: "0", DATABASE_URL: `file:${dir}/db.db`, CRAWLQ_THREADS: "2", LOG_LEVEL: "warn", ...JSON.parse(process.argv[2] ?? "{}") }, process.argv.slice(3));
await new Promise(r => setTimeout(r, 1500));
console.log("idle", s.memory());
const sm = fs.readFileSync(`/proc/${s.pid}/smaps_rollup`, "utf8"); console.log(sm.split("\n").filter(l => /Rss|Anonymous|Pss_File/.test(l)).join(" | "));
await s.stop(); fs.rmSync(dir, { recursive: true });

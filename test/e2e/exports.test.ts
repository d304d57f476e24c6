import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXPORT_COLUMNS } from "../../src/client/export-format.js";
import { asCsvCells, expectedRecord, parseCsv, parseJsonLines, readTaskRows } from "../helpers/cli.js";
import { databaseFor, TEST_BACKENDS } from "../helpers/backends.js";
import { withRows } from "../helpers/database-rows.js";
import { startService, TEST_ENV, type RunningService } from "../helpers/service.js";

const cliJs = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

const BIG = 100_000;
// Rows as large as they get in practice: a title as long as the crawler keeps (1,024 characters) and URLs of
// about 1,000. Each exported line is about 3.5 KB, the whole export about 350 MB: more than the service's
// 256 MB heap could hold, let alone as rows.
const LONG_TITLE = "lorem ipsum dolor sit amet ".repeat(40).slice(0, 1024);
const LONG_PATH = "/section".repeat(125);
/**
 * Peak growth of the service's resident memory allowed while it streams the 100,000 rows. What streaming
 * costs whatever the size: V8's young generation grows under a high allocation rate (up to 3 × 16 MB
 * semi-spaces), one page of 1,000 rows (about 3 MB as strings) and a 64 KB chunk in flight, and the malloc
 * arenas that the freed chunks leave behind. Measured: 80–85 MB. A service that held the export would
 * need more than three times the bound.
 */
const RSS_BOUND_MB = 100;

// Titles and messages a CSV must quote (a stored title may hold any character: the crawler collapses
// whitespace, but the export must not depend on it).
const AWKWARD = ['Commas, "quotes"', "line one\nline two", "CR\r\nLF", "naïve — ünïcödé ✓", "=1+1", " padded "];

/**
 * GET /submissions/:id/results.{jsonl,csv} on the real service, with rows written straight into its
 * database before it starts (the fast way to have 100,000 of them).
 */
describe.each(TEST_BACKENDS)("streamed exports on $name", (backend) => {
  const database = databaseFor(backend);
  let service: RunningService;
  const keys: Record<"alice" | "bob" | "ops", string> = { alice: "", bob: "", ops: "" };
  let big = 0;
  let awkward = 0;
  let bobs = 0;

  const exportUrl = (submission: number | string, format: string) => service.url.replace(/\/graphql$/, `/submissions/${submission}/results.${format}`);
  const get = (submission: number | string, format: string, key: string | null, init: RequestInit = {}) =>
    fetch(exportUrl(submission, format), { ...init, headers: key ? { authorization: `Bearer ${key}` } : {} });

  beforeAll(async () => {
    // `crawlq keys create` migrates a new database first.
    for (const name of ["alice", "bob", "ops"] as const) {
      keys[name] = execFileSync(process.execPath, [cliJs, "keys", "create", name, ...(name === "ops" ? ["--admin"] : [])], {
        env: { ...process.env, ...TEST_ENV, DATABASE_URL: database().url },
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      }).trim();
    }
    await withRows(database().url, async (db) => {
      const keyId = async (name: string) => (await db.all<{ id: number }>(`SELECT id FROM "ApiKey" WHERE name = ?`, [name]))[0]!.id;
      const [aliceId, bobId] = [await keyId("alice"), await keyId("bob")];
      const now = Date.parse("2026-11-26T12:00:00.000Z");
      const submission = async (ownerKeyId: number) => (await db.insert("Submission", [{ createdAt: now, ownerKeyId, perHostConcurrency: 4 }]))[0]!;
      type Row = { submissionId: number; ownerKeyId: number; url: string; status: string; at: number; title: string | null } & Partial<Record<"httpStatus" | "errorCode" | "errorMessage", unknown>>;
      const task = ({ at, ...row }: Row) => ({
        host: "example.com", attempts: 1, runAt: at, createdAt: at, startedAt: at, finishedAt: at + 15, worker: 1,
        finalUrl: row.url, contentType: "text/html; charset=utf-8", contentLength: 31337, linkCount: 42, fetchMs: 12.5, parseMs: 0.75,
        httpStatus: 200, errorCode: null, errorMessage: null, ...row,
      });
      big = await submission(aliceId);
      await db.insert("Task", Array.from({ length: BIG }, (_, i) =>
        task({ submissionId: big, ownerKeyId: aliceId, status: "SUCCEEDED", url: `https://example.com${LONG_PATH}/${i}`, at: now + i, title: LONG_TITLE }),
      ));
      awkward = await submission(aliceId);
      await db.insert("Task", [
        ...AWKWARD.map((title, i) => task({ submissionId: awkward, ownerKeyId: aliceId, status: "SUCCEEDED", url: `https://example.com/odd/${i}`, at: now, title })),
        task({
          submissionId: awkward, ownerKeyId: aliceId, url: "https://example.com/gone", at: now, title: null,
          status: "FAILED", httpStatus: null, errorCode: "HTTP_STATUS", errorMessage: 'HTTP 410 Gone, "really"\nsecond line',
        }),
      ]);
      bobs = await submission(bobId);
      await db.insert("Task", [task({ submissionId: bobs, ownerKeyId: bobId, status: "SUCCEEDED", url: "https://example.com/bob", at: now, title: "Bob's" })]);
    });
    // As `npm start` runs it: the heap capped at 256 MB.
    service = await startService(database().url, {}, { nodeArgs: ["--max-old-space-size=256"] });
  }, 180_000); // 350 MB of rows: on PostgreSQL, parsed as JSON by the server, a minute when the machine is busy

  afterAll(async () => {
    await service?.stop();
  });

  it(`streams ${BIG.toLocaleString("en-US")} rows as JSON Lines, in id order, each once, with the service's memory bounded`, async () => {
    const pid = service.process.pid!;
    // Warm: the export's code has run once, and the pool's threads have started (RSS steady).
    expect((await get(awkward, "jsonl", keys.alice)).status).toBe(200);
    const before = await steadyRssKb(pid);
    const peakResettable = resetPeak(pid);
    let sampledPeak = before;
    const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, rssKb(pid, "VmRSS"))), 20);

    const started = performance.now();
    const response = await get(big, "jsonl", keys.alice);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/jsonl; charset=utf-8");
    let lines = 0;
    let bytes = 0;
    let lastId = 0;
    let outOfOrder = 0;
    const samples = new Map<number, string>();
    let rest = "";
    const decoder = new TextDecoder();
    const reader = response.body!.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      bytes += chunk.value.length;
      const parts = (rest + decoder.decode(chunk.value, { stream: true })).split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        const id = Number(/^\{"id":"(\d+)"/.exec(line)?.[1]);
        if (!(id > lastId)) outOfOrder++;
        lastId = id;
        if (lines % 9973 === 0) samples.set(id, line);
        lines++;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const peak = peakResettable ? rssKb(pid, "VmHWM") : sampledPeak;
    const growthMb = (Math.max(peak, sampledPeak) - before) / 1024;
    console.log(
      `export: ${lines} rows, ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s; service RSS ${(before / 1024).toFixed(0)} MB before, ` +
        `peak ${(Math.max(peak, sampledPeak) / 1024).toFixed(0)} MB (${peakResettable ? "VmHWM after reset" : "sampled"}), +${growthMb.toFixed(1)} MB`,
    );

    expect(rest).toBe("");
    expect(lines).toBe(BIG);
    expect(outOfOrder).toBe(0);
    expect(bytes).toBeGreaterThan(BIG * 3000);
    const rows = new Map((await readTaskRows(database().url, { ids: [...samples.keys()] })).map((row) => [row.id, row]));
    for (const [id, line] of samples) expect(JSON.parse(line)).toEqual(expectedRecord(rows.get(id)!));
    expect(growthMb).toBeLessThan(RSS_BOUND_MB);
    expect(bytes / 1024 / 1024).toBeGreaterThan(3 * RSS_BOUND_MB);
  }, 60_000);

  it("quotes commas, quotes and line breaks in CSV (RFC 4180), and both formats hold the stored rows", async () => {
    const rows = await readTaskRows(database().url, [awkward]);
    const csv = await get(awkward, "csv", keys.alice);
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8; header=present");
    expect(csv.headers.get("content-disposition")).toBe(`attachment; filename="submission-${awkward}-results.csv"`);
    const text = await csv.text();
    expect(text.startsWith(`${EXPORT_COLUMNS.join(",")}\r\n`)).toBe(true);
    expect(text).toContain(',"Commas, ""quotes""",');
    expect(text).toContain(',"line one\nline two",');
    expect(text).toContain(',"CR\r\nLF",');
    expect(text).toContain(',"HTTP 410 Gone, ""really""\nsecond line",');
    expect(text.endsWith("\r\n")).toBe(true);
    expect(parseCsv(text)).toEqual([EXPORT_COLUMNS, ...rows.map((row) => asCsvCells(expectedRecord(row)))]);

    const jsonl = await get(awkward, "jsonl", keys.alice);
    expect(parseJsonLines(await jsonl.text())).toEqual(rows.map(expectedRecord));
  });

  it("is scoped by API key: 401 without one, 404 for another key's submission or an unknown one, all for an admin key", async () => {
    const anonymous = await get(awkward, "jsonl", null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toBe('Bearer realm="crawlq"');
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe("UNAUTHENTICATED");

    for (const [submission, key] of [[awkward, keys.bob], [bobs, keys.alice], [424242, keys.alice], ["abc", keys.alice]] as const) {
      const response = await get(submission, "csv", key);
      expect(response.status).toBe(404);
      expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
      expect(await response.json()).toEqual({ error: { code: "NOT_FOUND", message: `No submission with id ${submission}` } });
    }
    expect(parseJsonLines(await (await get(bobs, "jsonl", keys.bob)).text()).map((r) => r.title)).toEqual(["Bob's"]);
    expect(parseJsonLines(await (await get(bobs, "jsonl", keys.ops)).text())).toHaveLength(1);

    const post = await get(awkward, "csv", keys.alice, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET");
  });

  it("stops reading when the client goes away, and serves the next export", async () => {
    const controller = new AbortController();
    const response = await get(big, "csv", keys.alice, { signal: controller.signal });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    const next = await get(awkward, "jsonl", keys.alice);
    expect(parseJsonLines(await next.text())).toHaveLength(AWKWARD.length + 1);
  });
});

/** A line of /proc/PID/status in KB (VmRSS: now; VmHWM: the peak). */
function rssKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match![1]);
}

/** The process's RSS once it has stopped moving (by less than 2 MB over a second; 10 s at most). */
async function steadyRssKb(pid: number): Promise<number> {
  const readings = [rssKb(pid, "VmRSS")];
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    readings.push(rssKb(pid, "VmRSS"));
    const lastSecond = readings.slice(-5);
    if (lastSecond.length === 5 && Math.max(...lastSecond) - Math.min(...lastSecond) < 2048) break;
  }
  return readings.at(-1)!;
}

/** Resets the process's peak RSS (VmHWM) to its current RSS; false where the kernel does not let us. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

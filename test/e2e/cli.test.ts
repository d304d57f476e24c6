import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXPORT_COLUMNS } from "../../src/client/export-format.js";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { asCsvCells, expectedRecord, parseCsv, parseJsonLines, readTaskRows, runCli, unusedPort } from "../helpers/cli.js";
import { databaseFor, TEST_BACKENDS } from "../helpers/backends.js";
import { startService, TEST_ENV, type RunningService } from "../helpers/service.js";

const cliJs = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

// Commas, quotes and a line break (a crawled title has its whitespace collapsed: the break becomes a space).
const AWKWARD_TITLE = 'Commas, "quotes" and\na line break';

describe.each(TEST_BACKENDS)("the crawlq CLI against the real service on $name", (backend) => {
  const dir = mkdtempSync(path.join(tmpdir(), "crawlq-cli-"));
  const database = databaseFor(backend);
  let site: FixtureSite;
  let service: RunningService;
  let key: string;
  let env: Record<string, string>;
  const file = (name: string) => path.join(dir, name);

  beforeAll(async () => {
    site = await startFixtureSite();
    key = execFileSync(process.execPath, [cliJs, "keys", "create", "cli-user"], {
      env: { ...process.env, ...TEST_ENV, DATABASE_URL: database().url },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
    // One fixture host: let 16 requests run on it at once (the pool's size in tests).
    service = await startService(database().url, { CRAWLQ_PER_HOST_CONCURRENCY: "16" });
    env = { CRAWLQ_SERVER: service.url, CRAWLQ_API_KEY: key };
  }, 60_000); // a CLI process, then the service: slow when the machine is busy

  afterAll(async () => {
    await service?.stop();
    await site?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("submits 12,000 URLs in two chunks, shows progress lines, and writes each task once to JSONL, as stored", async () => {
    const urls = Array.from({ length: 12_000 }, (_, i) => site.url(`/page/${i + 1}`));
    writeFileSync(file("urls.txt"), ["# 12,000 fixture pages", "", ...urls.slice(0, 6000), "   ", "# half way", ...urls.slice(6000)].join("\n"));

    const run = await runCli(["submit", file("urls.txt"), "--wait", "--output", file("out.jsonl"), "--progress-interval", "1"], { env });
    console.log(`crawlq submit: 12,000 URLs --wait --output .jsonl in ${(run.wallMs / 1000).toFixed(1)} s wall`);

    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(0);
    const submissionIds = run.stdout.trim().split("\n");
    expect(submissionIds).toHaveLength(2);
    expect(run.stderr).toMatch(/^crawlq: [\d,]+\/12,000 done \([\d,]+ succeeded, 0 failed, 0 cancelled\), [\d,]+ pending, [\d,]+ pages\/s, ETA /m);
    expect(run.stderr).toMatch(/^crawlq: 12,000 tasks done in [\d.]+ s \([\d,]+ pages\/s\): 12,000 succeeded, 0 failed, 0 cancelled$/m);

    const written = parseJsonLines(readFileSync(file("out.jsonl"), "utf8"));
    expect(written).toHaveLength(12_000);
    expect(new Set(written.map((r) => r.id)).size).toBe(12_000);
    const rows = await readTaskRows(database().url, submissionIds);
    expect(rows).toHaveLength(12_000);
    const byId = new Map(written.map((r) => [r.id, r]));
    for (const row of rows) expect(byId.get(String(row.id))).toEqual(expectedRecord(row));
    expect(Object.keys(written[0]!)).toEqual(EXPORT_COLUMNS);

    // The service's export of the same submissions has the very same lines (one serializer), in id order.
    const exported: string[] = [];
    for (const id of submissionIds) {
      const response = await fetch(service.url.replace(/\/graphql$/, `/submissions/${id}/results.jsonl`), {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(response.status).toBe(200);
      exported.push(...(await response.text()).trimEnd().split("\n"));
    }
    const cliLines = readFileSync(file("out.jsonl"), "utf8").trimEnd().split("\n");
    const order = (lines: string[]) => [...lines].sort((a, b) => Number(JSON.parse(a).id) - Number(JSON.parse(b).id));
    expect(exported).toEqual(order(cliLines));
  }, 60_000);

  it("writes CSV with RFC 4180 quoting, exits 1 when tasks fail, 0 with --allow-failures (results on stdout)", async () => {
    const urls = [
      site.url(`/title?text=${encodeURIComponent(AWKWARD_TITLE)}`),
      ...Array.from({ length: 20 }, (_, i) => site.url(`/page/${i + 1}`)),
      site.url("/status/404"),
      site.url("/status/410"),
    ];
    writeFileSync(file("mixed.txt"), urls.join("\n"));

    const run = await runCli(["submit", file("mixed.txt"), "--output", file("out.csv"), "--no-progress"], { env });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^crawlq: 23 tasks done in .*: 21 succeeded, 2 failed, 0 cancelled$/m);
    expect(run.stderr).not.toMatch(/pending/);
    const text = readFileSync(file("out.csv"), "utf8");
    expect(text).toContain('"Commas, ""quotes"" and a line break"');
    expect(text.split("\r\n")).toHaveLength(23 + 2);
    const [header, ...records] = parseCsv(text);
    expect(header).toEqual(EXPORT_COLUMNS);
    const rows = await readTaskRows(database().url, [run.stdout.trim()]);
    expect(records.sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(rows.map((row) => asCsvCells(expectedRecord(row))));

    const again = await runCli(["submit", "-", "--output", "-", "--format", "csv", "--allow-failures", "--no-progress"], { env, input: urls.join("\n") });
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/^crawlq: submission \d+$/m);
    const [againHeader, ...againRecords] = parseCsv(again.stdout);
    expect(againHeader).toEqual(EXPORT_COLUMNS);
    expect(againRecords).toHaveLength(23);
  }, 30_000);

  it("exits 2 on usage errors, and prints a BAD_USER_INPUT as one line naming the file's lines", async () => {
    writeFileSync(file("empty.txt"), "# nothing\n\n");
    writeFileSync(file("bad.txt"), ["# two bad entries", site.url("/page/1"), "ftp://example.com/", "not a url"].join("\n"));
    const usage = [
      ["submit", file("urls.txt"), "--unknown-flag"],
      ["submit", file("missing.txt")],
      ["submit", file("empty.txt")],
      ["submit", file("urls.txt"), "--output", file("out.txt")],
      ["submit", file("urls.txt"), "--chunk-size", "0"],
      ["submit", file("urls.txt"), "--server", "not a url"],
      ["batch", "1", "--submission", "1"],
      ["result"],
    ];
    for (const args of usage) {
      const run = await runCli(args, { env });
      expect([args.join(" "), run.code]).toEqual([args.join(" "), 2]);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
    expect((await runCli(["submit", file("missing.txt")], { env })).stderr).toBe(`crawlq: cannot read ${file("missing.txt")}: ENOENT\n`);

    const bad = await runCli(["submit", file("bad.txt")], { env });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toBe(
      'crawlq: BAD_USER_INPUT: 2 invalid URLs: line 3: scheme must be http or https, not ftp ("ftp://example.com/"); ' +
        'line 4: not an absolute URL ("not a url")\n',
    );

    // 12,000 URLs in one call: over the server's 10,000.
    const tooMany = await runCli(["submit", file("urls.txt"), "--chunk-size", "12000"], { env });
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toBe("crawlq: BAD_USER_INPUT: the server takes at most 10,000 URLs per submission; run again with --chunk-size 10000\n");
  }, 30_000);

  it("exits 3 with one line when the server cannot be reached", async () => {
    const closedPort = await unusedPort();
    const unreachable = { ...env, CRAWLQ_SERVER: `http://127.0.0.1:${closedPort}/graphql` };
    for (const args of [["submit", file("mixed.txt"), "--wait"], ["stats"], ["watch"], ["result", "1"]]) {
      const run = await runCli(args, { env: unreachable });
      expect([args[0], run.code]).toEqual([args[0], 3]);
      expect(run.stderr).toMatch(new RegExp(`^crawlq: cannot reach crawlq at http://127\\.0\\.0\\.1:${closedPort}/graphql: .*ECONNREFUSED.*\\n$`));
    }
  });

  it("prints the server's refusals as one line and exits 1: UNAUTHENTICATED, NOT_FOUND, TIMEOUT", async () => {
    const noKey = await runCli(["stats"], { env: { CRAWLQ_SERVER: service.url } });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/^crawlq: UNAUTHENTICATED: .*API key.* \(pass --key KEY or set CRAWLQ_API_KEY\)\n$/);
    const wrongKey = await runCli(["watch", "--key", "cq_wrong"], { env });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/^crawlq: UNAUTHENTICATED: .*\n$/);

    const missing = await runCli(["result", "999999"], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("crawlq: NOT_FOUND: No task with id 999999\n");

    writeFileSync(file("hang.txt"), site.url("/hang"));
    const submitted = await runCli(["submit", file("hang.txt")], { env });
    const [task] = await readTaskRows(database().url, [submitted.stdout.trim()]);
    const timeout = await runCli(["result", String(task!.id), "--timeout", "100"], { env });
    expect(timeout.code).toBe(1);
    expect(timeout.stderr).toBe(`crawlq: TIMEOUT: Task ${task!.id} was not done within 100 ms; it goes on running\n`);
  });

  it("result, batch, watch, cancel and stats: tables, or JSON with --json", async () => {
    writeFileSync(file("three.txt"), [1, 2, 3].map((n) => site.url(`/page/${n}`)).join("\n"));
    const sid = (await runCli(["submit", file("three.txt"), "--wait", "--no-progress"], { env })).stdout.trim();

    const batch = await runCli(["batch", "--submission", sid, "--json"], { env });
    expect(batch.code).toBe(0);
    const answer = JSON.parse(batch.stdout) as { complete: boolean; done: number; tasks: Array<{ id: string; title: string }> };
    expect(answer).toMatchObject({ complete: true, done: 3, notDone: 0 });
    expect(answer.tasks.map((t) => t.title)).toEqual(["Page 1", "Page 2", "Page 3"]);
    const ids = answer.tasks.map((t) => t.id);

    const table = await runCli(["batch", ...ids], { env });
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+STATUS\s+ATTEMPTS\s+HTTP\s+TITLE \/ ERROR\s+URL$/);
    expect(table.stdout).toMatch(new RegExp(`^${ids[1]}\\s+SUCCEEDED\\s+1\\s+200\\s+Page 2\\s+http://`, "m"));
    expect(table.stderr).toBe("crawlq: complete: 3 done, 0 not done\n");

    const result = await runCli(["result", ids[0]!, "--json"], { env });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(expectedRecord((await readTaskRows(database().url, [sid]))[0]!));

    const watched = await runCli(["watch", "--submission", sid, "--json"], { env });
    expect(watched.code).toBe(0);
    expect(parseJsonLines(watched.stdout).map((r) => r.id).sort()).toEqual([...ids].sort());

    // One request at a time on this host, a minute apart: the second task stays PENDING.
    writeFileSync(file("two.txt"), [site.url("/page/7"), site.url("/page/8")].join("\n"));
    const slow = (await runCli(["submit", file("two.txt"), "--per-host-concurrency", "1", "--host-delay-ms", "60000"], { env })).stdout.trim();
    const pendingId = String((await readTaskRows(database().url, [slow]))[1]!.id);
    const cancelled = await runCli(["cancel", pendingId, "--json"], { env });
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ id: pendingId, status: "CANCELLED" });
    // As Future.cancel(): true again for a cancelled task, false for one that ran.
    expect((await runCli(["cancel", pendingId], { env })).code).toBe(0);
    const tooLate = await runCli(["cancel", ids[0]!], { env });
    expect(tooLate.code).toBe(1);
    expect(tooLate.stdout).toMatch(new RegExp(`^${ids[0]}\\s+SUCCEEDED`, "m"));
    expect(tooLate.stderr).toBe(`crawlq: task ${ids[0]} is SUCCEEDED: only a PENDING task can be cancelled\n`);
    expect((await runCli(["result", pendingId], { env })).code).toBe(1);

    const stats = await runCli(["stats", "--json"], { env });
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({ threads: 2, concurrencyPerThread: 8, cancelled: 1 });
    expect(JSON.parse(stats.stdout).instances).toEqual([
      { id: expect.any(String), hostName: expect.any(String), threads: 2, inFlight: expect.any(Number), lastHeartbeat: expect.any(String) },
    ]);
    const statsTable = (await runCli(["stats"], { env })).stdout;
    expect(statsTable).toMatch(/^threads\s+2$/m);
    expect(statsTable).toMatch(/^instance\s+host\s+threads\s+in flight\s+last heartbeat$/m);
  });

  it("documents every flag in --help", async () => {
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["submit", "result", "batch", "watch", "cancel", "stats", "serve", "keys"]) expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    expect(help.stdout).toMatch(/Exit codes: 0 .* 3 the server could not be reached/s);
    const submitHelp = (await runCli(["submit", "--help"])).stdout.replace(/\s+/g, " ");
    for (const flag of ["--chunk-size", "--max-retries", "--per-host-concurrency", "--host-delay-ms", "--respect-robots", "--no-respect-robots", "--wait", "--output", "--format", "--allow-failures", "--no-progress", "--progress-interval", "--server", "--key"]) {
      expect(submitHelp).toContain(` ${flag} `);
    }
    expect(submitHelp).toContain("env: CRAWLQ_SERVER");
    expect(submitHelp).toContain("env: CRAWLQ_API_KEY");
  });
});

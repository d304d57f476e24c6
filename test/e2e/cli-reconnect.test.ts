import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { expectedRecord, parseJsonLines, readTaskRows, runCli, unusedPort } from "../helpers/cli.js";
import { startService, tempDatabase, type RunningService } from "../helpers/service.js";

const TASKS = 3000;

/**
 * `crawlq submit --output` while the service goes away mid-run and comes back on the same address and
 * database: every task is written exactly once, as stored.
 */
describe("crawlq submit --output across a service restart", () => {
  const db = tempDatabase();
  let site: FixtureSite;
  let service: RunningService;
  let env: Record<string, string>;
  const start = async (port: number) => (service = await startService(db.url, { PORT: String(port), CRAWLQ_PER_HOST_CONCURRENCY: "16" }));

  beforeAll(async () => {
    site = await startFixtureSite();
    await start(await unusedPort());
    env = { CRAWLQ_SERVER: service.url };
  });

  afterAll(async () => {
    await service?.stop();
    await site?.close();
    db.remove();
  });

  /** Submits TASKS slow pages with --output, runs `interrupt` once a quarter is done, and checks the file. */
  async function submitThrough(name: string, interrupt: () => Promise<void>) {
    // 25 ms a page, 16 at a time: about 5 s of crawling, so the interruption lands mid-run.
    const urls = Array.from({ length: TASKS }, (_, i) => site.url(`/slow?ms=25&${name}=${i}`));
    const list = path.join(db.dir, `${name}.txt`);
    const output = path.join(db.dir, `${name}.jsonl`);
    writeFileSync(list, urls.join("\n"));
    const before = site.requestCount(`/slow?ms=25&${name}=`);
    const run = runCli(["submit", list, "--output", output, "--progress-interval", "1"], { env });
    await site.waitForRequests(`/slow?ms=25&${name}=`, before + TASKS / 4);
    await interrupt();
    const { code, stdout, stderr } = await run;

    expect(stderr).not.toMatch(/\n\s+at /);
    expect(code).toBe(0);
    expect(stderr).toMatch(/^crawlq: reconnected$/m);
    expect(stderr).toMatch(new RegExp(`^crawlq: ${TASKS / 1000},000 tasks done in .*: ${TASKS / 1000},000 succeeded, 0 failed, 0 cancelled$`, "m"));
    const written = parseJsonLines(readFileSync(output, "utf8"));
    expect(written).toHaveLength(TASKS);
    const rows = await readTaskRows(db.url, [stdout.trim()]);
    const byId = new Map(written.map((r) => [r.id, r]));
    expect(byId.size).toBe(TASKS);
    for (const row of rows) expect(byId.get(String(row.id))).toEqual(expectedRecord(row));
    return stderr;
  }

  it("SIGTERM, then a new process: the ended streams are opened again and each task is written once", async () => {
    const stderr = await submitThrough("term", async () => {
      const port = new URL(service.url).port;
      expect(await service.stop()).toBe(0);
      await start(Number(port));
    });
    expect(stderr).toMatch(/^crawlq: following submission \d+ again \(the server ended the stream early\)$/m);
  }, 60_000);

  it("SIGKILL, then a new process: graphql-ws reconnects and resubscribes; each task is written once", async () => {
    const stderr = await submitThrough("kill", async () => {
      const port = new URL(service.url).port;
      service.process.kill("SIGKILL");
      await service.exited;
      await start(Number(port));
    });
    // (After a SIGTERM the server first ends the stream, so whether the CLI also sees the socket drop while
    // following depends on timing: only the SIGKILL case is sure to.)
    expect(stderr).toMatch(/^crawlq: connection lost; reconnecting$/m);
  }, 60_000);
});

import { createServer, type AddressInfo } from "node:net";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { startService, tempDatabase, TEST_ENV } from "../helpers/service.js";

// The real service refuses to start where it would be unsafe or could not work: listening beyond loopback
// with no API keys (unless CRAWLQ_ALLOW_OPEN=1), and a second process on a database another one serves.

const db = tempDatabase();
const mainJs = fileURLToPath(new URL("../../src/main.js", import.meta.url));

afterAll(() => db.remove());

// A SIGTERM in the first milliseconds after "listening on" sometimes kills the process by the signal
// (seen before these changes too); once it has answered a request, SIGTERM gets the graceful exit 0.
async function healthy(url: string): Promise<void> {
  expect((await fetch(url.replace("/graphql", "/health"))).status).toBe(200);
}

/** Runs the service to its exit; resolves with the exit code, what it printed on stderr, and how long it took. */
function runToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string; ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [mainJs], {
    env: { ...process.env, ...TEST_ENV, PORT: "0", DATABASE_URL: db.url, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  let stdout = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  // Should it start after all, stop it: the test then fails on the exit code.
  const watchdog = setInterval(() => {
    if (stdout.includes("listening on")) child.kill("SIGTERM");
  }, 50);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearInterval(watchdog);
      resolve({ code, stderr, stdout, ms: performance.now() - started });
    }),
  );
}

describe("open only where it is safe", () => {
  it.each(["0.0.0.0", "::", "192.168.1.20"])("refuses HOST=%s without API keys: one line on stderr, exit 1", async (host) => {
    const run = await runToExit({ HOST: host });
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^crawlq failed to start: .*HOST=${host.replace(/\./g, "\\.")} is not a loopback address.*CRAWLQ_ALLOW_OPEN=1`));
    expect(run.stdout).not.toContain("listening on");
  });

  it("starts on 0.0.0.0 with CRAWLQ_ALLOW_OPEN=1", async () => {
    const service = await startService(db.url, { HOST: "0.0.0.0", CRAWLQ_ALLOW_OPEN: "1" });
    try {
      const { port } = new URL(service.url);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    } finally {
      expect(await service.stop()).toBe(0);
    }
  });

  it("starts on the loopback name localhost", async () => {
    const service = await startService(db.url, { HOST: "localhost" });
    await healthy(service.url);
    expect(await service.stop()).toBe(0);
  });
});

describe("one process per database file", () => {
  it("a second process on the same file fails at start with one clear line", async () => {
    const first = await startService(db.url);
    try {
      const run = await runToExit({ HOST: "127.0.0.1" });
      expect(run.code).toBe(1);
      const file = db.url.slice("file:".length);
      expect(run.stderr.trim().split("\n")).toEqual([
        `crawlq failed to start: database ${file} is in use by another crawlq process (lock file ${file}.lock)`,
      ]);
      expect(run.ms).toBeLessThan(5_000);
      // The first one is unharmed.
      await healthy(first.url);
    } finally {
      expect(await first.stop()).toBe(0);
    }
  });

  it("the file is free again once its process has stopped, or been killed", async () => {
    const second = await startService(db.url);
    second.process.kill("SIGKILL");
    await second.exited;
    const third = await startService(db.url);
    await healthy(third.url);
    expect(await third.stop()).toBe(0);
  });
});

describe("a PostgreSQL server that cannot be reached", () => {
  it("stops at start with one line naming it, the password hidden", async () => {
    // A loopback port nothing listens on (the test's own closed listener).
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const run = await runToExit({ DATABASE_URL: `postgresql://crawlq:secret@127.0.0.1:${port}/crawlq` });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toEqual([
      `crawlq failed to start: cannot use PostgreSQL postgresql://crawlq:***@127.0.0.1:${port}/crawlq: connect ECONNREFUSED 127.0.0.1:${port}`,
    ]);
  });
});

import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { gqlData, subscribeWs, wsClient } from "../../testkit/graphql-client.js";
import { startService, type RunningService } from "../helpers/service.js";
import { TaskDone } from "../../src/client/operations.js";
import { SUBMIT } from "../helpers/queries.js";

/**
 * The database's disk fills up while tasks run, then gets space back: every write fails meanwhile
 * (SQLITE_FULL), and the service must keep every task (nothing lost, nothing stuck RUNNING, each completion
 * once) and resume by itself, with no restart. The file lives on a small tmpfs of its own (CI runs as root).
 * A read-only remount would be the other way to fail writes, but the kernel refuses it while SQLite holds
 * the file open for writing; the in-process dispatcher tests cover any write error.
 */
describe("a database whose disk fills up and then has space again", () => {
  let site: FixtureSite;
  let mountPoint: string;
  const filler = () => path.join(mountPoint, "filler");
  /** Writes to a filler file until the file system refuses (the database may grow meanwhile). */
  const fillDisk = () => {
    const chunk = Buffer.alloc(1024 * 1024);
    const fd = openSync(filler(), "w");
    try {
      for (;;) writeSync(fd, chunk);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      // The last partial megabyte too, a page at a time.
      try {
        for (;;) writeSync(fd, chunk, 0, 4096);
      } catch {}
    } finally {
      closeSync(fd);
    }
  };
  const freeDisk = () => rmSync(filler(), { force: true });

  /**
   * Starts the service on a database in the tmpfs, runs `body` with it and a graphql-ws client, and always
   * frees the disk and stops both; a failure carries the service's last output.
   */
  async function withServiceOnTmpfs(
    file: string,
    env: Record<string, string>,
    body: (service: RunningService, client: Client) => Promise<void>,
  ): Promise<void> {
    const service = await startService(`file:${path.join(mountPoint, file)}`, { ...env, LOG_LEVEL: "warn" });
    const client = wsClient(service.url);
    try {
      await body(service, client);
    } catch (error) {
      throw new Error(`${String(error)}\nservice output:\n${service.output().slice(-4000)}`);
    } finally {
      freeDisk();
      await client.dispose();
      await service.stop();
    }
  }

  beforeAll(async () => {
    site = await startFixtureSite();
    mountPoint = mkdtempSync(path.join(tmpdir(), "crawlq-ro-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=32m", "tmpfs", mountPoint]);
  });

  afterAll(async () => {
    await site.close();
    execFileSync("umount", ["-l", mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it("resumes by itself once writable, with every task finished exactly once", { timeout: 60_000 }, async () => {
    await withServiceOnTmpfs("crawlq.db", { CRAWLQ_PER_HOST_CONCURRENCY: "4" }, async (service, client) => {
      const urls = Array.from({ length: 120 }, (_, i) => site.url(`/slow?ms=40&ro=${i}`));
      const { submitCrawl } = await gqlData(service.url, SUBMIT, { urls });
      const stream = subscribeWs(client, TaskDone, "taskDone", { submissionId: submitCrawl.id });
      await stream.waitFor(10);

      fillDisk();
      // Results that cannot be saved are retried, then given up on: their tasks are to run again.
      await service.waitForOutput(/"requeueing":[1-9]/);
      freeDisk();

      await stream.completed;
      const ids = stream.items.map((t) => t.id);
      expect(new Set(ids).size).toBe(120);
      expect(ids).toHaveLength(120);
      expect(stream.items.every((t) => t.status === "SUCCEEDED")).toBe(true);
      expect(service.process.exitCode).toBeNull();
    });
  });

  it("a claim that fails on a full disk gives its host slots back: the host runs again once there is space", { timeout: 60_000 }, async () => {
    await withServiceOnTmpfs("claims.db", { CRAWLQ_PER_HOST_CONCURRENCY: "4", CRAWLQ_RETRY_BASE_MS: "1500" }, async (service, client) => {
      const urls = Array.from({ length: 8 }, (_, i) => site.url(`/flaky/claims-${i}?fail=1&status=503`));
      const { submitCrawl } = await gqlData(service.url, SUBMIT, { urls });
      const stream = subscribeWs(client, TaskDone, "taskDone", { submissionId: submitCrawl.id });
      // Every first attempt failed and its retry is committed (PENDING again, one attempt made).
      for (;;) {
        const { tasks } = await gqlData<{ tasks: Array<{ attempts: number }> }>(service.url, `{ tasks(status: PENDING) { attempts } }`);
        if (tasks.length === 8 && tasks.every((t) => t.attempts === 1)) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      fillDisk();
      // The retries come due and their claims fail, four times at least: more slots than the host has
      // would have been lost if a failed claim kept the slots it took.
      await service.waitForOutput(/(dispatcher could not claim tasks[^]*){4}/);
      freeDisk();

      await stream.completed;
      expect(stream.items.map((t) => t.status)).toEqual(Array(8).fill("SUCCEEDED"));
      expect(new Set(stream.items.map((t) => t.id)).size).toBe(8);
    });
  });
});

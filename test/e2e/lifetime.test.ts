import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { gqlData, subscribeSse, subscribeWs, wsClient } from "../../testkit/graphql-client.js";
import { TaskDone } from "../../src/client/operations.js";
import { SUBMIT } from "../helpers/queries.js";
import { databaseFor, TEST_BACKENDS } from "../helpers/backends.js";
import { statusCounts } from "../helpers/database-rows.js";
import { startService } from "../helpers/service.js";

describe.each(TEST_BACKENDS)("$name", (backend) => {
  let site: FixtureSite;
  beforeAll(async () => {
    site = await startFixtureSite();
  });
  afterAll(async () => {
    await site?.close();
  });

  describe("restart after a crash", () => {
    const db = databaseFor(backend);

    it("runs every task left PENDING or RUNNING by a killed process; none is reported done twice", async () => {
      // The same settings on both backends. SQLite requeues the tasks a killed process left RUNNING when the
      // next process starts; PostgreSQL (other instances may be running) once the killed instance's lease
      // has expired: a short lease keeps that wait short.
      const env = { CRAWLQ_PER_HOST_CONCURRENCY: "4", CRAWLQ_CONCURRENCY_PER_THREAD: "2", CRAWLQ_HEARTBEAT_MS: "200", CRAWLQ_LEASE_MS: "1000" };
      const first = await startService(db().url, env);
      const urls = Array.from({ length: 40 }, (_, i) => site.url(`/slow?ms=150&crash=${i}`));
      const { submitCrawl } = await gqlData(first.url, SUBMIT, { urls });
      const client = wsClient(first.url);
      const before = subscribeWs(client, TaskDone, "taskDone", { submissionId: submitCrawl.id });
      await before.waitFor(8);
      first.process.kill("SIGKILL");
      expect(await first.exited).toBe("SIGKILL");
      await client.dispose();
      const doneBefore = new Map(before.items.map((t) => [t.id, t]));
      const counts = await statusCounts(db().url);
      expect(counts.RUNNING ?? 0).toBeGreaterThan(0); // the kill really caught tasks mid-flight
      expect(counts.PENDING ?? 0).toBeGreaterThan(0);

      const second = await startService(db().url, env);
      try {
        const after = subscribeSse(second.url, TaskDone, "taskDone", { submissionId: submitCrawl.id });
        await after.completed;
        expect(after.errors).toEqual([]);
        expect(after.items).toHaveLength(40);
        expect(new Set(after.items.map((t) => t.id)).size).toBe(40);
        for (const task of after.items) {
          expect(task.done).toBe(true);
          expect(task.status).toBe("SUCCEEDED");
          // A terminal state is written once: what the first process reported is what the second reports.
          const earlier = doneBefore.get(task.id);
          if (earlier) expect(task.finishedAt).toBe(earlier.finishedAt);
        }
        // Tasks finished before the crash were not fetched again.
        const fetches = (url: string) => site.requestLog.filter((r) => site.url(r.path) === url).length;
        for (const task of doneBefore.values()) expect(fetches(task.url)).toBe(1);
      } finally {
        await second.stop();
      }
      expect(await statusCounts(db().url)).toEqual({ SUCCEEDED: 40 });
    });
  });

  describe("SIGTERM", () => {
    const db = databaseFor(backend);

    it("refuses new submissions, lets running tasks finish, leaves the rest PENDING, ends subscriptions, exits 0", async () => {
      const service = await startService(db().url, {
        CRAWLQ_PER_HOST_CONCURRENCY: "2",
        CRAWLQ_SHUTDOWN_GRACE_MS: "10000",
        LOG_LEVEL: "info",
      });
      const urls = Array.from({ length: 10 }, (_, i) => site.url(`/slow?ms=700&term=${i}`));
      const { submitCrawl } = await gqlData(service.url, SUBMIT, { urls });
      const client = wsClient(service.url);
      const wsStream = subscribeWs(client, TaskDone, "taskDone", { submissionId: submitCrawl.id });
      const sseStream = subscribeSse(service.url, TaskDone, "taskDone", { submissionId: submitCrawl.id });
      await site.waitForRequests("/slow?ms=700&term=", 2);

      service.process.kill("SIGTERM");
      await service.waitForOutput(/"msg":"shutting down"/);
      const refused = await new Promise<unknown>((resolve) => {
        client.subscribe({ query: String(SUBMIT), variables: { urls: [site.url("/page/1")] } }, { next: resolve, error: resolve, complete: () => {} });
      });
      expect(JSON.stringify(refused)).toContain("SHUTTING_DOWN");

      expect(await service.exited).toBe(0);
      await wsStream.completed;
      await sseStream.completed;
      // The two running tasks finished within the grace period and were pushed before the streams ended.
      expect(wsStream.items.map((t) => t.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
      expect(sseStream.items).toHaveLength(2);
      expect(await statusCounts(db().url)).toEqual({ SUCCEEDED: 2, PENDING: 8 });
      expect(site.requestCount("/slow?ms=700&term=")).toBe(2);
      await client.dispose();
    });
  });
});

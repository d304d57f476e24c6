import { describe, expect, it } from "vitest";
import { expectedPage } from "../../testkit/fixture-site.js";
import { gql, gqlData } from "../../testkit/graphql-client.js";
import type { CrawlOptions } from "../../src/client/generated/graphql.js";
import { Batch, CancelTask, Crawl, Pool, Result, TaskById, Tasks } from "../../src/client/operations.js";
import { SUBMIT, type TaskView } from "../helpers/queries.js";
import { TEST_BACKENDS } from "../helpers/backends.js";
import { serviceWithSite } from "../helpers/service-with-site.js";

describe.each(TEST_BACKENDS)("the futures API on $name", (backend) => {
  const running = serviceWithSite({ CRAWLQ_PER_HOST_CONCURRENCY: "16" }, backend);

  async function submit(paths: string[], options?: CrawlOptions): Promise<TaskView[]> {
    const data = await gqlData(running.service.url, SUBMIT, { urls: paths.map((p) => running.site.url(p)), options });
    return data.submitCrawl.tasks;
  }

  const taskCount = async () => {
    const { pool } = await gqlData(running.service.url, Pool);
    return pool.running + pool.pending + pool.succeeded + pool.failed + pool.cancelled;
  };

  describe("submitCrawl (pool.submit)", () => {
    it("acknowledges every task as PENDING, in the order given, and task(id) does not block", async () => {
      const data = await gqlData(running.service.url, SUBMIT, {
        urls: [running.site.url("/page/1"), running.site.url("/slow?ms=1500&n=ack")],
      });
      const { id, tasks } = data.submitCrawl;
      expect(tasks.map((t) => t.url)).toEqual([running.site.url("/page/1"), running.site.url("/slow?ms=1500&n=ack")]);
      for (const t of tasks) {
        expect(t).toMatchObject({ status: "PENDING", done: false, attempts: 0, submissionId: id, result: null, error: null });
      }
      const { task } = await gqlData(running.service.url, TaskById, { id: tasks[1]!.id });
      expect(task?.done).toBe(false);
      expect(["PENDING", "RUNNING"]).toContain(task?.status);
    });

    it("rejects a submission with any bad URL, naming every bad entry, and stores nothing", async () => {
      const before = await taskCount();
      const urls = [running.site.url("/page/2"), "ftp://example.invalid/x", "not a url", "http://", `http://a.invalid/${"a".repeat(2100)}`, "mailto:x@y.invalid"];
      const result = await gql(running.service.url, SUBMIT, { urls });
      expect(result.data).toBeNull();
      expect(result.errors).toHaveLength(1);
      const error = result.errors![0]!;
      expect(error.extensions?.code).toBe("BAD_USER_INPUT");
      expect(error.extensions?.invalid.map((e: { index: number }) => e.index)).toEqual([1, 2, 3, 4, 5]);
      for (const entry of error.extensions?.invalid ?? []) expect(entry.reason).toEqual(expect.any(String));
      expect(error.message).toContain("#1");
      expect(error.message).toContain("#5");
      expect(JSON.stringify(result)).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
      expect(await taskCount()).toBe(before);
    });

    it("rejects an empty list and more than 10,000 URLs", async () => {
      for (const urls of [[], Array.from({ length: 10_001 }, (_, i) => running.site.url(`/page/${i}`))]) {
        const result = await gql(running.service.url, SUBMIT, { urls });
        expect(result.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
      }
    });
  });

  describe("result (Future.result)", () => {
    it("blocks until the task is done and returns it with its result", async () => {
      const [task] = await submit(["/slow?ms=300&n=result"]);
      const { result } = await gqlData(running.service.url, Result, { id: task!.id, timeoutMs: 10_000 });
      expect(result).toMatchObject({ id: task!.id, status: "SUCCEEDED", done: true, attempts: 1, error: null });
      expect(result.result).toMatchObject({ httpStatus: 200, finalUrl: running.site.url("/slow?ms=300&n=result") });
      expect(result.worker).toEqual(expect.any(Number));
      expect(Date.parse(result.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(result.startedAt!));
    });

    it("returns a finished task at once, even with timeoutMs 0", async () => {
      const [task] = await submit(["/page/5"]);
      await gqlData(running.service.url, Result, { id: task!.id, timeoutMs: 10_000 });
      const { result } = await gqlData(running.service.url, Result, { id: task!.id, timeoutMs: 0 });
      expect(result.result).toMatchObject({ title: expectedPage(5).title, linkCount: expectedPage(5).linkCount });
    });

    it("fails with TIMEOUT when the task is not done in time, and the task goes on", async () => {
      const [task] = await submit(["/slow?ms=1500&n=timeout"]);
      const timedOut = await gql(running.service.url, Result, { id: task!.id, timeoutMs: 100 });
      expect(timedOut.errors?.[0]?.extensions?.code).toBe("TIMEOUT");
      const { result } = await gqlData(running.service.url, Result, { id: task!.id, timeoutMs: 10_000 });
      expect(result.status).toBe("SUCCEEDED");
    });

    it("fails with NOT_FOUND for an unknown id, where task(id) is null", async () => {
      expect((await gql(running.service.url, Result, { id: "987654321" })).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
      expect((await gql(running.service.url, Result, { id: "nope" })).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
      expect(await gqlData(running.service.url, TaskById, { id: "987654321" })).toEqual({ task: null });
    });

    it("refuses a timeoutMs over 300,000", async () => {
      const [task] = await submit(["/page/6"]);
      const result = await gql(running.service.url, Result, { id: task!.id, timeoutMs: 300_001 });
      expect(result.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    });
  });

  describe("crawl (submit and wait)", () => {
    it("returns the finished task", async () => {
      const { crawl } = await gqlData(running.service.url, Crawl, { url: running.site.url("/page/7"), timeoutMs: 10_000 });
      const page = expectedPage(7);
      expect(crawl.status).toBe("SUCCEEDED");
      expect(crawl.result).toMatchObject({ httpStatus: 200, title: page.title, linkCount: page.linkCount, contentLength: page.contentLength });
    });
  });

  describe("batch (collect all / concurrent.futures.wait)", () => {
    it("ALL_COMPLETED returns every task, in the order asked", async () => {
      const tasks = await submit(["/page/10", "/page/11", "/status/404", "/slow?ms=200&n=all"]);
      const ids = tasks.map((t) => t.id).reverse();
      const { batch } = await gqlData(running.service.url, Batch, { ids, timeoutMs: 10_000 });
      expect(batch).toMatchObject({ complete: true, done: 4, notDone: 0 });
      expect(batch.tasks.map((t) => t.id)).toEqual(ids);
      expect(batch.tasks.map((t) => t.status)).toEqual(["SUCCEEDED", "FAILED", "SUCCEEDED", "SUCCEEDED"]);
      expect(batch.tasks[1]!.error).toEqual({ code: "HTTP_STATUS", message: expect.stringContaining("404") });
    });

    it("takes a submissionId instead of ids", async () => {
      const tasks = await submit(["/page/12", "/page/13"]);
      const { batch } = await gqlData(running.service.url, Batch, { submissionId: tasks[0]!.submissionId, timeoutMs: 10_000 });
      expect(batch.complete).toBe(true);
      expect(batch.tasks.map((t) => t.id)).toEqual(tasks.map((t) => t.id));
    });

    it("FIRST_COMPLETED returns when any task is done", async () => {
      const tasks = await submit(["/slow?ms=3000&n=fc", "/page/14"]);
      const { batch } = await gqlData(running.service.url, Batch, {
        ids: tasks.map((t) => t.id),
        returnWhen: "FIRST_COMPLETED",
        timeoutMs: 10_000,
      });
      expect(batch).toMatchObject({ complete: true, done: 1, notDone: 1 });
      expect(batch.tasks.map((t) => t.done)).toEqual([false, true]);
    });

    it("FIRST_EXCEPTION returns when any task fails, or when all are done", async () => {
      const failing = await submit(["/slow?ms=3000&n=fe", "/status/500"]);
      const first = await gqlData(running.service.url, Batch, {
        ids: failing.map((t) => t.id),
        returnWhen: "FIRST_EXCEPTION",
        timeoutMs: 10_000,
      });
      expect(first.batch).toMatchObject({ complete: true, done: 1, notDone: 1 });
      expect(first.batch.tasks[1]!.status).toBe("FAILED");

      const fine = await submit(["/page/15", "/slow?ms=200&n=fe2"]);
      const all = await gqlData(running.service.url, Batch, {
        ids: fine.map((t) => t.id),
        returnWhen: "FIRST_EXCEPTION",
        timeoutMs: 10_000,
      });
      expect(all.batch).toMatchObject({ complete: true, done: 2, notDone: 0 });
    });

    it("returns what stands at the timeout with complete: false, without failing", async () => {
      const tasks = await submit(["/slow?ms=2000&n=bt", "/page/16"]);
      const result = await gql(running.service.url, Batch, { ids: tasks.map((t) => t.id), timeoutMs: 300 });
      expect(result.errors).toBeUndefined();
      expect(result.data!.batch).toMatchObject({ complete: false, done: 1, notDone: 1 });
    });

    it("fails with NOT_FOUND naming unknown ids, and BAD_USER_INPUT unless exactly one of ids/submissionId", async () => {
      const [task] = await submit(["/page/17"]);
      const unknown = await gql(running.service.url, Batch, { ids: [task!.id, "99999999"] });
      expect(unknown.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
      expect(unknown.errors?.[0]?.message).toContain("99999999");
      expect((await gql(running.service.url, Batch, {})).errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
      const both = await gql(running.service.url, Batch, { ids: [task!.id], submissionId: task!.submissionId });
      expect(both.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    });
  });

  describe("cancelTask (Future.cancel)", () => {
    it("cancels a PENDING task, which then never runs", async () => {
      const tasks = await submit(["/slow?ms=1000&n=cancel-blocker", "/page/18?n=cancelled"], { perHostConcurrency: 1 });
      await running.site.waitForRequests("/slow?ms=1000&n=cancel-blocker", 1);
      const { cancelTask } = await gqlData(running.service.url, CancelTask, { id: tasks[1]!.id });
      expect(cancelTask).toMatchObject({ status: "CANCELLED", done: true, attempts: 0 });
      const { batch } = await gqlData(running.service.url, Batch, { submissionId: tasks[0]!.submissionId, timeoutMs: 10_000 });
      expect(batch.tasks.map((t) => t.status)).toEqual(["SUCCEEDED", "CANCELLED"]);
      expect(running.site.requestCount("/page/18?n=cancelled")).toBe(0);
    });

    it("changes nothing on a RUNNING or done task and returns it as it stands", async () => {
      const [task] = await submit(["/slow?ms=800&n=cancel-running"]);
      await running.site.waitForRequests("/slow?ms=800&n=cancel-running", 1);
      expect((await gqlData(running.service.url, CancelTask, { id: task!.id })).cancelTask).toMatchObject({ status: "RUNNING", done: false });
      const { result } = await gqlData(running.service.url, Result, { id: task!.id, timeoutMs: 10_000 });
      expect(result.status).toBe("SUCCEEDED");
      expect((await gqlData(running.service.url, CancelTask, { id: task!.id })).cancelTask).toMatchObject({ status: "SUCCEEDED", done: true });
      expect((await gql(running.service.url, CancelTask, { id: "99999999" })).errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    });
  });

  describe("tasks and pool", () => {
    it("lists tasks in submission order, by status, a page at a time", async () => {
      const tasks = await submit(["/page/20", "/page/21", "/page/22"]);
      await gqlData(running.service.url, Batch, { submissionId: tasks[0]!.submissionId, timeoutMs: 10_000 });
      const page = (after: string) => gqlData(running.service.url, Tasks, { status: "SUCCEEDED", first: 2, after });
      const first = (await page(String(Number(tasks[0]!.id) - 1))).tasks;
      expect(first.map((t) => t.id)).toEqual([tasks[0]!.id, tasks[1]!.id]);
      const next = (await page(tasks[1]!.id)).tasks;
      expect(next[0]!.id).toBe(tasks[2]!.id);
    });

    it("reports the pool's size and the task counts", async () => {
      const { pool } = await gqlData(running.service.url, Pool);
      expect(pool).toMatchObject({ threads: 2, concurrencyPerThread: 8 });
      expect(pool.succeeded).toBeGreaterThan(0);
      expect(pool.failed).toBeGreaterThan(0);
      expect(pool.cancelled).toBeGreaterThan(0);
    });
  });

  describe("HTTP endpoint", () => {
    it("serves GraphiQL with a ready example operation, and a health check", async () => {
      const page = await fetch(running.service.url, { headers: { accept: "text/html" } });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain("GraphiQL");
      expect(html).toContain("submitCrawl");
      expect((await fetch(new URL("/health", running.service.url))).status).toBe(200);
    });
  });
});

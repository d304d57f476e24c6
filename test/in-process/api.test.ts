import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { Batch, Crawl, Result, SubmitCrawl, TaskById } from "../../src/client/operations.js";
import { ALL_TASKS } from "../../src/tasks/task-store.js";
import { startInProcessApp, type InProcessApp } from "../helpers/in-process-app.js";

let site: FixtureSite;
let app: InProcessApp;

beforeAll(async () => {
  site = await startFixtureSite();
  // Hanging fetches stay RUNNING for the whole file: waits on them only end by timeout or abort.
  app = await startInProcessApp({ CRAWLQ_TASK_TIMEOUT_MS: "120000", CRAWLQ_MAX_RETRIES: "0" });
});

afterAll(async () => {
  await app.close();
  await site.close();
});

async function taskCount(): Promise<number> {
  const counts = await app.store.countByStatus(ALL_TASKS);
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** Resolves once `condition` holds, checking after every turn of the event loop (bounded). */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function submitHanging(): Promise<string> {
  const { data } = await app.graphql(SubmitCrawl, { urls: [site.url(`/hang?n=${Math.random()}`)] });
  return data!.submitCrawl.tasks[0]!.id;
}

describe("every argument is checked before anything is stored", () => {
  it("crawl(url, timeoutMs: -1) answers BAD_USER_INPUT and stores no task", async () => {
    const before = await taskCount();
    const { errors } = await app.graphql(Crawl, { url: site.url("/page/1"), timeoutMs: -1 });
    expect(errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(await taskCount()).toBe(before);
  });

  it("crawl(url, timeoutMs) above the maximum answers BAD_USER_INPUT and stores no task", async () => {
    const before = await taskCount();
    const { errors } = await app.graphql(Crawl, { url: site.url("/page/1"), timeoutMs: app.config.limits.maxWaitMs + 1 });
    expect(errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(await taskCount()).toBe(before);
  });
});

describe("NOT_FOUND names every unknown id exactly as sent", () => {
  it("batch(ids) names both the unknown number and the malformed id", async () => {
    const known = await submitHanging();
    const { errors } = await app.graphql(Batch, { ids: [known, "999999", "abc"], timeoutMs: 0 });
    expect(errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(errors?.[0]?.extensions?.ids).toEqual(["999999", "abc"]);
    expect(errors?.[0]?.message).toBe("No task with id 999999, abc");
  });

  it("an unknown submission is named as a submission", async () => {
    const { errors } = await app.graphql(Batch, { submissionId: "999999", timeoutMs: 0 });
    expect(errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(errors?.[0]?.message).toBe("No submission with id 999999");
  });

  it("an id past 2^53 is unknown, never rounded to another id", async () => {
    const { errors } = await app.graphql(Result, { id: "9999999999999999", timeoutMs: 0 });
    expect(errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(errors?.[0]?.message).toBe("No task with id 9999999999999999");
    const { data } = await app.graphql(TaskById, { id: "9007199254740993" });
    expect(data).toEqual({ task: null });
  });
});

describe("waits", () => {
  it("many concurrent result() waits on one task print no MaxListenersExceededWarning", async () => {
    const id = await submitHanging();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, () => app.graphql(Result, { id, timeoutMs: 100 })));
      for (const answer of answers) expect(answer.errors?.[0]?.extensions?.code).toBe("TIMEOUT");
      // Node reports listener leaks on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.map((w) => w.name)).not.toContain("MaxListenersExceededWarning");
    expect(app.bus.subscriptionCount()).toBe(0);
  });

  it("1,000 result() waits whose client aborts leave no subscription behind (yoga.fetch)", async () => {
    const id = await submitHanging();
    const controllers = Array.from({ length: 1000 }, () => new AbortController());
    const calls = controllers.map((c) => app.graphql(Result, { id, timeoutMs: 300_000 }, { signal: c.signal }).catch(() => null));
    await until(() => app.bus.subscriptionCount() === 1000, "1,000 live waits");
    for (const c of controllers) c.abort();
    await Promise.all(calls);
    await until(() => app.bus.subscriptionCount() === 0, "every wait to end");
    expect(app.service.openFeeds).toBe(0);
  });

  it("result() and batch() waits over HTTP end when the client disconnects (real socket)", async () => {
    const url = await app.listen();
    const id = await submitHanging();
    const controllers = Array.from({ length: 200 }, () => new AbortController());
    const calls = controllers.map((c, n) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(
          n % 2 === 0
            ? { query: String(Result), variables: { id, timeoutMs: 300_000 } }
            : { query: String(Batch), variables: { ids: [id], timeoutMs: 300_000 } },
        ),
        signal: c.signal,
      }).catch(() => null),
    );
    await until(() => app.bus.subscriptionCount() === 200, "200 live waits");
    for (const c of controllers) c.abort();
    await Promise.all(calls);
    await until(() => app.bus.subscriptionCount() === 0, "every wait to end after the disconnects");
    expect(app.service.openFeeds).toBe(0);
  });
});

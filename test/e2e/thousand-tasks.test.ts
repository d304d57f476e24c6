import { describe, expect, it } from "vitest";
import { expectedPage } from "../../testkit/fixture-site.js";
import { gqlData, subscribeWs, wsClient } from "../../testkit/graphql-client.js";
import { Batch, TaskDone } from "../../src/client/operations.js";
import { SUBMIT } from "../helpers/queries.js";
import { TEST_BACKENDS } from "../helpers/backends.js";
import { serviceWithSite } from "../helpers/service-with-site.js";

const COUNT = 1000;

describe.each(TEST_BACKENDS)("$name", (backend) => {
  const running = serviceWithSite({ CRAWLQ_PER_HOST_CONCURRENCY: "64", CRAWLQ_CONCURRENCY_PER_THREAD: "32" }, backend);

  it(`runs ${COUNT} tasks of one submission, each result matching the fixture page`, async () => {
    const { service, site } = running;
    const client = wsClient(service.url);
    const started = performance.now();
    const urls = Array.from({ length: COUNT }, (_, i) => site.url(`/page/${i + 1}`));
    const { submitCrawl } = await gqlData(service.url, SUBMIT, { urls });
    const stream = subscribeWs(client, TaskDone, "taskDone", { submissionId: submitCrawl.id });
    await stream.completed;
    const elapsedMs = performance.now() - started;
    console.log(`${COUNT} fixture pages end to end on ${backend.name}: ${elapsedMs.toFixed(0)} ms (${((COUNT / elapsedMs) * 1000).toFixed(0)} pages/s)`);

    expect(stream.errors).toEqual([]);
    expect(stream.items).toHaveLength(COUNT);
    expect(new Set(stream.items.map((t) => t.id)).size).toBe(COUNT);

    const { batch } = await gqlData(service.url, Batch, { submissionId: submitCrawl.id, timeoutMs: 0 });
    expect(batch).toMatchObject({ complete: true, done: COUNT, notDone: 0 });
    batch.tasks.forEach((task, i) => {
      const page = expectedPage(i + 1);
      expect(task.url).toBe(urls[i]);
      expect(task.status).toBe("SUCCEEDED");
      expect(task.result).toMatchObject({
        httpStatus: 200,
        finalUrl: urls[i],
        title: page.title,
        linkCount: page.linkCount,
        contentLength: page.contentLength,
      });
    });
    expect(new Set(batch.tasks.map((t) => t.worker)).size).toBe(2); // both pool threads did work
    expect(site.requestCount("/page/")).toBe(COUNT);
    await client.dispose();
  });
});

import { afterAll, describe, expect, it } from "vitest";
import { gqlData, subscribeSse, subscribeWs, wsClient, type Collected } from "../../testkit/graphql-client.js";
import type { TaskDoneSubscriptionVariables } from "../../src/client/generated/graphql.js";
import { Batch, Result, TaskDone } from "../../src/client/operations.js";
import { SUBMIT, type TaskView } from "../helpers/queries.js";
import { TEST_BACKENDS } from "../helpers/backends.js";
import { serviceWithSite } from "../helpers/service-with-site.js";

describe.each(TEST_BACKENDS)("taskDone subscriptions on $name", (backend) => {
  const running = serviceWithSite({ CRAWLQ_PER_HOST_CONCURRENCY: "16" }, backend);
  const clients: Array<ReturnType<typeof wsClient>> = [];

  afterAll(async () => {
    for (const client of clients) await client.dispose();
  });

  function ws() {
    const client = wsClient(running.service.url);
    clients.push(client);
    return client;
  }

  async function submit(paths: string[]): Promise<TaskView[]> {
    const data = await gqlData(running.service.url, SUBMIT, { urls: paths.map((p) => running.site.url(p)) });
    return data.submitCrawl.tasks;
  }

  const ids = (tasks: TaskView[]) => tasks.map((t) => t.id);

  /** Every selected task exactly once, each done, then the stream completed. */
  async function expectEachOnceThenComplete(stream: Collected<TaskView>, expected: string[]) {
    await stream.completed;
    expect(stream.errors).toEqual([]);
    expect(stream.items).toHaveLength(expected.length);
    expect(new Set(ids(stream.items))).toEqual(new Set(expected));
    for (const task of stream.items) expect(task.done).toBe(true);
  }

  type Transport = "WebSocket" | "SSE";
  const open = (transport: Transport, variables: TaskDoneSubscriptionVariables): Collected<TaskView> =>
    transport === "WebSocket"
      ? subscribeWs(ws(), TaskDone, "taskDone", variables)
      : subscribeSse(running.service.url, TaskDone, "taskDone", variables);

  describe.each<Transport>(["WebSocket", "SSE"])("taskDone over %s", (transport) => {
    it("subscribed after half the tasks are done: the done ones first, then the rest as they finish, each once", async () => {
      const fast = await submit(["/page/1", "/page/2", "/page/3", "/page/4"].map((p) => `${p}?t=${transport}`));
      const slow = await submit([1, 2, 3, 4].map((n) => `/slow?ms=${300 + n * 100}&t=${transport}`));
      await gqlData(running.service.url, Batch, { ids: ids(fast), timeoutMs: 10_000 });

      const stream = open(transport, { ids: [...ids(fast), ...ids(slow)] });
      await expectEachOnceThenComplete(stream, [...ids(fast), ...ids(slow)]);
      expect(new Set(ids(stream.items.slice(0, 4)))).toEqual(new Set(ids(fast)));
      const finished = stream.items.slice(4).map((t) => Date.parse(t.finishedAt!));
      expect(finished).toEqual([...finished].sort((a, b) => a - b)); // in completion order
    });

    it("by submissionId, completes after the submission's last task", async () => {
      const tasks = await submit(["/page/5", "/slow?ms=300", "/status/404"].map((p) => `${p}${p.includes("?") ? "&" : "?"}s=${transport}`));
      const stream = open(transport, { submissionId: tasks[0]!.submissionId });
      await expectEachOnceThenComplete(stream, ids(tasks));
      expect(stream.items.find((t) => t.error)?.error?.code).toBe("HTTP_STATUS");
    });
  });

  describe("taskDone races", () => {
    it("never misses a completion, however subscription and completion interleave", async () => {
      const tasks = await submit(Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? `/slow?ms=${i * 5}&race=${i}` : `/page/${100 + i}`)));
      const submissionId = tasks[0]!.submissionId;
      // Subscriptions opened one after another while the tasks are completing.
      const streams: Array<Collected<TaskView>> = [];
      for (let i = 0; i < 12; i++) {
        streams.push(open(i % 2 === 0 ? "WebSocket" : "SSE", { submissionId }));
        await gqlData(running.service.url, Result, { id: tasks[i * 5]!.id, timeoutMs: 10_000 });
      }
      for (const stream of streams) await expectEachOnceThenComplete(stream, ids(tasks));
    });

    it("with no selection, emits every completion from its start and does not complete", async () => {
      const stream = subscribeWs(ws(), TaskDone, "taskDone");
      // The protocol has no "subscribed" acknowledgement: probe until the stream is demonstrably live.
      for (let probe = 0; stream.items.length === 0 && probe < 50; probe++) {
        const [task] = await submit([`/page/${500 + probe}`]);
        await gqlData(running.service.url, Result, { id: task!.id, timeoutMs: 10_000 });
        await Promise.race([stream.waitFor(1), new Promise((resolve) => setTimeout(resolve, 100))]);
      }
      expect(stream.items.length).toBeGreaterThan(0);
      const tasks = await submit(["/page/601", "/status/500?x=1", "/slow?ms=200&nofilter"]);
      const wanted = new Set(ids(tasks));
      await gqlData(running.service.url, Batch, { ids: ids(tasks), timeoutMs: 10_000 });
      const seen = () => stream.items.filter((t) => wanted.has(t.id));
      while (seen().length < 3) await stream.waitFor(stream.items.length + 1);
      expect(new Set(ids(seen()))).toEqual(wanted);
      expect(seen()).toHaveLength(3);
      let completed = false;
      void stream.completed.then(() => (completed = true));
      const [later] = await submit(["/page/602"]);
      while (!ids(stream.items).includes(later!.id)) await stream.waitFor(stream.items.length + 1);
      expect(completed).toBe(false);
      stream.dispose();
    });

    it("fails with NOT_FOUND for unknown ids", async () => {
      const stream = subscribeWs(ws(), TaskDone, "taskDone", { ids: ["99999999"] });
      await stream.completed;
      expect(JSON.stringify(stream.errors)).toContain("NOT_FOUND");
    });
  });
});

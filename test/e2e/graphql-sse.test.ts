import { createClient, type Client } from "graphql-sse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pool, SubmitCrawl, TaskDone } from "../../src/client/operations.js";
import type { TaskDoneSubscription } from "../../src/client/generated/graphql.js";
import type { Document } from "../../testkit/graphql-client.js";
import { TEST_BACKENDS } from "../helpers/backends.js";
import { serviceWithSite } from "../helpers/service-with-site.js";

// Both modes of the graphql-sse protocol, end to end with its own client, on the same /graphql path as
// HTTP and graphql-ws: distinct connections (one event stream per operation: Yoga's built-in SSE) and a
// single connection (one event stream carrying every operation: @graphql-yoga/plugin-graphql-sse).

describe.each(TEST_BACKENDS)("graphql-sse on $name", (backend) => {
  const running = serviceWithSite({ CRAWLQ_PER_HOST_CONCURRENCY: "16" }, backend);

  /** Every payload of one operation, until the server completes it. */
  function run<TResult, TVariables>(client: Client, query: Document<TResult, TVariables>, variables?: TVariables): Promise<TResult[]> {
    return new Promise((resolve, reject) => {
      const payloads: TResult[] = [];
      client.subscribe<TResult>(
        { query: String(query), variables: (variables ?? {}) as Record<string, unknown> },
        {
          next: (value) => (value.errors ? reject(new Error(JSON.stringify(value.errors))) : payloads.push(value.data as TResult)),
          error: reject,
          complete: () => resolve(payloads),
        },
      );
    });
  }

  describe.each([
    { mode: "distinct connections", singleConnection: false },
    { mode: "single connection", singleConnection: true },
  ])("graphql-sse, $mode mode, on /graphql", ({ mode, singleConnection }) => {
    let client: Client;

    beforeAll(() => {
      client = createClient({ url: running.service.url, singleConnection, retryAttempts: 0 });
    });

    afterAll(() => client.dispose());

    it("runs a mutation, then streams taskDone for its submission: each task once, then completes", async () => {
      const paths = ["/page/1", "/slow?ms=300", "/status/404", "/page/2"].map((p) => `${p}${p.includes("?") ? "&" : "?"}mode=${mode}`);
      const [submitted] = await run(client, SubmitCrawl, { urls: paths.map((p) => running.site.url(p)) });
      const { id: submissionId, tasks } = submitted!.submitCrawl;
      const done = await run(client, TaskDone, { submissionId });
      expect(done.map((d) => d.taskDone.id).sort()).toEqual(tasks.map((t) => t.id).sort());
      expect(done.every((d) => d.taskDone.done)).toBe(true);
      expect(done.find((d) => d.taskDone.url.includes("/status/404"))?.taskDone.error?.code).toBe("HTTP_STATUS");
    });

    it("carries several operations at once", async () => {
      const urls = [1, 2, 3].map((n) => running.site.url(`/slow?ms=${200 * n}&parallel=${mode}`));
      const [submitted] = await run(client, SubmitCrawl, { urls });
      const ids = submitted!.submitCrawl.tasks.map((t) => t.id);
      const [pool, ...streams] = await Promise.all([
        run(client, Pool),
        ...ids.map((id) => run(client, TaskDone, { ids: [id] })),
      ]);
      expect(pool).toEqual([{ pool: expect.objectContaining({ threads: 2 }) }]);
      expect(streams.map((s) => s.map((d) => (d as TaskDoneSubscription).taskDone.id))).toEqual(ids.map((id) => [id]));
    });
  });
});

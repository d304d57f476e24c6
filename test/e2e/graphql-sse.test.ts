import { createClient, type Client } from "graphql-sse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { SUBMIT, TASK_DONE, type SubmitData, type TaskView } from "../helpers/queries.js";
import { startService, tempDatabase, type RunningService } from "../helpers/service.js";

// Both modes of the graphql-sse protocol, end to end with its own client, on the same /graphql path as
// HTTP and graphql-ws: distinct connections (one event stream per operation: Yoga's built-in SSE) and a
// single connection (one event stream carrying every operation: @graphql-yoga/plugin-graphql-sse).

let site: FixtureSite;
let service: RunningService;
const db = tempDatabase();

beforeAll(async () => {
  site = await startFixtureSite();
  service = await startService(db.url, { CRAWLQ_PER_HOST_CONCURRENCY: "16" });
});

afterAll(async () => {
  await service?.stop();
  await site?.close();
  db.remove();
});

/** Every payload of one operation, until the server completes it. */
function run<T>(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const payloads: T[] = [];
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => (value.errors ? reject(new Error(JSON.stringify(value.errors))) : payloads.push(value.data as T)),
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
    client = createClient({ url: service.url, singleConnection, retryAttempts: 0 });
  });

  afterAll(() => client.dispose());

  it("runs a mutation, then streams taskDone for its submission: each task once, then completes", async () => {
    const paths = ["/page/1", "/slow?ms=300", "/status/404", "/page/2"].map((p) => `${p}${p.includes("?") ? "&" : "?"}mode=${mode}`);
    const [submitted] = await run<SubmitData>(client, SUBMIT, { urls: paths.map((p) => site.url(p)) });
    const tasks = submitted!.submitCrawl.tasks;
    const done = await run<{ taskDone: TaskView }>(client, TASK_DONE, { submissionId: tasks[0]!.submissionId });
    expect(done.map((d) => d.taskDone.id).sort()).toEqual(tasks.map((t) => t.id).sort());
    expect(done.every((d) => d.taskDone.done)).toBe(true);
    expect(done.find((d) => d.taskDone.url.includes("/status/404"))?.taskDone.error?.code).toBe("HTTP_STATUS");
  });

  it("carries several operations at once", async () => {
    const urls = [1, 2, 3].map((n) => site.url(`/slow?ms=${200 * n}&parallel=${mode}`));
    const [submitted] = await run<SubmitData>(client, SUBMIT, { urls });
    const ids = submitted!.submitCrawl.tasks.map((t) => t.id);
    const [pool, ...streams] = await Promise.all([
      run<{ pool: { threads: number } }>(client, "{ pool { threads } }"),
      ...ids.map((id) => run<{ taskDone: TaskView }>(client, TASK_DONE, { ids: [id] })),
    ]);
    expect(pool).toEqual([{ pool: { threads: 2 } }]);
    expect(streams.map((s) => s.map((d) => (d as { taskDone: TaskView }).taskDone.id))).toEqual(ids.map((id) => [id]));
  });
});

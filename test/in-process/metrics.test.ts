import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { startInProcessApp, type InProcessApp } from "../helpers/in-process-app.js";

// /metrics, scraped in-process as Prometheus would, while tasks of every outcome go through the real
// app (SQLite, pool) against the fixture site.

const SUBMIT = `mutation($urls: [String!]!, $options: CrawlOptions) { submitCrawl(urls: $urls, options: $options) { id tasks { id } } }`;
const BATCH = `query($sid: ID!) { batch(submissionId: $sid, timeoutMs: 20000) { complete tasks { status } } }`;
const TASK = `query($id: ID!) { task(id: $id) { status } }`;

let site: FixtureSite;
let app: InProcessApp;

beforeAll(async () => {
  site = await startFixtureSite();
  app = await startInProcessApp({ CRAWLQ_MAX_RETRIES: "2" });
});

afterAll(async () => {
  await app?.close();
  await site?.close();
});

/** One scrape: every sample line as "name{labels}" → value. */
async function scrape(target: InProcessApp = app): Promise<Map<string, number>> {
  const response = await target.yoga.fetch("http://127.0.0.1/metrics");
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

async function submit(urls: string[], options?: Record<string, unknown>): Promise<{ id: string; tasks: Array<{ id: string }> }> {
  const { data, errors } = await app.graphql(SUBMIT, { urls, options });
  expect(errors).toBeUndefined();
  return data.submitCrawl;
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("/metrics", () => {
  it("starts at zero, with the pool's size and Node's process metrics", async () => {
    const m = await scrape();
    for (const status of ["succeeded", "failed", "cancelled"]) expect(m.get(`crawlq_tasks_finished_total{status="${status}"}`)).toBe(0);
    expect(m.get("crawlq_retries_total")).toBe(0);
    expect(m.get('crawlq_tasks{status="pending"}')).toBe(0);
    expect(m.get('crawlq_tasks{status="running"}')).toBe(0);
    expect(m.get("crawlq_pool_capacity")).toBe(app.config.pool.maxInFlight);
    expect(m.get("crawlq_pool_threads")).toBe(app.config.pool.threads);
    expect(m.get("crawlq_pool_in_flight")).toBe(0);
    expect(m.get("crawlq_subscriptions")).toBe(0);
    expect(m.get("crawlq_task_duration_seconds_count")).toBe(0);
    expect(m.has("process_cpu_user_seconds_total")).toBe(true);
    expect(m.has("nodejs_eventloop_lag_seconds")).toBe(true);
  });

  it("counts finished tasks by status, retries, durations and operations as tasks complete", async () => {
    const before = await scrape();
    const operation = (m: Map<string, number>, type: string, outcome: string) =>
      m.get(`crawlq_graphql_operations_total{operation_type="${type}",outcome="${outcome}"}`) ?? 0;

    // Three pages succeed (one after a retried 503), one 404 fails for good.
    const { id } = await submit([site.url("/page/1"), site.url("/page/2"), site.url("/flaky/metrics?fail=1"), site.url("/status/404")]);
    const { data } = await app.graphql(BATCH, { sid: id });
    expect(data.batch.complete).toBe(true);

    const m = await scrape();
    expect(m.get('crawlq_tasks_finished_total{status="succeeded"}')).toBe(3);
    expect(m.get('crawlq_tasks_finished_total{status="failed"}')).toBe(1);
    expect(m.get('crawlq_tasks_finished_total{status="cancelled"}')).toBe(0);
    expect(m.get("crawlq_retries_total")).toBe(1);
    // Every task that ran is timed; only succeeded ones have a fetch time.
    expect(m.get("crawlq_task_duration_seconds_count")).toBe(4);
    expect(m.get('crawlq_task_duration_seconds_bucket{le="+Inf"}')).toBe(4);
    expect(m.get("crawlq_task_duration_seconds_sum")).toBeGreaterThan(0);
    expect(m.get("crawlq_fetch_duration_seconds_count")).toBe(3);
    expect(m.get('crawlq_fetch_duration_seconds_bucket{le="5"}')).toBe(3);
    expect(operation(m, "mutation", "ok") - operation(before, "mutation", "ok")).toBe(1);
    expect(operation(m, "query", "ok") - operation(before, "query", "ok")).toBe(1);
    expect(m.get('crawlq_graphql_operation_duration_seconds_count{operation_type="mutation"}')).toBeGreaterThanOrEqual(1);
  });

  it("reads pending, running and in-flight when scraped; counts a cancel", async () => {
    // One request at a time on this host: the slow page runs, the next one waits PENDING.
    const { tasks } = await submit([site.url("/slow?ms=1500"), site.url("/page/3")], { perHostConcurrency: 1 });
    const [slow, waiting] = tasks.map((t) => t.id) as [string, string];
    await until(async () => (await app.graphql(TASK, { id: slow })).data.task.status === "RUNNING", "the slow task to run");

    const m = await scrape();
    expect(m.get('crawlq_tasks{status="running"}')).toBe(1);
    expect(m.get('crawlq_tasks{status="pending"}')).toBe(1);
    expect(m.get("crawlq_pool_in_flight")).toBe(1);

    const cancelled = await app.graphql(`mutation($id: ID!) { cancelTask(id: $id) { status } }`, { id: waiting });
    expect(cancelled.data.cancelTask.status).toBe("CANCELLED");
    await app.graphql(`query($id: ID!) { result(id: $id, timeoutMs: 20000) { status } }`, { id: slow });

    const after = await scrape();
    expect(after.get('crawlq_tasks_finished_total{status="cancelled"}')).toBe(1);
    expect(after.get('crawlq_tasks_finished_total{status="succeeded"}')).toBe(4);
    expect(after.get('crawlq_tasks{status="running"}')).toBe(0);
    expect(after.get('crawlq_tasks{status="pending"}')).toBe(0);
    expect(after.get("crawlq_pool_in_flight")).toBe(0);
  });

  it("counts open taskDone subscriptions", async () => {
    const stream = await app.service.watchDone({ caller: null }, {});
    expect((await scrape()).get("crawlq_subscriptions")).toBe(1);
    await stream.return!();
    expect((await scrape()).get("crawlq_subscriptions")).toBe(0);
  });

  it("counts operations refused before they run as rejected", async () => {
    const rejected = (m: Map<string, number>, type: string) =>
      m.get(`crawlq_graphql_operations_total{operation_type="${type}",outcome="rejected"}`) ?? 0;
    const before = await scrape();
    await app.graphql("{ nope }");
    await app.graphql("{");
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: pool { pending }`).join(" ");
    await app.graphql(`{ ${aliases} }`);
    const m = await scrape();
    expect(rejected(m, "query") - rejected(before, "query")).toBe(2);
    expect(rejected(m, "unknown") - rejected(before, "unknown")).toBe(1);
  });

  it("answers GET and HEAD only", async () => {
    expect((await app.yoga.fetch("http://127.0.0.1/metrics", { method: "POST" })).status).toBe(405);
    const head = await app.yoga.fetch("http://127.0.0.1/metrics", { method: "HEAD" });
    expect(head.status).toBe(200);
  });

  it("CRAWLQ_METRICS=0 turns the endpoint off", async () => {
    const off = await startInProcessApp({ CRAWLQ_METRICS: "0" });
    try {
      expect((await off.yoga.fetch("http://127.0.0.1/metrics")).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});

describe("the in-flight limit in pool and /metrics", () => {
  it("adaptive by default: pool.inFlightLimit and crawlq_pool_in_flight_limit show the same value, between floor and ceiling", async () => {
    const { inFlight } = app.config.pool;
    expect(inFlight.adaptive).toBe(true);
    const { data, errors } = await app.graphql("{ pool { inFlightLimit } }");
    expect(errors).toBeUndefined();
    const limit = data.pool.inFlightLimit as number;
    expect(limit).toBeGreaterThanOrEqual(inFlight.floor);
    expect(limit).toBeLessThanOrEqual(inFlight.ceiling);
    expect((await scrape()).get("crawlq_pool_in_flight_limit")).toBe(limit);
    expect((await scrape()).get("crawlq_pool_capacity")).toBe(inFlight.ceiling);
  });

  it("CRAWLQ_MAX_IN_FLIGHT fixes it", async () => {
    const fixed = await startInProcessApp({ CRAWLQ_MAX_IN_FLIGHT: "7" });
    try {
      const { data } = await fixed.graphql("{ pool { inFlightLimit } }");
      expect(data.pool.inFlightLimit).toBe(7);
      const m = await scrape(fixed);
      expect(m.get("crawlq_pool_in_flight_limit")).toBe(7);
      expect(m.get("crawlq_pool_capacity")).toBe(7);
    } finally {
      await fixed.close();
    }
  });
});

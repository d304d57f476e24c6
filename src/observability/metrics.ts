import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Task } from "../tasks/task.js";
import type { LifecycleObserver } from "../tasks/task-lifecycle.js";
import type { TaskStatus } from "../tasks/task-state.js";
import { BucketHistogram } from "./bucket-histogram.js";

/** What the gauges read when scraped (and only then): nothing on the hot path keeps them up to date. */
export interface MetricSources {
  /** Task counts by status over every key's tasks. */
  countByStatus(): Promise<Record<TaskStatus, number>>;
  /** Tasks in the pool now. */
  inFlight(): number;
  /** The in-flight limit now (adaptive, or CRAWLQ_MAX_IN_FLIGHT). */
  inFlightLimit(): number;
  /** The most tasks the pool takes at once (CRAWLQ_MAX_IN_FLIGHT, or the adaptive limit's ceiling). */
  capacity: number;
  threads: number;
  /** Open taskDone subscriptions. */
  openStreams(): number;
  /** Open blocking waits (result, batch, crawl). */
  openWaits(): number;
}

/** How a GraphQL operation ended: answered without errors, answered with some, or refused before it ran. */
export type OperationOutcome = "ok" | "error" | "rejected";

/** `query`, `mutation`, `subscription`, or `unknown` for a document refused before its type was known. */
export type OperationType = "query" | "mutation" | "subscription" | "unknown";

const FINISHED_STATUSES = ["succeeded", "failed", "cancelled"] as const;

// Seconds. A task is one attempt of at most CRAWLQ_TASK_TIMEOUT_MS (30 s by default); a blocking
// operation (result, batch, crawl) may wait up to CRAWLQ_MAX_WAIT_MS (300 s).
const TASK_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const OPERATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

let processRegistry: Registry | undefined;

/**
 * Node's default metrics (CPU, memory, event-loop lag, GC, handles) describe the process, so they are
 * collected once per process: each collectDefaultMetrics call starts a GC observer and an event-loop
 * monitor that are never stopped, and tests create many apps in one process.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * The service's Prometheus metrics, in a registry of the app's own (several apps may live in one process).
 * Counters move where the work is done, a few increments per written batch; gauges are read from their
 * sources when scraped. It observes the task lifecycle (see {@link LifecycleObserver}) and is told of each
 * GraphQL operation by the HTTP layer.
 */
export class Metrics implements LifecycleObserver {
  /** The app's own metrics; {@link Metrics.scrape} adds the process's. */
  readonly registry = new Registry();
  readonly #finished: Record<(typeof FINISHED_STATUSES)[number], Counter.Internal>;
  readonly #retries: Counter;
  readonly #taskDuration: BucketHistogram;
  readonly #fetchDuration: BucketHistogram;
  readonly #operations: Counter<"operation_type" | "outcome">;
  readonly #operationDuration: Histogram<"operation_type">;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    const finished = new Counter({
      name: "crawlq_tasks_finished_total",
      help: "Tasks that reached a terminal state since the process started, by status (succeeded, failed, cancelled).",
      labelNames: ["status"],
      registers,
    });
    this.#finished = {
      succeeded: finished.labels("succeeded"),
      failed: finished.labels("failed"),
      cancelled: finished.labels("cancelled"),
    };
    this.#retries = new Counter({
      name: "crawlq_retries_total",
      help: "Failed attempts put back to wait for another one (retryable failures within maxRetries).",
      registers,
    });
    this.#taskDuration = new BucketHistogram(
      "crawlq_task_duration_seconds",
      "Time from the start of a finished task's last attempt to its end (tasks that never started are not counted).",
      TASK_BUCKETS,
    ).registerIn(this.registry);
    this.#fetchDuration = new BucketHistogram(
      "crawlq_fetch_duration_seconds",
      "Fetch time of succeeded tasks (result.fetchMs): from request start to the last body byte.",
      TASK_BUCKETS,
    ).registerIn(this.registry);

    new Gauge({
      name: "crawlq_tasks",
      help: "Tasks waiting (pending, retries included) and running, in the database, read when scraped.",
      labelNames: ["status"],
      registers,
      async collect() {
        const counts = await sources.countByStatus();
        this.set({ status: "pending" }, counts.PENDING);
        this.set({ status: "running" }, counts.RUNNING);
      },
    });
    new Gauge({
      name: "crawlq_pool_in_flight",
      help: "Tasks handed to the worker pool now.",
      registers,
      collect() {
        this.set(sources.inFlight());
      },
    });
    new Gauge({
      name: "crawlq_pool_in_flight_limit",
      help: "The most tasks the dispatcher hands to the pool now: the adaptive limit, or CRAWLQ_MAX_IN_FLIGHT.",
      registers,
      collect() {
        this.set(sources.inFlightLimit());
      },
    });
    new Gauge({
      name: "crawlq_pool_capacity",
      help: "The most tasks the pool takes at once: CRAWLQ_MAX_IN_FLIGHT, or the adaptive limit's ceiling.",
      registers,
    }).set(sources.capacity);
    new Gauge({ name: "crawlq_pool_threads", help: "Worker threads in the pool (CRAWLQ_THREADS).", registers }).set(sources.threads);
    new Gauge({
      name: "crawlq_subscriptions",
      help: "Open taskDone subscriptions (WebSocket and SSE).",
      registers,
      collect() {
        this.set(sources.openStreams());
      },
    });
    new Gauge({
      name: "crawlq_waits",
      help: "Open blocking waits (result, batch, crawl).",
      registers,
      collect() {
        this.set(sources.openWaits());
      },
    });

    this.#operations = new Counter({
      name: "crawlq_graphql_operations_total",
      help:
        "GraphQL operations by type (query, mutation, subscription, unknown) and outcome: ok, error (answered with " +
        "errors), rejected (refused by parsing, validation or a limit before it ran).",
      labelNames: ["operation_type", "outcome"],
      registers,
    });
    this.#operationDuration = new Histogram({
      name: "crawlq_graphql_operation_duration_seconds",
      help: "Execution time of GraphQL queries and mutations (blocking waits included); subscriptions are not timed.",
      labelNames: ["operation_type"],
      buckets: OPERATION_BUCKETS,
      registers,
    });
    for (const status of FINISHED_STATUSES) this.#finished[status].inc(0);
    this.#retries.inc(0);
  }

  /** Counts one written batch of terminal tasks: one increment per status present, one observation per task. */
  ended(tasks: readonly Task[]): void {
    let succeeded = 0;
    let failed = 0;
    let cancelled = 0;
    for (const task of tasks) {
      if (task.status === "SUCCEEDED") succeeded++;
      else if (task.status === "FAILED") failed++;
      else if (task.status === "CANCELLED") cancelled++;
      if (task.startedAt !== null && task.finishedAt !== null) {
        this.#taskDuration.observe((task.finishedAt.getTime() - task.startedAt.getTime()) / 1000);
      }
      if (task.result !== null) this.#fetchDuration.observe(task.result.fetchMs / 1000);
    }
    if (succeeded > 0) this.#finished.succeeded.inc(succeeded);
    if (failed > 0) this.#finished.failed.inc(failed);
    if (cancelled > 0) this.#finished.cancelled.inc(cancelled);
  }

  retried(count: number): void {
    this.#retries.inc(count);
  }

  /** One GraphQL operation ended; `seconds` is its execution time (queries and mutations only). */
  operation(type: OperationType, outcome: OperationOutcome, seconds?: number): void {
    this.#operations.inc({ operation_type: type, outcome });
    if (seconds !== undefined) this.#operationDuration.observe({ operation_type: type }, seconds);
  }

  /** The Prometheus text exposition: the app's metrics, then the process's. */
  async scrape(): Promise<string> {
    const [own, process] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return `${own}\n${process}`;
  }

  /** The exposition's Content-Type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * `npm run bench`: crawlq end to end against a bare fetch loop, on this machine, in one run (issue 4).
 *
 *   baseline-0ms / baseline-50ms  a bare fetch loop (Node's fetch, reading each ~30 KB body, counting `<a`)
 *                                 with the service's total in-flight limit as its concurrency: the ceiling
 *   e2e-0ms / e2e-50ms            N pages through the real service: first submitCrawl → last taskDone
 *                                 received by a graphql-ws subscriber that subscribed before submitting
 *   notify                        subscriber receipt − task finishedAt, during e2e-0ms
 *   submit                        10,000 URLs in one mutation, until acknowledged (rows committed)
 *   waiters                       1 and 1,000 concurrent result(id) calls on PENDING tasks: all correct,
 *                                 wake-up latency (response receipt − finishedAt), statements issued
 *   backlog                       100,000 PENDING tasks (10 mutations of 10,000): peak RSS of the
 *                                 service, throughput while it drains vs e2e-0ms
 *
 * Everything runs on loopback; every wait has a deadline; the run stops by itself.
 * Flags: see `--help`.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Client } from "graphql-ws";
import { Agent, request } from "undici";
import { expectedBenchPage } from "../testkit/fixture-site.js";
import { gql, wsClient } from "../testkit/graphql-client.js";
import { startFixture, type Fixture } from "./fixture.js";
import { startBenchService, startCommand, type BenchService } from "./service.js";

const HELP = `npm run bench -- [flags]
  --pages N                  pages per e2e run (5000)
  --warmup N                 pages (0 ms site) crawled, untimed, by the baseline loop and by the service before their
                             timed runs, so both are measured JIT-warm, as a long-running process is (10000)
  --latency MS               added latency of the second pair of runs (50)
  --repeat N                 timed runs of each baseline and e2e measurement; the median is reported, with all runs (3)
  --threads N                CRAWLQ_THREADS (machine's cores)
  --concurrency-per-thread N CRAWLQ_CONCURRENCY_PER_THREAD (32)
  --in-flight N              CRAWLQ_MAX_IN_FLIGHT, the baseline's concurrency and the per-host limit (threads × per-thread)
  --submit N                 URLs in the submit mutation, also the backlog's mutation size (10000)
  --waiters N                concurrent result(id) calls (1000)
  --backlog N                PENDING tasks for the backlog run (100000)
  --drain-seconds S          how long the backlog's drain rate is measured (12)
  --waiters-site MS          which fixture site (added latency) the waiters' tasks fetch: 0 or --latency (0)
  --fixture child|inproc     fixture site in a child process (default) or in this process
  --synchronous FULL|NORMAL  CRAWLQ_SQLITE_SYNCHRONOUS for the service (service default)
  --cpu-prof DIR             run the service with --cpu-prof, profiles written to DIR at exit
  --only LIST                comma-separated subset of: baseline,e2e,waiters,backlog
  --env K=V                  extra service environment (repeatable)
  --node-arg ARG             extra node option for the service process, e.g. --node-arg=--max-semi-space-size=8 (repeatable)
  --service-log FILE          append the service's stdout to FILE
  --help`;

const { values: flags } = parseArgs({
  options: {
    pages: { type: "string", default: "5000" },
    warmup: { type: "string", default: "10000" },
    latency: { type: "string", default: "50" },
    repeat: { type: "string", default: "3" },
    threads: { type: "string", default: String(os.availableParallelism()) },
    "concurrency-per-thread": { type: "string", default: "32" },
    "in-flight": { type: "string" },
    submit: { type: "string", default: "10000" },
    waiters: { type: "string", default: "1000" },
    backlog: { type: "string", default: "100000" },
    "drain-seconds": { type: "string", default: "12" },
    fixture: { type: "string", default: "child" },
    "waiters-site": { type: "string", default: "0" },
    synchronous: { type: "string" },
    "cpu-prof": { type: "string" },
    only: { type: "string", default: "baseline,e2e,waiters,backlog" },
    env: { type: "string", multiple: true, default: [] },
    "node-arg": { type: "string", multiple: true, default: [] },
    "service-log": { type: "string" },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(HELP);
  process.exit(0);
}

const positive = (name: string, value: string | undefined) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  return n;
};
const threads = positive("threads", flags.threads);
const perThread = positive("concurrency-per-thread", flags["concurrency-per-thread"]);
const settings = {
  pages: positive("pages", flags.pages),
  warmup: positive("warmup", flags.warmup),
  latencyMs: positive("latency", flags.latency),
  repeat: Math.max(1, positive("repeat", flags.repeat)),
  threads,
  concurrencyPerThread: perThread,
  inFlight: flags["in-flight"] === undefined ? threads * perThread : positive("in-flight", flags["in-flight"]),
  submitUrls: positive("submit", flags.submit),
  waiters: positive("waiters", flags.waiters),
  backlog: positive("backlog", flags.backlog),
  drainSeconds: positive("drain-seconds", flags["drain-seconds"]),
  fixture: flags.fixture === "inproc" ? ("inproc" as const) : ("child" as const),
  synchronous: flags.synchronous ?? "(service default)",
  cpuProf: flags["cpu-prof"] ?? null,
  nodeArgs: flags["node-arg"],
  only: new Set(flags.only.split(",").map((s) => s.trim())),
};

const dbDir = mkdtempSync(path.join(os.tmpdir(), "crawlq-bench-"));
const serviceEnv: Record<string, string> = {
  PORT: "0",
  HOST: "127.0.0.1",
  DATABASE_URL: `file:${path.join(dbDir, "crawlq.db")}`,
  CRAWLQ_THREADS: String(settings.threads),
  CRAWLQ_CONCURRENCY_PER_THREAD: String(settings.concurrencyPerThread),
  CRAWLQ_MAX_IN_FLIGHT: String(settings.inFlight),
  // The fixture is one host on loopback: the operator raises the politeness limit to the pool's size.
  CRAWLQ_PER_HOST_CONCURRENCY: String(settings.inFlight),
  CRAWLQ_ALLOW_PRIVATE: "1",
  // robots.txt stays on: the fixture answers 404 (allow all), fetched once per origin.
  CRAWLQ_DEBUG_COUNTERS: "1",
  LOG_LEVEL: "warn",
  ...(flags.synchronous ? { CRAWLQ_SQLITE_SYNCHRONOUS: flags.synchronous } : {}),
  ...Object.fromEntries(flags.env.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])),
};

// ---------------------------------------------------------------------------------------------- helpers

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
function latencyStats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
}

/** Runs `measure` `settings.repeat` times; returns the run with the median pages/s, and the range. */
async function medianOf<T extends { pagesPerSecond: number }>(measure: () => Promise<T>): Promise<T & { runs: number[] }> {
  const runs: T[] = [];
  for (let k = 0; k < settings.repeat; k++) runs.push(await measure());
  const sorted = [...runs].sort((a, b) => a.pagesPerSecond - b.pagesPerSecond);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  // Wrong results count over every run, not just the median one.
  const wrong = runs.reduce((sum, run) => sum + ((run as { wrong?: number }).wrong ?? 0), 0);
  return { ...median, ...("wrong" in median ? { wrong } : {}), runs: runs.map((r) => round(r.pagesPerSecond)) };
}

/** Resolves with `promise`, or rejects after `ms` naming `what`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function gqlOk<T>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const result = await gql<T>(url, query, variables);
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors).slice(0, 500)}`);
  return result.data as T;
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** CPU time used so far by each process of the run (ms): the service, the fixture and this client. */
type CpuSnapshot = { service: number; serviceMain: number; fixture: number; client: number; machine: number };
let cpuProbe: () => Promise<CpuSnapshot> = async () => ({ service: 0, serviceMain: 0, fixture: 0, client: 0, machine: machineCpuMs() });
/** CPU time all processes on the machine have used (ms), from /proc/stat: shows load from outside the run. */
function machineCpuMs(): number {
  try {
    const [, ...ticks] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number);
    return ((user! + nice! + system! + irq! + softirq! + steal!) * 1000) / 100;
  } catch {
    return NaN;
  }
}
function clientCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
/** CPU ms per page for each process, and how busy the machine's cores were, between two snapshots. */
function cpuPerPage(before: CpuSnapshot, after: CpuSnapshot, pages: number, seconds: number) {
  const used = {
    service: after.service - before.service,
    fixture: settings.fixture === "child" ? after.fixture - before.fixture : 0,
    client: after.client - before.client,
  };
  const total = used.service + used.fixture + used.client;
  const machine = after.machine - before.machine;
  return {
    msPerPage: {
      service: round(used.service / pages, 3),
      serviceMainThread: round((after.serviceMain - before.serviceMain) / pages, 3),
      fixture: round(used.fixture / pages, 3),
      client: round(used.client / pages, 3),
      total: round(total / pages, 3),
    },
    coresBusy: round(total / 1000 / seconds, 2),
    /** Cores busy with processes outside this run (other users of the machine); should be ~0 for clean figures. */
    otherCoresBusy: round(Math.max(0, machine - total) / 1000 / seconds, 2),
  };
}

// ---------------------------------------------------------------------------------------------- baseline

/** A bare fetch loop: `concurrency` loops, each fetching, reading the whole body and counting `<a`. */
async function fetchLoop(origin: string, from: number, count: number, concurrency: number) {
  let next = from;
  const end = from + count;
  let bad = 0;
  const loop = async () => {
    while (next < end) {
      const n = next++;
      const response = await fetch(`${origin}/bench/${n}`);
      const html = await response.text();
      let links = 0;
      for (let i = html.indexOf("<a"); i >= 0; i = html.indexOf("<a", i + 2)) links++;
      if (!response.ok || links < 1) bad++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, loop));
  const seconds = (performance.now() - started) / 1000;
  return { pagesPerSecond: count / seconds, seconds, bad };
}

async function baseline(origin: string) {
  const before = await cpuProbe();
  const run = await fetchLoop(origin, 0, settings.pages, settings.inFlight);
  return { ...run, cpu: cpuPerPage(before, await cpuProbe(), settings.pages, run.seconds) };
}

// ---------------------------------------------------------------------------------------------- completions

interface DoneEvent {
  id: string;
  submissionId: string;
  status: string;
  startedAt?: string | null;
  finishedAt: string;
  result: { title: string | null; linkCount: number; contentLength: number; fetchMs?: number; parseMs?: number } | null;
}
interface Received {
  event: DoneEvent;
  /** Date.now() at receipt: the service stamps finishedAt with Date.now() on the same machine. */
  at: number;
  /** performance.now() at receipt. */
  perf: number;
}

const TASK_DONE = `subscription { taskDone { id submissionId status startedAt finishedAt result { title linkCount contentLength fetchMs parseMs } } }`;
const SUBMIT = `mutation ($urls: [String!]!) { submitCrawl(urls: $urls) { id tasks { id } } }`;

/** One graphql-ws subscriber to every completion, opened once; runs hand it the submissions they wait for. */
class CompletionWatcher {
  readonly #client: Client;
  readonly #bySubmission = new Map<string, Received[]>();
  readonly #waiters = new Set<() => void>();
  #dispose: (() => void) | null = null;
  errors: unknown[] = [];

  constructor(url: string) {
    this.#client = wsClient(url);
  }

  /** Subscribes and resolves once the server has acknowledged the subscription (a first event is not needed). */
  async open(): Promise<void> {
    const acked = new Promise<void>((resolve) => this.#client.on("connected", () => resolve()));
    this.#dispose = this.#client.subscribe<{ taskDone: DoneEvent }>(
      { query: TASK_DONE },
      {
        next: (value) => {
          const at = Date.now();
          const perf = performance.now();
          if (value.errors) return void this.errors.push(value.errors);
          const event = value.data!.taskDone;
          let list = this.#bySubmission.get(event.submissionId);
          if (!list) this.#bySubmission.set(event.submissionId, (list = []));
          list.push({ event, at, perf });
          for (const wake of [...this.#waiters]) wake();
        },
        error: (error) => this.errors.push(error),
        complete: () => {},
      },
    );
    await within(10_000, "graphql-ws connection", acked);
    // graphql-ws has no "subscribed" acknowledgement; give the server a moment to run the subscribe resolver.
    await sleep(200);
  }

  received(submissionId: string): Received[] {
    return this.#bySubmission.get(submissionId) ?? [];
  }

  forget(submissionId: string): void {
    this.#bySubmission.delete(submissionId);
  }

  /** Resolves once `count` completions of the submissions have arrived; rejects at the deadline. */
  async waitFor(submissionIds: string[], count: number, timeoutMs: number): Promise<void> {
    const total = () => submissionIds.reduce((sum, id) => sum + this.received(id).length, 0);
    if (total() >= count) return;
    await within(
      timeoutMs,
      `waiting for ${count} completions (got ${total()})`,
      new Promise<void>((resolve) => {
        const check = () => {
          if (total() < count) return;
          this.#waiters.delete(check);
          resolve();
        };
        this.#waiters.add(check);
      }),
    ).catch((error: Error) => {
      throw new Error(`${error.message}; got ${total()}`);
    });
  }

  async close(): Promise<void> {
    this.#dispose?.();
    await this.#client.dispose();
  }
}

async function submit(url: string, urls: string[]): Promise<{ id: string; ids: string[]; ms: number; started: number }> {
  const started = performance.now();
  const data = await gqlOk<{ submitCrawl: { id: string; tasks: Array<{ id: string }> } }>(url, SUBMIT, { urls });
  return {
    id: data.submitCrawl.id,
    ids: data.submitCrawl.tasks.map((t) => t.id),
    ms: performance.now() - started,
    started,
  };
}

/** Checks each completion against what the fixture serves; returns a description of the first few problems. */
function checkPages(received: Received[], idToPage: Map<string, number>): string[] {
  const problems: string[] = [];
  for (const { event } of received) {
    const n = idToPage.get(event.id);
    if (n === undefined) continue;
    const want = expectedBenchPage(n);
    const got = event.result;
    if (event.status !== "SUCCEEDED" || !got || got.title !== want.title || got.linkCount !== want.linkCount || got.contentLength !== want.contentLength) {
      problems.push(`task ${event.id} (/bench/${n}): ${event.status} ${JSON.stringify(got)}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------- e2e

let pageSerial = 0;
const benchUrls = (origin: string, count: number) => {
  const first = pageSerial;
  pageSerial += count;
  return Array.from({ length: count }, (_, i) => ({ url: `${origin}/bench/${first + i}`, n: first + i }));
};

/** Submits `urls` in mutations of at most `MAX_PER_MUTATION`; returns each submission and when the first began. */
const MAX_PER_MUTATION = 10_000;
async function submitAll(url: string, urls: string[]) {
  const subs: Array<Awaited<ReturnType<typeof submit>>> = [];
  for (let i = 0; i < urls.length; i += MAX_PER_MUTATION) subs.push(await submit(url, urls.slice(i, i + MAX_PER_MUTATION)));
  return { ids: subs.map((s) => s.id), taskIds: subs.flatMap((s) => s.ids), started: subs[0]!.started, ms: subs[0]!.ms };
}

async function warmService(service: BenchService, watcher: CompletionWatcher, origin: string) {
  if (settings.warmup === 0) return;
  const warm = await submitAll(service.url, benchUrls(origin, settings.warmup).map((p) => p.url));
  await watcher.waitFor(warm.ids, settings.warmup, Math.max(120_000, settings.warmup * 20));
  for (const id of warm.ids) watcher.forget(id);
}

async function e2e(service: BenchService, watcher: CompletionWatcher, origin: string) {
  const pages = benchUrls(origin, settings.pages);
  const countersBefore = await service.counters();
  const threadsBefore = service.threadCpuMs();
  const cpuBefore = await cpuProbe();
  const sub = await submitAll(service.url, pages.map((p) => p.url));
  await watcher.waitFor(sub.ids, settings.pages, Math.max(120_000, settings.pages * 20));
  const cpuAfter = await cpuProbe();
  const threadsAfter = service.threadCpuMs();
  const countersAfter = await service.counters();
  const mb = (n: number) => round(n / 2 ** 20);
  const m = service.mainMemory();
  const memory = m && { rss: mb(m.rss), mainHeapTotal: mb(m.heapTotal), mainHeapUsed: mb(m.heapUsed), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers) };
  // The busiest threads of the service (main = the event loop; the pool's threads; V8/libuv helpers).
  const threads = Object.entries(threadsAfter)
    .map(([tid, ms]) => ({ thread: tid === String(service.pid) ? "main" : tid, msPerPage: round((ms - (threadsBefore[tid] ?? 0)) / settings.pages, 3) }))
    .filter((t) => t.msPerPage > 0.005)
    .sort((a, b) => b.msPerPage - a.msPerPage);
  const statements = Object.fromEntries(
    Object.entries(countersAfter)
      .map(([k, v]) => [k, v - (countersBefore[k] ?? 0)] as const)
      .filter(([k, v]) => v > 0 && k !== "findByIdsRows"),
  );
  const received = sub.ids.flatMap((id) => watcher.received(id));
  const last = Math.max(...received.map((r) => r.perf));
  const seconds = (last - sub.started) / 1000;
  const idToPage = new Map(sub.taskIds.map((id, i) => [id, pages[i]!.n]));
  const problems = checkPages(received, idToPage);
  const notify = latencyStats(received.map((r) => r.at - Date.parse(r.event.finishedAt)));
  for (const id of sub.ids) watcher.forget(id);
  // Where a slot's time goes: in the pool (startedAt → finishedAt, of which fetch and parse), or between
  // tasks (the slot's share of the run not spent on a task: dispatch, persist, claim the next).
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const attemptMs = mean(received.map((r) => Date.parse(r.event.finishedAt) - Date.parse(r.event.startedAt ?? r.event.finishedAt)));
  const fetches = received.map((r) => r.event.result?.fetchMs ?? 0).sort((a, b) => a - b);
  const slots = {
    attemptMs: round(attemptMs),
    fetchMs: round(mean(fetches)),
    fetchMsP50P90: [round(percentile(fetches, 50)), round(percentile(fetches, 90))],
    parseMs: round(mean(received.map((r) => r.event.result?.parseMs ?? 0)), 2),
    // inFlight slots over `seconds` give inFlight × seconds slot-seconds; tasks used pages × attemptMs of them.
    betweenTasksMs: round((settings.inFlight * seconds * 1000) / settings.pages - attemptMs),
  };
  const perPage = Object.values(statements).reduce((a, b) => a + b, 0) / settings.pages;
  return {
    pagesPerSecond: settings.pages / seconds,
    seconds,
    submitMs: sub.ms,
    wrong: problems.length,
    problems: problems.slice(0, 3),
    notify,
    statements,
    statementsPerPage: round(perPage, 3),
    cpu: cpuPerPage(cpuBefore, cpuAfter, settings.pages, seconds),
    threads,
    slots,
    memory,
  };
}

// ---------------------------------------------------------------------------------------------- waiters

const RESULT = `query ($id: ID!) { result(id: $id, timeoutMs: 120000) { id status finishedAt result { title linkCount contentLength } } }`;
const waitingReads = (c: Record<string, number>) => (c.findByIds ?? 0) + (c.findBySubmission ?? 0);

/**
 * Fills every pool slot with gate requests (held by the fixture), submits `count` pages (they stay PENDING),
 * sends `count` concurrent result(id) calls, waits until the service has registered all of them (its
 * findByIds counter has seen every id), opens the gate, and measures each call's wake-up.
 */
async function waiters(service: BenchService, watcher: CompletionWatcher, fixture: Fixture, origin: string, count: number) {
  await fixture.hold();
  const gate = await submit(
    service.url,
    Array.from({ length: settings.inFlight }, (_, i) => `${fixture.origins.gate}/gate/${pageSerial}-${i}`),
  );
  const deadline = Date.now() + 30_000;
  while ((await fixture.held()) < settings.inFlight) {
    if (Date.now() > deadline) throw new Error(`only ${await fixture.held()} of ${settings.inFlight} gate requests arrived`);
    await sleep(20);
  }
  const pages = benchUrls(origin, count);
  const sub = await submit(service.url, pages.map((p) => p.url));
  const idToPage = new Map(sub.ids.map((id, i) => [id, pages[i]!.n]));

  const before = await service.counters();
  // undici.request rather than fetch: the client's own cost per answer (~0.6 ms with fetch) would otherwise
  // queue the answers on this process's event loop and count in the wake-up latency.
  const agent = new Agent({ connections: count + 10 });
  const answers = sub.ids.map(async (id) => {
    const response = await request(service.url, {
      method: "POST",
      dispatcher: agent,
      headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
      body: JSON.stringify({ query: RESULT, variables: { id } }),
    });
    const text = await response.body.text();
    const at = Date.now();
    const perf = performance.now();
    const body = JSON.parse(text) as { data?: { result: DoneEvent }; errors?: unknown[] };
    if (body.errors?.length || !body.data) throw new Error(`result(${id}): ${text.slice(0, 300)}`);
    return { event: body.data.result, at, perf } satisfies Received;
  });
  // Every result(id) call listens first, then reads its task once (findByIds, coalesced per turn).
  let registered = await service.counters();
  while ((registered.findByIdsRows ?? 0) - (before.findByIdsRows ?? 0) < count) {
    if (Date.now() > deadline + 30_000) throw new Error("the service did not register every result(id) call");
    await sleep(20);
    registered = await service.counters();
  }
  await sleep(300); // a pause in which a polling implementation would read
  const released = performance.now();
  const cpuBefore = await cpuProbe();
  await fixture.release();
  const received = await within(120_000, "result(id) answers", Promise.all(answers));
  const secondsAfterRelease = (Math.max(...received.map((r) => r.perf)) - released) / 1000;
  const cpu = cpuPerPage(cpuBefore, await cpuProbe(), count, secondsAfterRelease);
  const after = await service.counters();
  await agent.close();
  await watcher.waitFor([gate.id], settings.inFlight, 30_000);
  watcher.forget(gate.id);
  watcher.forget(sub.id);

  const wrong = checkPages(received, idToPage);
  // A wake-up is an answer to a call that was waiting when its task finished.
  const wake = latencyStats(received.map((r) => r.at - Date.parse(r.event.finishedAt)));
  return {
    waiters: count,
    correct: received.length - wrong.length,
    wake,
    secondsAfterRelease,
    cpu,
    statementsAtCall: waitingReads(registered) - waitingReads(before),
    statementsWhileWaiting: waitingReads(after) - waitingReads(registered),
  };
}

// ---------------------------------------------------------------------------------------------- backlog

async function backlog(service: BenchService, watcher: CompletionWatcher, origin: string, fixture: Fixture) {
  const batch = Math.max(1, settings.submitUrls);
  const mutations = Math.ceil(settings.backlog / batch);
  let peakSampled = 0;
  const sampler = setInterval(() => (peakSampled = Math.max(peakSampled, service.memory().rssMb)), 100);
  const rssBefore = service.memory();
  const submissions: Array<{ id: string; ms: number }> = [];
  for (let m = 0; m < mutations; m++) {
    const size = Math.min(batch, settings.backlog - m * batch);
    const sub = await submit(service.url, benchUrls(origin, size).map((p) => p.url));
    submissions.push({ id: sub.id, ms: sub.ms });
    if (m % 3 === 2) await fixture.resetStats();
  }
  const ids = submissions.map((s) => s.id);
  const doneAtAck = ids.reduce((sum, id) => sum + watcher.received(id).length, 0);
  // Drain rate: completions received in [ack + 1 s, ack + 1 s + drainSeconds], in two halves.
  const t0 = performance.now() + 1000;
  await sleep(1000);
  const cpuBefore = await cpuProbe();
  const half = (settings.drainSeconds * 1000) / 2;
  const countBetween = (a: number, b: number) =>
    ids.reduce((sum, id) => sum + watcher.received(id).filter((r) => r.perf >= a && r.perf < b).length, 0);
  await sleep(settings.drainSeconds * 1000);
  const cpuAfter = await cpuProbe();
  clearInterval(sampler);
  const drained = countBetween(t0, t0 + 2 * half);
  const first = countBetween(t0, t0 + half) / (half / 1000);
  const second = countBetween(t0 + half, t0 + 2 * half) / (half / 1000);
  const memory = service.memory();
  const done = ids.reduce((sum, id) => sum + watcher.received(id).length, 0);
  const wrong = ids.reduce((sum, id) => sum + watcher.received(id).filter((r) => r.event.status !== "SUCCEEDED").length, 0);
  for (const id of ids) watcher.forget(id);
  const ms = submissions.map((s) => s.ms).sort((a, b) => a - b);
  return {
    tasks: settings.backlog,
    mutations,
    submitMs: { first: ms.length ? submissions[0]!.ms : NaN, median: percentile(ms, 50), max: ms.at(-1) ?? NaN },
    doneWhenAcknowledged: doneAtAck,
    drain: {
      pagesPerSecond: (first + second) / 2,
      firstHalf: first,
      secondHalf: second,
      cpu: cpuPerPage(cpuBefore, cpuAfter, drained, settings.drainSeconds),
    },
    done,
    notSucceeded: wrong,
    rssMb: { before: rssBefore.rssMb, peakSampled: Math.max(peakSampled, memory.rssMb), processPeak: memory.peakMb },
  };
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
  const runStarted = performance.now();
  console.log("crawlq benchmark — settings");
  console.log(
    JSON.stringify(
      {
        machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGb: round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
        ...settings,
        only: [...settings.only],
        serviceCommand: ["node", ...flags["node-arg"], ...startCommand()].join(" "),
        serviceEnv: Object.fromEntries(Object.entries(serviceEnv).filter(([k]) => k !== "DATABASE_URL")),
      },
      null,
      2,
    ),
  );

  const fixture = await startFixture(settings.fixture, [0, settings.latencyMs]);
  const origin0 = fixture.origins.sites[0]!;
  const originL = fixture.origins.sites[settings.latencyMs]!;
  const nodeArgs = [...flags["node-arg"], ...(settings.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${settings.cpuProf}`] : [])];
  const service = await startBenchService(serviceEnv, nodeArgs, flags["service-log"] ?? null);
  const watcher = new CompletionWatcher(service.url);
  cpuProbe = async () => ({ service: service.cpuMs(), serviceMain: service.mainThreadCpuMs(), fixture: await fixture.cpuMs(), client: clientCpuMs(), machine: machineCpuMs() });
  const results: Record<string, any> = {};
  try {
    await watcher.open();
    if (settings.only.has("baseline")) {
      log(`baseline warm-up: ${settings.warmup} pages`);
      if (settings.warmup > 0) await fetchLoop(origin0, 1_000_000, settings.warmup, settings.inFlight);
      log("baseline 0 ms");
      results.baseline0 = await medianOf(() => baseline(origin0));
      log(`  ${round(results.baseline0.pagesPerSecond)} pages/s, cpu ${JSON.stringify(results.baseline0.cpu)}`);
      log(`baseline ${settings.latencyMs} ms`);
      results.baselineL = await medianOf(() => baseline(originL));
      log(`  ${round(results.baselineL.pagesPerSecond)} pages/s, cpu ${JSON.stringify(results.baselineL.cpu)}`);
      await fixture.resetStats();
    }
    if (settings.only.has("e2e")) {
      log(`e2e warm-up: ${settings.warmup} pages`);
      await warmService(service, watcher, origin0);
      log("e2e 0 ms");
      results.e2e0 = await medianOf(() => e2e(service, watcher, origin0));
      log(`  ${round(results.e2e0.pagesPerSecond)} pages/s, notify p99 ${results.e2e0.notify.p99} ms, slots ${JSON.stringify(results.e2e0.slots)}, statements ${JSON.stringify(results.e2e0.statements)}, cpu ${JSON.stringify(results.e2e0.cpu)}, threads ${JSON.stringify(results.e2e0.threads)}`);
      log(`  main thread's memory after e2e-0ms (MB): ${JSON.stringify(results.e2e0.memory)}`);
      log(`e2e ${settings.latencyMs} ms`);
      results.e2eL = await medianOf(() => e2e(service, watcher, originL));
      log(`  ${round(results.e2eL.pagesPerSecond)} pages/s, slots ${JSON.stringify(results.e2eL.slots)}, statements ${JSON.stringify(results.e2eL.statements)}, cpu ${JSON.stringify(results.e2eL.cpu)}`);
      await fixture.resetStats();
    }
    if (settings.only.has("waiters")) {
      log("waiters: 1");
      const waitersOrigin = flags["waiters-site"] === "0" ? origin0 : originL;
      results.waiters1 = await waiters(service, watcher, fixture, waitersOrigin, 1);
      log(`waiters: ${settings.waiters}`);
      results.waitersN = await waiters(service, watcher, fixture, waitersOrigin, settings.waiters);
      log(`  p99 ${results.waitersN.wake.p99} ms, ${round(results.waitersN.secondsAfterRelease, 2)} s after release, cpu ${JSON.stringify(results.waitersN.cpu)}`);
      await fixture.resetStats();
    }
    if (settings.only.has("backlog")) {
      log(`backlog: ${settings.backlog} tasks`);
      results.backlog = await backlog(service, watcher, origin0, fixture);
      log(`  peak RSS ${round(results.backlog.rssMb.processPeak)} MB, drain ${round(results.backlog.drain.pagesPerSecond)} pages/s, cpu ${JSON.stringify(results.backlog.drain.cpu)}`);
    }
  } finally {
    const beforeStop = service.memory();
    results.serviceRssAtEndMb = beforeStop;
    await watcher.close().catch(() => {});
    results.serviceExit = await service.stop(60_000);
    await fixture.close();
    rmSync(dbDir, { recursive: true, force: true });
  }
  if (watcher.errors.length > 0) results.subscriptionErrors = watcher.errors.slice(0, 3).map(String);
  report(results, (performance.now() - runStarted) / 1000);
}

function report(r: Record<string, any>, seconds: number) {
  const rows: Array<[string, string, string, string]> = [];
  const status = (ok: boolean) => (ok ? "met" : "MISSED");
  const L = settings.latencyMs;
  const range = (x: { runs?: number[] }) => (x.runs && x.runs.length > 1 ? ` [runs ${x.runs.join(", ")}]` : "");
  if (r.baseline0) rows.push(["baseline-0ms", `${round(r.baseline0.pagesPerSecond)} pages/s (${settings.inFlight} in flight)${range(r.baseline0)}`, "ceiling", ""]);
  if (r.baselineL) rows.push([`baseline-${L}ms`, `${round(r.baselineL.pagesPerSecond)} pages/s (${settings.inFlight} in flight)${range(r.baselineL)}`, "ceiling", ""]);
  const ratio0 = r.e2e0 && r.baseline0 ? r.e2e0.pagesPerSecond / r.baseline0.pagesPerSecond : NaN;
  const ratioL = r.e2eL && r.baselineL ? r.e2eL.pagesPerSecond / r.baselineL.pagesPerSecond : NaN;
  if (r.e2e0) rows.push(["e2e-0ms", `${round(r.e2e0.pagesPerSecond)} pages/s = ${round(ratio0, 2)}× baseline; ${r.e2e0.wrong} wrong${range(r.e2e0)}`, "≥ 0.65×", status(ratio0 >= 0.65)]);
  if (r.e2eL) rows.push([`e2e-${L}ms`, `${round(r.e2eL.pagesPerSecond)} pages/s = ${round(ratioL, 2)}× baseline; ${r.e2eL.wrong} wrong${range(r.e2eL)}`, "≥ 0.8×", status(ratioL >= 0.8)]);
  if (r.e2e0) {
    const n = r.e2e0.notify;
    rows.push(["notify (e2e-0ms)", `p50 ${n.p50} ms, p99 ${n.p99} ms, max ${n.max} ms (median run)`, "p99 ≤ 25 ms", status(n.p99 <= 25)]);
  }
  const submitUps = r.backlog ? settings.submitUrls / (r.backlog.submitMs.first / 1000) : NaN;
  if (r.backlog) {
    rows.push([
      "submit",
      `${settings.submitUrls} URLs in ${round(r.backlog.submitMs.first)} ms = ${Math.round(submitUps)} URLs/s (median of ${r.backlog.mutations} under load: ${round(r.backlog.submitMs.median)} ms)`,
      "≥ 25,000 URLs/s",
      status(submitUps >= 25_000),
    ]);
  }
  for (const key of ["waiters1", "waitersN"]) {
    const w = r[key];
    if (!w) continue;
    rows.push([
      `waiters (${w.waiters})`,
      `${w.correct}/${w.waiters} correct; wake p50 ${w.wake.p50} ms, p99 ${w.wake.p99} ms, max ${w.wake.max} ms; ` +
        `reads: ${w.statementsAtCall} at call (coalesced), ${w.statementsWhileWaiting} while waiting`,
      key === "waitersN" ? "p99 ≤ 25 ms; reads flat" : "",
      key === "waitersN" ? status(w.wake.p99 <= 25 && w.correct === w.waiters && w.statementsWhileWaiting <= (r.waiters1?.statementsWhileWaiting ?? 0)) : "",
    ]);
  }
  if (r.backlog) {
    const b = r.backlog;
    const vs = r.e2e0 ? b.drain.pagesPerSecond / r.e2e0.pagesPerSecond : NaN;
    rows.push(["backlog RSS", `peak ${round(b.rssMb.processPeak)} MB (sampled during backlog ${round(b.rssMb.peakSampled)} MB; before ${round(b.rssMb.before)} MB)`, "≤ 300 MB", status(b.rssMb.processPeak <= 300)]);
    rows.push([
      "backlog drain",
      `${round(b.drain.pagesPerSecond)} pages/s (halves ${round(b.drain.firstHalf)} / ${round(b.drain.secondHalf)}) = ${round(vs, 2)}× e2e-0ms, ${b.tasks - b.done} still pending`,
      "≈ e2e-0ms",
      status(vs >= 0.9),
    ]);
  }
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length), ["figure", "measured", "target", ""][i]!.length));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ");
  console.log("");
  console.log(line(["figure", "measured", "target", "status"]));
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const row of rows) console.log(line(row));
  const others = [r.baseline0, r.baselineL, r.e2e0, r.e2eL, r.waitersN, r.backlog?.drain]
    .map((x) => x?.cpu?.otherCoresBusy)
    .filter((x): x is number => typeof x === "number");
  const otherLoad = others.length > 0 ? Math.max(...others) : 0;
  console.log(`(run took ${round(seconds)} s; service exit ${r.serviceExit}; CPU used by processes outside the run: up to ${otherLoad} cores${otherLoad > 0.1 ? " — the machine was not idle, figures are disturbed" : ""})`);
  console.log(
    JSON.stringify({
      bench: "crawlq",
      settings: { ...settings, only: [...settings.only] },
      baseline0PagesPerSecond: r.baseline0 && round(r.baseline0.pagesPerSecond),
      baseline0Runs: r.baseline0?.runs,
      baselineLatencyPagesPerSecond: r.baselineL && round(r.baselineL.pagesPerSecond),
      baselineLatencyRuns: r.baselineL?.runs,
      baselineCpu: r.baseline0 && { "0ms": r.baseline0.cpu, latency: r.baselineL?.cpu },
      e2e0: r.e2e0 && { pagesPerSecond: round(r.e2e0.pagesPerSecond), ratio: round(ratio0, 3), runs: r.e2e0.runs, wrong: r.e2e0.wrong, problems: r.e2e0.problems, statements: r.e2e0.statements, cpu: r.e2e0.cpu, slots: r.e2e0.slots, mainMemoryMb: r.e2e0.memory },
      e2eLatency: r.e2eL && { pagesPerSecond: round(r.e2eL.pagesPerSecond), ratio: round(ratioL, 3), runs: r.e2eL.runs, wrong: r.e2eL.wrong, problems: r.e2eL.problems, statements: r.e2eL.statements, cpu: r.e2eL.cpu, slots: r.e2eL.slots },
      notifyMs: r.e2e0?.notify,
      submit: r.backlog && { urls: settings.submitUrls, ms: round(r.backlog.submitMs.first), urlsPerSecond: Math.round(submitUps), medianUnderLoadMs: round(r.backlog.submitMs.median) },
      waiters1: r.waiters1,
      waiters: r.waitersN,
      backlog: r.backlog,
      serviceRssAtEndMb: r.serviceRssAtEndMb,
      subscriptionErrors: r.subscriptionErrors,
      seconds: round(seconds),
    }),
  );
}

await main();
process.exit(0);

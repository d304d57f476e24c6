/**
 * `npm run load`: many clients at once against the real service, on loopback.
 *
 * The fixture site runs in a child process and the service is started as `npm start` starts it, with
 * several host names resolved to 127.0.0.1 (the per-host limit stays realistic). Then:
 *
 * 1. the unfiltered `taskDone` subscribers (graphql-ws and SSE) open, and a probe task proves every one
 *    of them live;
 * 2. gate requests, held by the fixture, fill every pool slot, and `--tasks` /bench pages are submitted
 *    in submissions of `--chunk` URLs: they stay PENDING, so that
 * 3. the filtered subscribers (`taskDone(submissionId)`, `taskDone(ids)`) and the blocking `result(id)`
 *    callers can name them; the run waits until the service has read for every one of them (its
 *    statement counters), which proves each is listening;
 * 4. the gate opens and the run waits (at most `--timeout`) until every subscriber and caller has all it
 *    should have.
 *
 * Throughput counts from the gate's release (when the tasks become runnable) to the last finishedAt; the
 * figure from the first submit, which also counts step 3, is printed next to it.
 *
 * Checks: each subscriber received exactly the completions it selected (by id set), each once; each
 * caller got its own task, SUCCEEDED; every page's result matches the fixture. Prints throughput, notify
 * latency, delivered messages per second, the service's peak RSS and "events lost", as a table and one
 * JSON line; exits 1 when anything is lost or wrong. Every wait has a deadline. Flags: `--help`.
 */
import { Agent } from "undici";
import { gqlData } from "../testkit/graphql-client.js";
import { nonNegativeInt, parseFlags, runMain } from "./cli.js";
import { benchUrls, checkPages, requestResult, submit, submitAll, type DoneEvent, type Received } from "./completions.js";
import { cpuMeter, latencyStats, type CpuPerPage, pollUntil, round, within } from "./measure.js";
import { formatTable } from "./report.js";
import { probeHealth, type HealthProbe } from "./traffic/health-probe.js";
import { sample, seededRandom } from "./traffic/random.js";
import { poolCounts, RIG_FLAGS, RIG_HELP, rigSettings, withRig, type PoolCounts, type Rig, type RigSettings, type RunMemory } from "./traffic/rig.js";
import { DeliveryLog, describeError, proveLive, subscribe, type Selection, type Subscriber, type TallyCheck, type Transport } from "./traffic/subscribers.js";

const HELP = `npm run load -- [flags]
  --tasks N            tasks submitted (20000)
  --chunk N            URLs per submitCrawl, at most the service's 10000; each chunk is one submission (2000)
  --ws N               graphql-ws subscribers, one WebSocket each (500)
  --sse N              SSE subscribers, graphql-sse distinct connections mode, one connection each (200)
  --callers N          blocking result(id) calls over HTTP, one connection each, on distinct tasks (200)
  --unfiltered PCT     share of the ws and of the sse subscribers on taskDone with no argument (10)
  --by-submission PCT  share on taskDone(submissionId), one of the submissions each; the rest on taskDone(ids) (40)
  --ids N              task ids per taskDone(ids) subscriber, drawn from all the tasks (100)
  --timeout S          longest wait for every delivery once the pool is released (600)
${RIG_HELP}`;

/** The run's sizes, from the flags. */
interface Settings extends RigSettings {
  tasks: number;
  chunk: number;
  ws: number;
  sse: number;
  callers: number;
  unfilteredPct: number;
  bySubmissionPct: number;
  idsPerSubscriber: number;
  timeoutS: number;
}

function readSettings(): Settings {
  const flags = parseFlags(HELP, {
    tasks: "20000",
    chunk: "2000",
    ws: "500",
    sse: "200",
    callers: "200",
    unfiltered: "10",
    "by-submission": "40",
    ids: "100",
    timeout: "600",
    ...RIG_FLAGS,
  });
  const settings: Settings = {
    tasks: nonNegativeInt("tasks", flags.tasks),
    chunk: nonNegativeInt("chunk", flags.chunk),
    ws: nonNegativeInt("ws", flags.ws),
    sse: nonNegativeInt("sse", flags.sse),
    callers: nonNegativeInt("callers", flags.callers),
    unfilteredPct: nonNegativeInt("unfiltered", flags.unfiltered),
    bySubmissionPct: nonNegativeInt("by-submission", flags["by-submission"]),
    idsPerSubscriber: nonNegativeInt("ids", flags.ids),
    timeoutS: nonNegativeInt("timeout", flags.timeout),
    ...rigSettings(flags),
  };
  if (settings.tasks < 1 || settings.chunk < 1 || settings.chunk > 10_000) throw new Error("--tasks must be ≥ 1 and --chunk 1 to 10000");
  if (settings.unfilteredPct + settings.bySubmissionPct > 100) throw new Error("--unfiltered + --by-submission must be at most 100");
  if (settings.callers > settings.tasks) throw new Error("--callers must be at most --tasks (one distinct task each)");
  return settings;
}

const log = (line: string) => process.stderr.write(`[load] ${line}\n`);

/** A subscriber and the task ids it should receive, each once. */
interface Tracked {
  subscriber: Subscriber;
  expected: number[];
}

/** How many subscribers of one transport take each kind of selection. */
function splitKinds(n: number, settings: Settings): Record<Selection["kind"], number> {
  const all = Math.round((n * settings.unfilteredPct) / 100);
  const submission = Math.min(n - all, Math.round((n * settings.bySubmissionPct) / 100));
  return { all, submission, ids: n - all - submission };
}

/** The transports of the subscribers that take `kind`, interleaved (ws, sse, ws, …) as far as both go. */
function transports(settings: Settings, kind: Selection["kind"]): Transport[] {
  const ws = splitKinds(settings.ws, settings)[kind];
  const sse = splitKinds(settings.sse, settings)[kind];
  return Array.from({ length: Math.max(ws, sse) }, (_, i) => [...(i < ws ? ["ws" as const] : []), ...(i < sse ? ["sse" as const] : [])]).flat();
}

const numbers = (ids: readonly string[]) => ids.map(Number);

/** Step 1: the unfiltered subscribers, each shown live by a probe task it receives. */
async function openUnfiltered(rig: Rig, settings: Settings, deliveries: DeliveryLog) {
  const subscribers = transports(settings, "all").map((t) => subscribe(t, rig.service.url, { kind: "all" }, deliveries.record));
  log(`${subscribers.length} unfiltered subscribers opening; probe task`);
  const probeId = await proveLive(rig.service.url, rig.siteOrigins, subscribers);
  return { subscribers, probeId };
}

/** Step 2: every pool slot held by a gate request, then the tasks submitted (they stay PENDING). */
async function holdAndSubmit(rig: Rig, settings: Settings) {
  await rig.fixture.hold();
  const gateUrls = Array.from({ length: rig.inFlight }, (_, i) => `${rig.gateOrigins[i % rig.gateOrigins.length]}/gate/load-${i}`);
  const gate = await submit(rig.service.url, gateUrls);
  await pollUntil(`${rig.inFlight} gate requests held`, 30_000, async () => (await rig.fixture.held()) >= rig.inFlight);
  const pages = benchUrls(rig.siteOrigins, settings.tasks);
  const firstSubmitAt = Date.now();
  const started = performance.now();
  const load = await submitAll(rig.service.url, pages.map((p) => p.url), settings.chunk);
  const submitMs = performance.now() - started;
  log(`${settings.tasks} tasks submitted in ${load.submissions.length} submissions, ${round(submitMs)} ms`);
  return { gateIds: numbers(gate.ids), pages, load, firstSubmitAt, submitMs };
}

/** Step 3: the filtered subscribers, on the submissions and on subsets of their tasks. */
function openFiltered(rig: Rig, settings: Settings, load: Awaited<ReturnType<typeof submitAll>>, deliveries: DeliveryLog): Tracked[] {
  const random = seededRandom(settings.seed);
  const bySubmission = transports(settings, "submission").map((transport, i) => {
    const submission = load.submissions[i % load.submissions.length]!;
    const selection: Selection = { kind: "submission", submissionId: submission.id };
    return { subscriber: subscribe(transport, rig.service.url, selection, deliveries.record), expected: numbers(submission.ids) };
  });
  const byIds = transports(settings, "ids").map((transport) => {
    const ids = sample(random, load.taskIds, settings.idsPerSubscriber);
    return { subscriber: subscribe(transport, rig.service.url, { kind: "ids", ids }, deliveries.record), expected: numbers(ids) };
  });
  return [...bySubmission, ...byIds];
}

/** What one blocking caller got: its task, or the error that ended its call. */
interface CallerOutcome {
  id: string;
  received: Received | null;
  error: string | null;
}

/** Step 3 too: `--callers` result(id) calls on tasks spread evenly over the whole run. */
function startCallers(rig: Rig, settings: Settings, taskIds: readonly string[]) {
  const agent = new Agent({ connections: settings.callers + 10 });
  const timeoutMs = (settings.timeoutS + 60) * 1000;
  const outcomes: CallerOutcome[] = [];
  const ids = Array.from({ length: settings.callers }, (_, i) => taskIds[Math.floor(((i + 0.5) * taskIds.length) / settings.callers)]!);
  const calls = ids.map((id) =>
    requestResult(rig.service.url, id, { dispatcher: agent, timeoutMs }).then(
      (received) => void outcomes.push({ id, received, error: null }),
      (error: Error) => void outcomes.push({ id, received: null, error: error.message }),
    ),
  );
  return { ids, outcomes, settled: Promise.all(calls), close: () => agent.destroy() };
}

const numberIn = (line: Record<string, unknown>, key: string) => (typeof line[key] === "number" ? (line[key] as number) : null);

/**
 * How far the service is with registering every subscriber and caller, judged from one counters line
 * against `before` (taken before the filtered ones opened). With the live gauges: `openFeeds` (open
 * waits and streams) counts them all. Without: the service has read for each filtered subscriber and
 * caller, which each does once it listens (findByIds rows for ids and result(id), findBySubmission for a
 * submission).
 */
function registrationProgress(before: Record<string, unknown>, tracked: Tracked[], callers: number) {
  const listeners = tracked.length + callers;
  if (numberIn(before, "openFeeds") !== null) {
    return (now: Record<string, unknown>) => {
      const open = numberIn(now, "openFeeds") ?? 0;
      return { done: open >= listeners, seen: `openFeeds ${open}/${listeners}` };
    };
  }
  const ofKind = (kind: Selection["kind"]) => tracked.filter((t) => t.subscriber.selection.kind === kind);
  const rows = callers + ofKind("ids").reduce((n, t) => n + t.expected.length, 0);
  const submissions = ofKind("submission").length;
  const delta = (now: Record<string, unknown>, key: string) => (numberIn(now, key) ?? 0) - (numberIn(before, key) ?? 0);
  return (now: Record<string, unknown>) => {
    const r = delta(now, "findByIdsRows");
    const s = delta(now, "findBySubmission");
    return { done: r >= rows && s >= submissions, seen: `findByIds rows ${r}/${rows}, findBySubmission ${s}/${submissions}` };
  };
}

/**
 * Waits (at most 120 s) until every subscriber and caller is listening; false when the deadline came
 * first. The checks hold either way (a selection gets the tasks already done first); only some
 * latencies would then count from before their subscriber listened.
 */
async function waitRegistered(rig: Rig, before: Record<string, unknown>, tracked: Tracked[], callers: number): Promise<boolean> {
  const progress = registrationProgress(before, tracked, callers);
  let seen = "";
  const check = async () => {
    const now = progress(await rig.service.diagnostics());
    seen = now.seen;
    return now.done;
  };
  return pollUntil("the service registering every subscriber and caller", 120_000, check, { intervalMs: 250, describe: () => seen }).then(
    () => (log(`all listening (${seen})`), true),
    (error: Error) => (log(`${error.message}; going on`), false),
  );
}

/** Whether a subscriber has all it will get: a finite stream completed, an unfiltered one counted enough, or it failed. */
const finished = (t: Tracked) =>
  t.subscriber.errors.length > 0 || (t.subscriber.selection.kind === "all" ? t.subscriber.tally.total >= t.expected.length : t.subscriber.completed);

/** Step 4: opens the gate and waits (at most --timeout) for every subscriber and caller; false on timeout. */
async function releaseAndWait(rig: Rig, settings: Settings, tracked: Tracked[], callers: { outcomes: CallerOutcome[]; ids: string[] }, deliveries: DeliveryLog) {
  const releasedAt = Date.now();
  await rig.fixture.release();
  log(`gate released; waiting for ${tracked.length} subscribers and ${callers.ids.length} callers`);
  let lastLog = performance.now();
  const progress = () => `${tracked.filter(finished).length}/${tracked.length} subscribers, ${callers.outcomes.length}/${callers.ids.length} callers, ${deliveries.messages} messages`;
  const timedOut = await pollUntil(
    "every subscriber and caller served",
    settings.timeoutS * 1000,
    () => {
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        log(`  ${progress()}`);
      }
      return callers.outcomes.length === callers.ids.length && tracked.every(finished);
    },
    { intervalMs: 200, describe: progress },
  ).then(
    () => false,
    (error: Error) => (log(error.message), true),
  );
  return { releasedAt, timedOut };
}

const BATCH = `query ($sid: ID!) { batch(submissionId: $sid, timeoutMs: 0) { tasks { id status finishedAt result { title linkCount contentLength } } } }`;

/** Every load task as the service has it now: status and finishedAt, and the content checked against the fixture. */
async function readTasks(rig: Rig, submissions: Array<{ id: string }>, idToPage: Map<string, number>) {
  const tasks: DoneEvent[] = [];
  for (const { id } of submissions) {
    const data = await gqlData<{ batch: { tasks: DoneEvent[] } }>(rig.service.url, BATCH, { sid: id });
    tasks.push(...data.batch.tasks);
  }
  const finishedAt = tasks.map((t) => (t.finishedAt ? Date.parse(t.finishedAt) : NaN)).filter(Number.isFinite);
  return {
    succeeded: tasks.filter((t) => t.status === "SUCCEEDED").length,
    wrongContent: checkPages(tasks.map((event) => ({ event, at: 0, perf: 0 })), idToPage),
    lastFinishedAt: Math.max(...finishedAt),
  };
}

/** Sums of what the subscribers' tallies found, overall and per transport and kind of selection. */
function verifySubscribers(tracked: Tracked[]) {
  const totals = { subscribers: tracked.length, exact: 0, missing: 0, duplicates: 0, unexpected: 0, notSucceeded: 0, errors: 0, unfinished: 0 };
  const messages: Record<string, number> = {};
  const firstErrors: string[] = [];
  for (const { subscriber: s, expected } of tracked) {
    const c: TallyCheck = s.tally.check(expected);
    const unfinished = s.selection.kind !== "all" && !s.completed ? 1 : 0;
    totals.missing += c.missing;
    totals.duplicates += c.duplicates;
    totals.unexpected += c.unexpected;
    totals.notSucceeded += s.notSucceeded;
    totals.errors += s.errors.length;
    totals.unfinished += unfinished;
    if (c.missing + c.duplicates + c.unexpected + s.notSucceeded + s.errors.length + unfinished === 0) totals.exact++;
    const key = `${s.transport}/${s.selection.kind}`;
    messages[key] = (messages[key] ?? 0) + s.tally.total;
    if (s.errors.length > 0 && firstErrors.length < 3) firstErrors.push(`${key}: ${describeError(s.errors[0])}`);
  }
  return { ...totals, messages, firstErrors };
}

/** Whether each caller got its own task, SUCCEEDED; a call that never answered counts as lost. */
function verifyCallers(ids: string[], outcomes: CallerOutcome[]) {
  const byId = new Map(outcomes.map((o) => [o.id, o]));
  const right = ids.filter((id) => byId.get(id)?.received?.event.id === id && byId.get(id)?.received?.event.status === "SUCCEEDED").length;
  const answered = outcomes.filter((o) => o.received !== null).length;
  const wake = latencyStats(outcomes.flatMap((o) => (o.received ? [o.received.at - Date.parse(o.received.event.finishedAt)] : [])));
  return {
    callers: ids.length,
    right,
    wrong: answered - right,
    lost: ids.length - answered,
    wake,
    firstErrors: outcomes.flatMap((o) => (o.error ? [o.error.slice(0, 200)] : [])).slice(0, 3),
  };
}

/** Everything the run measured and checked. */
interface Outcome {
  settings: Settings;
  /** /healthz answer times while the tasks ran. */
  healthz: Awaited<ReturnType<HealthProbe["stop"]>>;
  inFlight: number;
  submissions: number;
  kinds: Record<Transport, Record<Selection["kind"], number>>;
  submitMs: number;
  releasedAt: number;
  firstSubmitAt: number;
  timedOut: boolean;
  tasks: Awaited<ReturnType<typeof readTasks>>;
  pool: PoolCounts;
  subscribers: ReturnType<typeof verifySubscribers>;
  callers: ReturnType<typeof verifyCallers>;
  deliveries: { messages: number; lastAt: number; notify: ReturnType<typeof latencyStats> };
  rss: RunMemory;
  /** Whether every subscriber and caller was seen listening before the release. */
  registered: boolean;
  gauges: Record<string, unknown>;
  cpu: CpuPerPage;
}

/** Steps 1–4 and the checks; clients are closed on the way out whatever happens. */
async function runLoad(rig: Rig, settings: Settings): Promise<Omit<Outcome, "rss">> {
  const deliveries = new DeliveryLog();
  const tracked: Tracked[] = [];
  let callers: ReturnType<typeof startCallers> | null = null;
  try {
    const unfiltered = await openUnfiltered(rig, settings, deliveries);
    const held = await holdAndSubmit(rig, settings);
    const everything = [unfiltered.probeId, ...held.gateIds, ...numbers(held.load.taskIds)];
    tracked.push(...unfiltered.subscribers.map((subscriber) => ({ subscriber, expected: everything })));
    const before = await rig.service.diagnostics();
    tracked.push(...openFiltered(rig, settings, held.load, deliveries));
    callers = startCallers(rig, settings, held.load.taskIds);
    const registered = await waitRegistered(rig, before, tracked, settings.callers);
    const gauges = await rig.service.diagnostics();
    deliveries.reset();
    const cpu = cpuMeter(rig.service, rig.fixture, true);
    const cpuBefore = await cpu.snapshot();
    const health = probeHealth(rig.service.url);
    const { releasedAt, timedOut } = await releaseAndWait(rig, settings, tracked, callers, deliveries);
    const healthz = await health.stop();
    const seconds = (Date.now() - releasedAt) / 1000;
    const cpuUsed = cpu.perPage(cpuBefore, await cpu.snapshot(), settings.tasks, seconds);
    const idToPage = new Map(held.load.taskIds.map((id, i) => [id, held.pages[i]!.n]));
    return {
      settings,
      inFlight: rig.inFlight,
      submissions: held.load.submissions.length,
      kinds: { ws: splitKinds(settings.ws, settings), sse: splitKinds(settings.sse, settings) },
      submitMs: held.submitMs,
      releasedAt,
      firstSubmitAt: held.firstSubmitAt,
      timedOut,
      tasks: await readTasks(rig, held.load.submissions, idToPage),
      pool: await poolCounts(rig.service.url),
      subscribers: verifySubscribers(tracked),
      callers: verifyCallers(callers.ids, callers.outcomes),
      deliveries: { messages: deliveries.messages, lastAt: deliveries.lastAt, notify: latencyStats(deliveries.latencies) },
      registered,
      gauges,
      cpu: cpuUsed,
      healthz,
    };
  } finally {
    await within(30_000, "closing the subscribers", Promise.all(tracked.map((t) => t.subscriber.close()))).catch((e: Error) => log(e.message));
    await callers?.close();
  }
}

/** Events lost (deliveries and answers that never came) and wrong ones (anything else amiss). */
function tallyProblems(o: Omit<Outcome, "rss">) {
  const lost = o.subscribers.missing + o.callers.lost;
  const wrong =
    o.subscribers.duplicates + o.subscribers.unexpected + o.subscribers.notSucceeded + o.subscribers.errors + o.subscribers.unfinished +
    o.callers.wrong + o.tasks.wrongContent.length + (o.settings.tasks - o.tasks.succeeded) + o.pool.pending + o.pool.running;
  return { lost, wrong };
}

function report(o: Outcome, wallSeconds: number, serviceExit: number | string) {
  const s = o.settings;
  const { lost, wrong } = tallyProblems(o);
  const runSeconds = (o.tasks.lastFinishedAt - o.releasedAt) / 1000;
  const throughput = s.tasks / runSeconds;
  const fromSubmit = s.tasks / ((o.tasks.lastFinishedAt - o.firstSubmitAt) / 1000);
  const deliverySeconds = (o.deliveries.lastAt - o.releasedAt) / 1000;
  const n = o.deliveries.notify;
  const kinds = (t: Transport) => `${o.kinds[t].all} all / ${o.kinds[t].submission} submission / ${o.kinds[t].ids} ids`;
  const sub = o.subscribers;
  const c = o.cpu.msPerPage;
  const rows = [
    ["clients", `${s.ws} graphql-ws (${kinds("ws")}), ${s.sse} SSE (${kinds("sse")}), ${s.callers} result(id) callers`],
    ["listening", o.registered ? "every subscriber and caller, before the gate opened" : "NOT confirmed for all within 120 s (checks still hold)"],
    ["tasks", `${s.tasks} in ${o.submissions} submissions of ≤ ${s.chunk}, acknowledged in ${round(o.submitMs)} ms; ${o.inFlight} in flight, ${s.hosts} hosts × ${s.perHost}`],
    ["throughput", `${round(throughput)} tasks/s (gate release → last completion, ${round(runSeconds)} s); from first submit ${round(fromSubmit)} tasks/s`],
    ["notify latency", `p50 ${n.p50} ms, p99 ${n.p99} ms, max ${n.max} ms (${n.n} messages)`],
    ["delivered", `${round(o.deliveries.messages / deliverySeconds)} messages/s (${o.deliveries.messages} in ${round(deliverySeconds)} s, all subscribers)`],
    ["/healthz", `p50 ${o.healthz.p50} ms, p99 ${o.healthz.p99} ms, max ${o.healthz.max} ms over ${o.healthz.probes} probes; over 1 s: ${o.healthz.over1s}, failed ${o.healthz.failed}`],
    ["peak RSS", `${round(o.rss.peakMb)} MB (VmHWM); sampled max ${round(o.rss.sampledPeakMb)} MB; ${round(o.rss.endMb)} MB at the end`],
    ["subscribers", `${sub.exact}/${sub.subscribers} exact: missing ${sub.missing}, duplicates ${sub.duplicates}, unexpected ${sub.unexpected}, not SUCCEEDED ${sub.notSucceeded}, errors ${sub.errors}, unfinished ${sub.unfinished}`],
    ["callers", `${o.callers.right}/${o.callers.callers} got their task SUCCEEDED (wrong ${o.callers.wrong}, no answer ${o.callers.lost}); wake p50 ${o.callers.wake.p50} ms, p99 ${o.callers.wake.p99} ms`],
    ["tasks checked", `${o.tasks.succeeded}/${s.tasks} SUCCEEDED, ${o.tasks.wrongContent.length} wrong content; pool pending ${o.pool.pending}, running ${o.pool.running}`],
    ["CPU per task", `service ${c.service} ms (main thread ${c.serviceMainThread}), client ${c.client}, fixture ${c.fixture}; ${o.cpu.coresBusy} cores busy, ${o.cpu.otherCoresBusy} outside the run`],
    ["events lost", String(lost)],
    ["verdict", lost === 0 && wrong === 0 && !o.timedOut ? "PASS" : `FAIL (lost ${lost}, wrong ${wrong}${o.timedOut ? ", timed out" : ""})`],
  ];
  console.log("");
  console.log(formatTable(["figure", "measured"], rows));
  for (const e of [...sub.firstErrors, ...o.callers.firstErrors, ...o.tasks.wrongContent.slice(0, 3)]) console.log(`  problem: ${e}`);
  console.log(`events lost: ${lost}`);
  console.log(`(wall time ${round(wallSeconds)} s; service exit ${serviceExit}; CPU used by processes outside the run: ${o.cpu.otherCoresBusy} cores${o.cpu.otherCoresBusy > 0.1 ? " — the machine was not idle, figures are disturbed" : ""})`);
  console.log(
    JSON.stringify({
      load: "crawlq",
      settings: s,
      inFlight: o.inFlight,
      tasksPerSecond: round(throughput),
      tasksPerSecondFromFirstSubmit: round(fromSubmit),
      runSeconds: round(runSeconds),
      submitMs: round(o.submitMs),
      notifyMs: n,
      deliveredPerSecond: round(o.deliveries.messages / deliverySeconds),
      messages: o.deliveries.messages,
      rssMb: { peak: round(o.rss.peakMb), sampledPeak: round(o.rss.sampledPeakMb), end: round(o.rss.endMb) },
      subscribers: sub,
      callers: o.callers,
      tasks: { succeeded: o.tasks.succeeded, wrongContent: o.tasks.wrongContent.length },
      pool: o.pool,
      registered: o.registered,
      gaugesBeforeRelease: Object.fromEntries(Object.entries(o.gauges).filter(([k]) => k === "subscriptions" || k === "openFeeds")),
      healthzMs: o.healthz,
      eventsLost: lost,
      wrong,
      timedOut: o.timedOut,
      cpu: o.cpu,
      wallSeconds: round(wallSeconds),
      serviceExit,
    }),
  );
  return lost === 0 && wrong === 0 && !o.timedOut;
}

async function main(): Promise<boolean> {
  const wallStarted = performance.now();
  const settings = readSettings();
  console.log(`crawlq load test — settings ${JSON.stringify(settings)}`);
  const maxWaitMs = String(Math.min(3_600_000, (settings.timeoutS + 60) * 1000));
  const run = await withRig({ ...settings, env: { CRAWLQ_MAX_WAIT_MS: maxWaitMs } }, (settings.timeoutS + 300) * 1000, (rig) => runLoad(rig, settings));
  return report({ ...run.result, rss: run.memory }, (performance.now() - wallStarted) / 1000, run.serviceExit);
}

runMain("load test", main);

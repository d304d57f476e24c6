/**
 * `npm run soak`: the real service under steady, churning traffic for `--minutes` (10), on loopback.
 *
 * Every second: one submission of `--rate` URLs (of which `--slow` take `--slow-ms` each), `--ws` and
 * `--sse` new `taskDone` subscriptions (unfiltered, on a recent submission, or on some of its task ids),
 * each leaving after up to `--lifetime` s, cleanly or (`--abrupt` %) by a destroyed socket, unless its
 * stream completes first; and `--callers` blocking `result(id)` calls on slow tasks, `--abort` % of them
 * aborted mid-wait. Two witnesses (one graphql-ws, one SSE, unfiltered) stay subscribed throughout.
 *
 * The service's RSS (/proc VmRSS) and open file descriptors (/proc/PID/fd, sockets included) are
 * sampled every `--sample` s, with its live `subscriptions` when its counters line (SIGUSR2) has them.
 * At the end: submissions stop, everything drains, every client closes; then no task may be left
 * PENDING or RUNNING, no subscription left registered, and RSS and fds may be at most 10% (fds: or 5)
 * above their level after the warm-up (10% of the run, at least 20 s, at most 60 s). Also checked: each
 * witness got every task once, each completed stream exactly its tasks, each call not aborted its own
 * task. Prints a table and one JSON line; exits 1 on a failed check. Every wait has a deadline.
 */
import { nonNegativeInt, parseFlags, positiveNumber, runMain } from "./cli.js";
import { benchUrls, submit } from "./completions.js";
import { latencyStats, percentile, pollUntil, round, sleep, within } from "./measure.js";
import { formatTable } from "./report.js";
import { Churn, type SubscriptionPlan } from "./traffic/churn.js";
import { pick, sample, seededRandom } from "./traffic/random.js";
import { poolCounts, RIG_FLAGS, RIG_HELP, rigSettings, withRig, type PoolCounts, type Rig, type RigSettings, type RunMemory } from "./traffic/rig.js";
import { DeliveryLog, proveLive, subscribe, type Selection, type Subscriber, type Transport } from "./traffic/subscribers.js";

const HELP = `npm run soak -- [flags]
  --minutes N         how long traffic runs, warm-up included (10)
  --rate N            URLs submitted per second, in one submission (300)
  --slow N            of those, URLs answered after --slow-ms (the callers wait on these) (10)
  --slow-ms MS        how long a slow URL takes (2000)
  --ws N              graphql-ws subscriptions opened per second (3)
  --sse N             SSE subscriptions opened per second (2)
  --lifetime S        longest life of one of those subscriptions; each lives 1 s to this, uniformly (10)
  --abrupt PCT        share of them that leave by a destroyed socket instead of unsubscribing (40)
  --callers N         result(id) calls per second, on slow tasks (10)
  --abort PCT         share of the calls aborted mid-wait (socket destroyed) (40)
  --sample S          seconds between samples of RSS, fds and subscriptions (2)
  --drain S           longest wait for the drain at the end (120)
${RIG_HELP}`;

/** The run's sizes, from the flags. */
interface Settings extends RigSettings {
  minutes: number;
  rate: number;
  slow: number;
  slowMs: number;
  ws: number;
  sse: number;
  lifetimeS: number;
  abruptPct: number;
  callers: number;
  abortPct: number;
  sampleS: number;
  drainS: number;
  /** Seconds of warm-up: 10% of the run, at least 20 s, at most 60 s. */
  warmupS: number;
}

function readSettings(): Settings {
  const flags = parseFlags(HELP, {
    minutes: "10",
    rate: "300",
    slow: "10",
    "slow-ms": "2000",
    ws: "3",
    sse: "2",
    lifetime: "10",
    abrupt: "40",
    callers: "10",
    abort: "40",
    sample: "2",
    drain: "120",
    ...RIG_FLAGS,
  });
  const minutes = positiveNumber("minutes", flags.minutes);
  const int = (name: string) => nonNegativeInt(name, flags[name]);
  const settings: Settings = {
    minutes,
    rate: int("rate"),
    slow: int("slow"),
    slowMs: int("slow-ms"),
    ws: int("ws"),
    sse: int("sse"),
    lifetimeS: positiveNumber("lifetime", flags.lifetime),
    abruptPct: int("abrupt"),
    callers: int("callers"),
    abortPct: int("abort"),
    sampleS: positiveNumber("sample", flags.sample),
    drainS: int("drain"),
    ...rigSettings(flags),
    warmupS: Math.min(60, Math.max(20, minutes * 6)),
  };
  if (settings.rate < 1 || settings.slow > settings.rate) throw new Error("--rate must be ≥ 1 and --slow at most --rate");
  if (settings.callers > settings.slow) throw new Error("--callers must be at most --slow (each waits on a slow task of its second)");
  if (settings.warmupS >= minutes * 60) throw new Error(`--minutes too short for the ${settings.warmupS} s warm-up`);
  return settings;
}

const log = (line: string) => process.stderr.write(`[soak] ${line}\n`);

/**
 * One sample of the service: seconds into the run, RSS, the main thread's V8 heap in use (from the
 * counters line), open fds, and its live gauges when it prints them.
 */
interface Sample {
  t: number;
  rssMb: number;
  heapUsedMb: number;
  fds: number;
  subscriptions: number | null;
  openFeeds: number | null;
}

const gauge = (d: Record<string, unknown>, name: string) => (typeof d[name] === "number" ? (d[name] as number) : null);

async function sampleService(rig: Rig, startedAt: number): Promise<Sample> {
  const diagnostics = await rig.service.diagnostics();
  return {
    t: round((performance.now() - startedAt) / 1000),
    rssMb: round(rig.service.memory().rssMb),
    heapUsedMb: round(((diagnostics.memory as NodeJS.MemoryUsage | undefined)?.heapUsed ?? NaN) / 2 ** 20),
    fds: rig.service.openFds(),
    subscriptions: gauge(diagnostics, "subscriptions"),
    openFeeds: gauge(diagnostics, "openFeeds"),
  };
}

/** The median of each figure over `samples` (its level, robust to a GC or a burst of connections). */
function level(samples: readonly Sample[]) {
  const median = (pick: (s: Sample) => number) => percentile([...samples.map(pick)].sort((a, b) => a - b), 50);
  return { rssMb: median((s) => s.rssMb), heapUsedMb: median((s) => s.heapUsedMb), fds: median((s) => s.fds), samples: samples.length };
}
type Level = ReturnType<typeof level>;

/** The traffic of one second: a submission, new subscriptions, calls. */
class Traffic {
  readonly churn: Churn;
  readonly taskIds: number[] = [];
  readonly #recent: Array<{ id: string; ids: string[] }> = [];
  readonly #random: () => number;
  readonly #rig: Rig;
  readonly #settings: Settings;
  #slowSerial = 0;
  #ticks = 0;

  constructor(rig: Rig, settings: Settings) {
    this.#rig = rig;
    this.#settings = settings;
    this.#random = seededRandom(settings.seed);
    this.churn = new Churn(rig.service.url);
  }

  async tick(): Promise<void> {
    // The fixture logs every request it serves; forgetting them each minute keeps it the same size all along.
    if (++this.#ticks % 60 === 0) await this.#rig.fixture.resetStats();
    const { id, ids, slowIds } = await this.#submit();
    this.#recent.push({ id, ids });
    if (this.#recent.length > 5) this.#recent.shift();
    for (let i = 0; i < this.#settings.ws; i++) this.churn.subscribe(this.#plan("ws"));
    for (let i = 0; i < this.#settings.sse; i++) this.churn.subscribe(this.#plan("sse"));
    for (const taskId of sample(this.#random, slowIds, this.#settings.callers)) {
      const abort = this.#random() * 100 < this.#settings.abortPct;
      // Before the task can finish: the call is aborted while it waits.
      this.churn.call(taskId, abort ? 50 + pick(this.#random, this.#settings.slowMs / 2) : null, 120_000);
    }
  }

  /** This second's URLs: fast /bench pages and slow pages, over every host name. */
  async #submit() {
    const { rate, slow, slowMs } = this.#settings;
    const origins = this.#rig.siteOrigins;
    const slowUrls = Array.from({ length: slow }, () => `${origins[this.#slowSerial % origins.length]}/slow?ms=${slowMs}&n=${this.#slowSerial++}`);
    const sub = await submit(this.#rig.service.url, [...slowUrls, ...benchUrls(origins, rate - slow).map((p) => p.url)]);
    this.taskIds.push(...sub.ids.map(Number));
    return { id: sub.id, ids: sub.ids, slowIds: sub.ids.slice(0, slow) };
  }

  /** A subscription: unfiltered, one of the recent submissions, or a few of their tasks; its life and how it leaves. */
  #plan(transport: Transport): SubscriptionPlan {
    const kind = (["all", "submission", "ids"] as const)[pick(this.#random, 3)]!;
    const recent = this.#recent[pick(this.#random, this.#recent.length)]!;
    const ids = kind === "ids" ? sample(this.#random, recent.ids, 20) : [];
    const selection: Selection =
      kind === "all" ? { kind } : kind === "submission" ? { kind, submissionId: recent.id } : { kind, ids };
    return {
      transport,
      selection,
      expected: kind === "all" ? null : (kind === "submission" ? recent.ids : ids).map(Number),
      lifetimeMs: 1000 + this.#random() * (this.#settings.lifetimeS - 1) * 1000,
      abrupt: this.#random() * 100 < this.#settings.abruptPct,
    };
  }
}

/** Runs one tick a second until `endAt` (performance.now()), sampling every `sampleS`; `onSample` sees each sample. */
async function runTraffic(traffic: Traffic, rig: Rig, settings: Settings, startedAt: number, endAt: number, onSample: (s: Sample) => void) {
  let nextTick = performance.now();
  let nextSample = performance.now();
  let lastLog = performance.now();
  while (performance.now() < endAt) {
    if (performance.now() >= nextSample) {
      const s = await sampleService(rig, startedAt);
      onSample(s);
      nextSample += settings.sampleS * 1000;
      if (performance.now() - lastLog >= 30_000) {
        lastLog = performance.now();
        log(`t=${s.t}s rss ${s.rssMb} MB (heap ${s.heapUsedMb} MB), fds ${s.fds}, subscriptions ${s.subscriptions ?? "-"}; ${traffic.taskIds.length} tasks, ${traffic.churn.openSubscriptions} churned subscriptions open, ${traffic.churn.openCalls} calls waiting`);
      }
    }
    if (performance.now() >= nextTick) {
      await within(30_000, "one second's submission", traffic.tick());
      nextTick += 1000;
    }
    await sleep(Math.max(1, Math.min(nextTick, nextSample) - performance.now()));
  }
}

/** The end: every task terminal, every call ended, every witness served, every client closed. */
async function drain(rig: Rig, traffic: Traffic, witnesses: Subscriber[], expected: number[], settings: Settings) {
  let pool: PoolCounts | null = null;
  await pollUntil(
    "every task terminal (pool pending 0, running 0)",
    settings.drainS * 1000,
    async () => {
      pool = await poolCounts(rig.service.url);
      return pool.pending === 0 && pool.running === 0;
    },
    { intervalMs: 500, describe: () => JSON.stringify(pool) },
  );
  await within(130_000, "the calls still waiting", traffic.churn.callsSettled());
  await pollUntil("the witnesses receiving every task", 60_000, () => witnesses.every((w) => w.tally.total >= expected.length || w.errors.length > 0), {
    intervalMs: 200,
  });
  await within(30_000, "closing every client", Promise.all([traffic.churn.close(), ...witnesses.map((w) => w.close())]));
  return (await poolCounts(rig.service.url)) as PoolCounts;
}

/** After the clients are gone: waits (at most 30 s) for the service to drop every subscription, then for idle keep-alive sockets to time out. */
async function settle(rig: Rig, startedAt: number) {
  let last: Sample | null = null;
  await pollUntil(
    "the service's subscriptions and open waits back to 0",
    30_000,
    async () => {
      last = await sampleService(rig, startedAt);
      return (last.subscriptions ?? 0) === 0 && (last.openFeeds ?? 0) === 0;
    },
    { intervalMs: 500, describe: () => JSON.stringify(last) },
  ).catch((error: Error) => log(error.message));
  await sleep(6_000); // undici's keep-alive sockets (4 s idle) in the pool threads close
  const samples: Sample[] = [];
  for (let i = 0; i < 3; i++) {
    samples.push(await sampleService(rig, startedAt));
    await sleep(1000);
  }
  return samples;
}

/** The pass/fail checks and the figures they compare. */
function verdicts(o: SoakOutcome) {
  const within10 = (end: number, start: number, slack = 0) => end <= Math.max(start * 1.1, start + slack);
  const subs = o.endSamples.at(-1)!.subscriptions;
  const c = o.churn;
  const witnessWrong = o.witnesses.reduce((n, w) => n + w.missing + w.duplicates + w.unexpected + w.errors, 0);
  return {
    rss: within10(o.end.rssMb, o.warm.rssMb),
    fds: within10(o.end.fds, o.warm.fds, 5),
    pool: o.pool.pending === 0 && o.pool.running === 0,
    subscriptions: subs === null ? null : subs === 0 && (o.endSamples.at(-1)!.openFeeds ?? 0) === 0,
    deliveries: witnessWrong + c.missing + c.duplicates + c.unexpected + c.errors === 0 && c.completed === c.completedExact,
    calls: c.callsWrong + c.callsFailed === 0,
  };
}

/** Everything the soak measured. */
interface SoakOutcome {
  settings: Settings;
  idle: Level;
  warm: Level;
  late: Level;
  end: Level;
  endSamples: Sample[];
  memory: RunMemory;
  pool: PoolCounts;
  tasks: number;
  trafficSeconds: number;
  churn: Churn["stats"];
  witnesses: Array<{ transport: Transport; messages: number; missing: number; duplicates: number; unexpected: number; errors: number }>;
  notify: ReturnType<typeof latencyStats>;
  samples: Sample[];
}

/** The whole soak on a started rig; clients are closed on the way out whatever happens. */
async function runSoak(rig: Rig, settings: Settings): Promise<Omit<SoakOutcome, "memory">> {
  const startedAt = performance.now();
  const idle = level([await sampleService(rig, startedAt)]);
  const deliveries = new DeliveryLog();
  const witnesses = (["ws", "sse"] as const).map((t) => subscribe(t, rig.service.url, { kind: "all" }, deliveries.record));
  const traffic = new Traffic(rig, settings);
  try {
    const probeId = await proveLive(rig.service.url, rig.siteOrigins, witnesses);
    const samples: Sample[] = [];
    const trafficStart = performance.now();
    const warmEnd = trafficStart + settings.warmupS * 1000;
    const trafficEnd = trafficStart + settings.minutes * 60_000;
    log(`traffic for ${settings.minutes} min (warm-up ${settings.warmupS} s); idle service: rss ${idle.rssMb} MB, fds ${idle.fds}`);
    await runTraffic(traffic, rig, settings, startedAt, trafficEnd, (s) => samples.push(s));
    const window = (from: number, to: number) => samples.filter((s) => s.t * 1000 >= from - startedAt && s.t * 1000 <= to - startedAt);
    const warm = level(window(warmEnd - 10_000, warmEnd));
    const late = level(window(trafficEnd - 10_000, trafficEnd));
    log(`traffic stopped after ${traffic.taskIds.length} tasks; draining`);
    const expected = [probeId, ...traffic.taskIds];
    const pool = await drain(rig, traffic, witnesses, expected, settings);
    const endSamples = await settle(rig, startedAt);
    return {
      settings,
      idle,
      warm,
      late,
      end: level(endSamples),
      endSamples,
      pool,
      tasks: traffic.taskIds.length,
      trafficSeconds: (trafficEnd - trafficStart) / 1000,
      churn: traffic.churn.stats,
      witnesses: witnesses.map((w) => ({ transport: w.transport, messages: w.tally.total, ...w.tally.check(expected), errors: w.errors.length })),
      notify: latencyStats(deliveries.latencies),
      samples,
    };
  } finally {
    await within(30_000, "closing the clients", Promise.all([traffic.churn.close(), ...witnesses.map((w) => w.close())])).catch((e: Error) => log(e.message));
  }
}

const passFail = (ok: boolean | null) => (ok === null ? "skipped" : ok ? "pass" : "FAIL");

function report(o: SoakOutcome, wallSeconds: number, serviceExit: number | string): boolean {
  const v = verdicts(o);
  const c = o.churn;
  const endSample = o.endSamples.at(-1)!;
  const subsNote =
    v.subscriptions === null
      ? "skipped: this build's crawlq-counters line has no `subscriptions` field"
      : `${endSample.subscriptions} subscriptions, ${endSample.openFeeds ?? "-"} open waits/streams`;
  const w = o.witnesses.map((x) => `${x.transport} ${x.messages} msgs, missing ${x.missing}, dup ${x.duplicates}, unexpected ${x.unexpected}, errors ${x.errors}`).join("; ");
  const rows = [
    ["traffic", `${round(o.trafficSeconds)} s, ${o.tasks} tasks (${round(o.tasks / o.trafficSeconds)}/s); warm-up ${o.settings.warmupS} s`, ""],
    ["RSS (MB)", `idle ${o.idle.rssMb}; after warm-up ${o.warm.rssMb}; end of traffic ${o.late.rssMb}; end ${o.end.rssMb}; peak ${round(o.memory.peakMb)} (VmHWM)`, passFail(v.rss)],
    ["main heap used (MB)", `idle ${o.idle.heapUsedMb}; after warm-up ${o.warm.heapUsedMb}; end of traffic ${o.late.heapUsedMb}; end ${o.end.heapUsedMb}`, ""],
    ["open fds", `idle ${o.idle.fds}; after warm-up ${o.warm.fds}; end of traffic ${o.late.fds}; end ${o.end.fds}`, passFail(v.fds)],
    ["listeners at end", subsNote, passFail(v.subscriptions)],
    ["tasks at end", `pending ${o.pool.pending}, running ${o.pool.running}, succeeded ${o.pool.succeeded}, failed ${o.pool.failed}, cancelled ${o.pool.cancelled}`, passFail(v.pool)],
    ["subscriptions", `opened ws ${c.opened.ws}, sse ${c.opened.sse}; completed ${c.completed} (${c.completedExact} exact), left cleanly ${c.leftClean}, abruptly ${c.leftAbrupt}; missing ${c.missing}, dup ${c.duplicates}, unexpected ${c.unexpected}, errors ${c.errors}`, passFail(v.deliveries)],
    ["witnesses", w, ""],
    ["result calls", `${c.calls}: right ${c.callsRight}, aborted mid-wait ${c.callsAborted}, wrong ${c.callsWrong}, failed ${c.callsFailed}`, passFail(v.calls)],
    ["notify (witnesses)", `p50 ${o.notify.p50} ms, p99 ${o.notify.p99} ms, max ${o.notify.max} ms`, ""],
  ];
  const ok = Object.values(v).every((x) => x !== false);
  console.log("");
  console.log(formatTable(["figure", "measured", "check"], rows));
  for (const e of c.firstErrors) console.log(`  problem: ${e}`);
  console.log(`verdict: ${ok ? "PASS" : "FAIL"} (RSS and fds: end at most 10% above the level after warm-up, fds or at most 5 above)`);
  console.log(`(wall time ${round(wallSeconds)} s; service exit ${serviceExit})`);
  const { samples, endSamples, ...figures } = o;
  console.log(JSON.stringify({ soak: "crawlq", ...figures, verdicts: v, pass: ok, wallSeconds: round(wallSeconds), serviceExit, sampleFields: ["t", "rssMb", "heapUsedMb", "fds", "subscriptions"], samples: samples.map((s) => [s.t, s.rssMb, s.heapUsedMb, s.fds, s.subscriptions]) }));
  return ok;
}

async function main(): Promise<boolean> {
  const wallStarted = performance.now();
  const settings = readSettings();
  console.log(`crawlq soak — settings ${JSON.stringify(settings)}`);
  const deadlineMs = (settings.minutes * 60 + settings.drainS + 600) * 1000;
  const run = await withRig(settings, deadlineMs, (rig) => runSoak(rig, settings));
  return report({ ...run.result, memory: run.memory }, (performance.now() - wallStarted) / 1000, run.serviceExit);
}

runMain("soak", main);

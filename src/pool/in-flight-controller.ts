import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";

/** The dispatcher's in-flight limit: read before each fill, told of every attempt's end. */
export interface InFlightLimit {
  /** Tasks the dispatcher may keep in the pool now. */
  readonly limit: number;
  /** The dispatcher's fill ended with `inFlight` tasks in the pool (is the limit actually used?). */
  used(inFlight: number): void;
  /**
   * A page's attempt ended and its slot is free: the fetch took `fetchMs`, and the task spent `queuedMs` more in
   * the service than its fetch, its parse and its result write's fixed cost (the fastest write lately),
   * waiting its turn for a thread or the main thread (failures carry none).
   */
  attemptEnded(fetchMs: number, queuedMs: number): void;
}

/** A limit that never moves: CRAWLQ_MAX_IN_FLIGHT, and dispatchers built without a controller. */
export function fixedLimit(limit: number): InFlightLimit {
  return { limit, used: () => {}, attemptEnded: () => {} };
}

/** The process's memory as the controller judges it. */
export interface MemorySample {
  /** Resident set of the whole process (main thread, workers, undici buffers). */
  rssBytes: number;
  /** The main thread's V8 heap in use, and the most it may grow to (--max-old-space-size). */
  heapUsedBytes: number;
  heapLimitBytes: number;
}

/** Where the controller reads the machine's state; injected so that tests drive it without a real load. */
export interface LoadSignals {
  /** Mean event-loop delay since the previous call, in ms (the sampler starts a new window on each call). */
  eventLoopLagMs(): number;
  memory(): MemorySample;
  /**
   * Share (0–1) of the machine's CPU time that was busy since the previous call, every process counted: a
   * crawl that has the cores to itself may grow, one on a saturated machine only adds waiting. Optional.
   */
  cpuBusyShare?(): number;
  /** Stops whatever the sampler started. */
  close(): void;
}

export interface InFlightControllerOptions {
  /** The least the limit falls to, whatever the signals say. */
  floor: number;
  /** The most it rises to; lowered to `memoryBudgetBytes / maxBodyBytes` when that is smaller. */
  ceiling: number;
  /** Where it starts (clamped to floor and ceiling); default: the floor. */
  initial?: number;
  /** Bytes the bodies in flight may take at most (each up to maxBodyBytes): the ceiling never exceeds budget / maxBodyBytes. */
  memoryBudgetBytes: number;
  maxBodyBytes: number;
  /**
   * Process RSS above which memory counts as short (main thread, workers, buffers); default 80 % of the memory the
   * process may use (its cgroup limit, else the machine's).
   */
  maxRssBytes?: number;
  /** How often the signals are judged and the limit moved. Default 500 ms. */
  windowMs?: number;
  /** Mean event-loop delay over a window above which the main thread counts as overloaded. Default 50 ms. */
  maxLagMs?: number;
  /** Share of the machine's CPU busy over a window at or above which the CPU counts as saturated. Default 0.9. */
  maxCpuShare?: number;
  /** Share of the main thread's heap limit in use above which memory counts as short. Default 0.85. */
  maxHeapShare?: number;
  /**
   * The time a task may spend in the service beyond its fetch, parse and result write (the window's median),
   * as a share of the median fetch time, before the limit counts as too high: tasks then wait for the threads
   * or the main thread, which slows every host's pages (a host at its per-host limit most) for little more
   * throughput. Default 0.2.
   */
  maxQueueShare?: number;
  /** ...but never less than this many ms (fetches of a few ms). Default 10 ms. */
  minQueueMs?: number;
  /** Latency counts as rising when the window's median exceeds the one before the limit's growth by this factor... Default 2. */
  latencyRise?: number;
  /** ...or as much as the limit grew, and by at least this many ms (fetch times of a few ms jitter by more than 2×). Default 10 ms. */
  latencySlackMs?: number;
  /**
   * For how many windows after its last increase the limit answers for the latency: rising latency then undoes
   * the growth. Outside of them the limit has not moved, and a latency change is the hosts' (another mix of
   * hosts, a slower site), not the crawl's own load. Default 3.
   */
  latencyWindows?: number;
  /** Fetches a window needs before its median counts. Default 8. */
  minSamples?: number;
  /**
   * Consecutive windows event-loop lag or latency must strain before the limit decreases (a loaded machine's
   * passing stall is not the crawl's doing). Memory pressure counts at once. Default 3.
   */
  sustainedWindows?: number;
  /** Multiplicative decrease. Default 0.75. */
  decrease?: number;
  /** Additive increase per window, after the first decrease; default ceiling / 32 (at least 1). */
  step?: number;
  now?: () => number;
  signals?: LoadSignals;
  /** The limit moved (the dispatcher wakes to use a higher one). */
  onChange?: (limit: number, decision: Decision) => void;
}

/** What one window's judgement did to the limit, and why. */
export interface Decision {
  change: "up" | "down" | "hold";
  limit: number;
  /**
   * For "down": "event-loop lag", "cpu", "queueing", "memory", "latency"; for "hold": "unused", "at ceiling",
   * "settling" (the window after a decrease), or a signal's name while it has not strained for long enough yet.
   */
  reasons: string[];
  lagMs: number;
  /** The window's median fetch time, and the one before the limit's latest growth (null: none to judge by). */
  latencyMs: number | null;
  baselineMs: number | null;
  /** The window's median time a task spent in the service beyond its fetch, parse and result write (null: none to judge by). */
  queuedMs: number | null;
}

const MAX_SAMPLES = 1024;

/**
 * AIMD control of the dispatcher's in-flight limit, between a floor and a ceiling. Every window it judges
 * five signals: the main thread's event-loop delay, the machine's CPU (busy share, every process counted),
 * queueing (the median time a task spends in the service beyond its fetch, parse and result write, against
 * a share of the median fetch time), memory (process RSS against maxRssBytes, the main heap against its
 * limit) and fetch latency (the median fetch time of the window against the window's before the limit's
 * latest growth: only a limit that just grew answers for a latency that rose). Memory pressure, or lag,
 * saturated CPU, queueing or rising latency for `sustainedWindows` windows in a row: the limit is
 * multiplied by `decrease` (never below the floor); a shorter strain holds it. All clear and the limit
 * actually reached during the window: it grows, doubling until the first decrease (slow start), then by
 * `step`. A limit the work does not fill does not grow.
 *
 * The ceiling never exceeds memoryBudgetBytes / maxBodyBytes, so the bodies in flight fit the budget
 * however large each one is.
 */
export class InFlightController implements InFlightLimit {
  readonly floor: number;
  readonly ceiling: number;
  readonly #o: Required<Omit<InFlightControllerOptions, "initial" | "signals" | "onChange">>;
  // Consecutive windows with a strain that must last (lag, CPU, queueing, rising latency).
  #strainedWindows = 0;
  readonly #signals: LoadSignals;
  readonly #onChange: ((limit: number, decision: Decision) => void) | undefined;
  #limit: number;
  #slowStart = true;
  #peak = 0;
  #samples: number[] = [];
  #queueSamples: number[] = [];
  #latencyMs: number | null = null;
  #queuedMs: number | null = null;
  // The latency and limit of the window before the latest growth, and until when that growth answers for the latency.
  #beforeGrowth: { latencyMs: number; limit: number; until: number } | null = null;
  #latencyQuietUntil = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: InFlightControllerOptions) {
    this.ceiling = Math.max(1, Math.min(options.ceiling, memoryCeiling(options.memoryBudgetBytes, options.maxBodyBytes)));
    this.floor = Math.max(1, Math.min(options.floor, this.ceiling));
    this.#o = {
      floor: this.floor,
      ceiling: this.ceiling,
      memoryBudgetBytes: options.memoryBudgetBytes,
      maxBodyBytes: options.maxBodyBytes,
      maxRssBytes: options.maxRssBytes ?? Math.floor(0.8 * availableMemory()),
      sustainedWindows: Math.max(1, options.sustainedWindows ?? 3),
      windowMs: options.windowMs ?? 500,
      maxLagMs: options.maxLagMs ?? 50,
      maxHeapShare: options.maxHeapShare ?? 0.85,
      maxCpuShare: options.maxCpuShare ?? 0.9,
      maxQueueShare: options.maxQueueShare ?? 0.2,
      minQueueMs: options.minQueueMs ?? 10,
      latencyRise: options.latencyRise ?? 2,
      latencySlackMs: options.latencySlackMs ?? 10,
      latencyWindows: options.latencyWindows ?? 3,
      minSamples: options.minSamples ?? 8,
      decrease: options.decrease ?? 0.75,
      step: options.step ?? Math.max(1, Math.round(this.ceiling / 32)),
      now: options.now ?? Date.now,
    };
    this.#signals = options.signals ?? processSignals();
    this.#onChange = options.onChange;
    this.#limit = clamp(options.initial ?? this.floor, this.floor, this.ceiling);
  }

  get limit(): number {
    return this.#limit;
  }

  used(inFlight: number): void {
    if (inFlight > this.#peak) this.#peak = inFlight;
  }

  attemptEnded(fetchMs: number, queuedMs: number): void {
    // The latest ones are kept: a window's median is about now.
    if (this.#samples.length >= MAX_SAMPLES) {
      this.#samples.shift();
      this.#queueSamples.shift();
    }
    this.#samples.push(fetchMs);
    this.#queueSamples.push(queuedMs);
  }

  /** Judges a window every windowMs on a timer (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.tick(), this.#o.windowMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#signals.close();
  }

  /** Ends the current window: reads the signals, moves the limit, starts the next window. */
  tick(): Decision {
    const now = this.#o.now();
    const lagMs = this.#signals.eventLoopLagMs();
    const cpuShare = this.#signals.cpuBusyShare?.() ?? 0;
    const memory = this.#signals.memory();
    const { latencyMs, queuedMs } = this.#medians();
    if (this.#beforeGrowth !== null && now > this.#beforeGrowth.until) this.#beforeGrowth = null;
    const baselineMs = this.#beforeGrowth?.latencyMs ?? null;
    const peak = this.#peak;
    this.#peak = 0;

    const strained: string[] = [];
    if (lagMs > this.#o.maxLagMs) strained.push("event-loop lag");
    // Saturated cores: more tasks in flight would only wait for them (and slow every host's pages).
    if (cpuShare >= this.#o.maxCpuShare) strained.push("cpu");
    // The same seen from the tasks: they wait for the threads or the main thread. Unlike fetch latency, this
    // does not depend on which hosts are crawled.
    if (latencyMs !== null && queuedMs !== null && queuedMs > Math.max(this.#o.minQueueMs, this.#o.maxQueueShare * latencyMs)) {
      strained.push("queueing");
    }
    // After a decrease the median needs a window or two to show its effect; until then it does not count again.
    if (latencyMs !== null && this.#beforeGrowth !== null && now >= this.#latencyQuietUntil && this.#rising(latencyMs, this.#beforeGrowth)) {
      strained.push("latency");
    }
    this.#strainedWindows = strained.length > 0 ? this.#strainedWindows + 1 : 0;
    // Lag and latency must last; memory pressure counts at once (it ends in a crash, not in a slower crawl).
    const sustained = this.#strainedWindows >= this.#o.sustainedWindows;
    if (memory.rssBytes > this.#o.maxRssBytes || memory.heapUsedBytes > this.#o.maxHeapShare * memory.heapLimitBytes) {
      strained.push("memory");
    }

    const before = this.#limit;
    let decision: Decision;
    if (strained.includes("memory") || (strained.length > 0 && sustained)) {
      this.#slowStart = false;
      this.#strainedWindows = 0;
      this.#limit = Math.max(this.floor, Math.floor(before * this.#o.decrease));
      if (this.#limit < before) this.#latencyQuietUntil = now + 2 * this.#o.windowMs;
      this.#beforeGrowth = null;
      decision = { change: this.#limit < before ? "down" : "hold", limit: this.#limit, reasons: strained, lagMs, latencyMs, queuedMs, baselineMs };
    } else if (strained.length > 0) {
      // Strained, not for long enough yet: neither down nor up.
      decision = { change: "hold", limit: before, reasons: strained, lagMs, latencyMs, queuedMs, baselineMs };
    } else if (peak < before) {
      decision = { change: "hold", limit: before, reasons: ["unused"], lagMs, latencyMs, queuedMs, baselineMs };
    } else if (now < this.#latencyQuietUntil) {
      // Just decreased: the fetch times still show the higher limit, no reference for a growth yet.
      decision = { change: "hold", limit: before, reasons: ["settling"], lagMs, latencyMs, queuedMs, baselineMs };
    } else {
      this.#limit = Math.min(this.ceiling, this.#slowStart ? before * 2 : before + this.#o.step);
      const reasons = this.#limit === before ? ["at ceiling"] : [];
      if (this.#limit > before && latencyMs !== null) {
        // The reference: this window, the last one at the limit before this growth.
        this.#beforeGrowth = { latencyMs, limit: before, until: now + this.#o.latencyWindows * this.#o.windowMs };
      }
      decision = { change: this.#limit > before ? "up" : "hold", limit: this.#limit, reasons, lagMs, latencyMs, queuedMs, baselineMs };
    }
    if (this.#limit !== before) this.#onChange?.(this.#limit, decision);
    return decision;
  }

  /**
   * Since the growth began, did latency rise by `latencyRise`, or as much as the limit did (so the pages per
   * second, in flight / latency, gained less than a tenth: the machine or the network is saturated)?
   */
  #rising(latencyMs: number, reference: { latencyMs: number; limit: number }): boolean {
    if (latencyMs - reference.latencyMs <= this.#o.latencySlackMs) return false;
    const latencyGrowth = latencyMs / reference.latencyMs;
    return latencyGrowth >= this.#o.latencyRise || this.#limit / reference.limit < 1.1 * latencyGrowth;
  }

  /** The window's median fetch and queueing times (the last window's while too few attempts were seen). */
  #medians(): { latencyMs: number | null; queuedMs: number | null } {
    if (this.#samples.length >= this.#o.minSamples) {
      this.#latencyMs = medianOf(this.#samples);
      this.#queuedMs = medianOf(this.#queueSamples);
    }
    this.#samples = [];
    this.#queueSamples = [];
    return { latencyMs: this.#latencyMs, queuedMs: this.#queuedMs };
  }
}

/** The memory this process may use: its cgroup limit when it has one, else the machine's. */
export function availableMemory(): number {
  const total = os.totalmem();
  const constrained = process.constrainedMemory();
  return constrained > 0 && constrained < total ? constrained : total;
}

/** The most bodies of maxBodyBytes each that fit the budget (at least 1). */
export function memoryCeiling(memoryBudgetBytes: number, maxBodyBytes: number): number {
  return Math.max(1, Math.floor(memoryBudgetBytes / maxBodyBytes));
}

/** The process's signals: an event-loop delay histogram (20 ms resolution), process.memoryUsage and V8's heap limit. */
export function processSignals(): LoadSignals {
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  const heapLimitBytes = getHeapStatistics().heap_size_limit;
  const cpuTimes = () => {
    let busy = 0;
    let total = 0;
    for (const { times } of os.cpus()) {
      const all = times.user + times.nice + times.sys + times.irq + times.idle;
      total += all;
      busy += all - times.idle;
    }
    return { busy, total };
  };
  let lastCpu = cpuTimes();
  return {
    cpuBusyShare() {
      const now = cpuTimes();
      const total = now.total - lastCpu.total;
      const share = total > 0 ? (now.busy - lastCpu.busy) / total : 0;
      lastCpu = now;
      return share;
    },
    eventLoopLagMs() {
      // The histogram counts the timer's own resolution in each sample; what is above it is lag.
      const mean = delay.count > 0 ? delay.mean / 1e6 - 20 : 0;
      delay.reset();
      return Math.max(0, mean);
    },
    memory() {
      const usage = process.memoryUsage();
      return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed, heapLimitBytes };
    },
    close() {
      delay.disable();
    },
  };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

import cliProgress from "cli-progress";
import type { TaskStatus } from "../client/generated/graphql.js";
import { count } from "./render.js";

/** How the tasks followed so far ended. */
export interface ProgressCounts {
  /** Tasks submitted and followed. */
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  elapsedMs: number;
}

/** Live progress of a `--wait`: counts, pages per second and an ETA, on stderr. */
export interface Progress {
  /** More tasks to wait for (a submission was stored). */
  add(tasks: number): void;
  /** A task is done. */
  done(status: TaskStatus): void;
  /** A line about the run (a reconnection), printed on stderr without breaking the bar. */
  note(message: string): void;
  /** Writes to `stream` (stdout), above the bar when both are the terminal. */
  print(stream: NodeJS.WritableStream & { isTTY?: boolean }, text: string): void;
  /** Stops drawing (once; later calls only count); returns the counts. */
  stop(): ProgressCounts;
}

export interface ProgressOptions {
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  /** Off: no bar and no progress lines (notes are still printed). */
  enabled: boolean;
  /** Without a TTY, a progress line every so often. */
  intervalMs: number;
}

// Pages per second over about the last 10 s, from a sample every 250 ms.
const RATE_WINDOW_MS = 10_000;
const SAMPLE_EVERY_MS = 250;

/**
 * A cli-progress bar when the stream is a terminal; otherwise one plain line every `intervalMs` (logs and
 * CI keep every line, so a bar redrawn in place would fill them).
 */
export function createProgress(options: ProgressOptions): Progress {
  const started = Date.now();
  const counts = { total: 0, succeeded: 0, failed: 0, cancelled: 0 };
  const samples: Array<{ at: number; done: number }> = [{ at: started, done: 0 }];
  const finished = () => counts.succeeded + counts.failed + counts.cancelled;

  const figures = () => {
    const now = Date.now();
    const oldest = samples[0]!;
    const seconds = (now - oldest.at) / 1000;
    const rate = seconds > 0 ? (finished() - oldest.done) / seconds : 0;
    const pending = counts.total - finished();
    const eta = rate > 0 ? `${Math.ceil(pending / rate)} s` : "?";
    return { rate: count(Math.round(rate)), pending: count(pending), eta };
  };
  const sample = () => {
    const now = Date.now();
    if (now - samples.at(-1)!.at < SAMPLE_EVERY_MS) return;
    samples.push({ at: now, done: finished() });
    while (samples.length > 2 && now - samples[0]!.at > RATE_WINDOW_MS) samples.shift();
  };
  const line = () => {
    const f = figures();
    return (
      `crawlq: ${count(finished())}/${count(counts.total)} done (${count(counts.succeeded)} succeeded, ` +
      `${count(counts.failed)} failed, ${count(counts.cancelled)} cancelled), ${f.pending} pending, ${f.rate} pages/s, ETA ${f.eta}\n`
    );
  };

  const tty = options.enabled && options.stream.isTTY === true;
  // Drawn from the first submission on (a bar of 0 tasks would show as full).
  const bars = tty
    ? new cliProgress.MultiBar(
        {
          stream: options.stream,
          // Short enough for an 80-column terminal with 5-digit counts.
          format: " {bar} {value}/{total}, {failed} failed, {pending} pending, {rate} pages/s, ETA {etaText}",
          barsize: 16,
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let bar: cliProgress.SingleBar | null = null;
  const payload = () => {
    const f = figures();
    return { failed: count(counts.failed + counts.cancelled), pending: f.pending, rate: f.rate, etaText: f.eta };
  };
  const timer = options.enabled && !tty ? setInterval(() => options.stream.write(line()), options.intervalMs) : null;
  timer?.unref();
  let stopped = false;

  return {
    add(tasks) {
      counts.total += tasks;
      if (bars && !stopped) bar ??= bars.create(counts.total, finished(), payload());
      bar?.setTotal(counts.total);
    },
    done(status) {
      if (status === "SUCCEEDED") counts.succeeded++;
      else if (status === "CANCELLED") counts.cancelled++;
      else counts.failed++;
      sample();
      bar?.update(finished(), payload());
    },
    note(message) {
      this.print(options.stream, `${message}\n`);
    },
    print(stream, text) {
      if (bar && !stopped && stream.isTTY) bars!.log(text);
      else stream.write(text);
    },
    stop() {
      if (!stopped) {
        stopped = true;
        if (timer) clearInterval(timer);
        bar?.update(finished(), payload());
        bars?.stop();
      }
      return { ...counts, elapsedMs: Date.now() - started };
    },
  };
}

/**
 * baseline-0ms / baseline-50ms: a bare fetch loop (Node's fetch, reading each ~30 KB body, counting `<a`)
 * with the service's total in-flight limit as its concurrency: the ceiling the service is measured against.
 */
import type { Run } from "../run.js";

/** A bare fetch loop: `concurrency` loops, each fetching, reading the whole body and counting `<a`. */
export async function fetchLoop(origin: string, from: number, count: number, concurrency: number) {
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

/** `--warmup` untimed pages through the loop, so that the timed runs are JIT-warm. */
export async function warmBaseline({ settings }: Run, origin: string) {
  if (settings.warmup > 0) await fetchLoop(origin, 1_000_000, settings.warmup, settings.inFlight);
}

export async function baseline({ settings, cpu }: Run, origin: string) {
  const before = await cpu.snapshot();
  const run = await fetchLoop(origin, 0, settings.pages, settings.inFlight);
  return { ...run, cpu: cpu.perPage(before, await cpu.snapshot(), settings.pages, run.seconds) };
}

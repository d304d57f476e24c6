/**
 * backlog: `--backlog` PENDING tasks in mutations of `--submit` URLs: the service's peak RSS, and its
 * throughput while it drains (compared with e2e-0ms by the runner). The first mutation, sent while the
 * pool is idle, is also the "submit" figure.
 */
import { benchUrls, submit } from "../completions.js";
import { percentile, sleep } from "../measure.js";
import type { Run } from "../run.js";

export async function backlog({ settings, service, watcher, fixture, cpu }: Run, origin: string) {
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
  const cpuBefore = await cpu.snapshot();
  const half = (settings.drainSeconds * 1000) / 2;
  const countBetween = (a: number, b: number) =>
    ids.reduce((sum, id) => sum + watcher.received(id).filter((r) => r.perf >= a && r.perf < b).length, 0);
  await sleep(settings.drainSeconds * 1000);
  const cpuAfter = await cpu.snapshot();
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
      cpu: cpu.perPage(cpuBefore, cpuAfter, drained, settings.drainSeconds),
    },
    done,
    notSucceeded: wrong,
    rssMb: { before: rssBefore.rssMb, peakSampled: Math.max(peakSampled, memory.rssMb), processPeak: memory.peakMb },
  };
}

/**
 * e2e-0ms / e2e-50ms: N pages through the real service, from the first submitCrawl to the last taskDone
 * received by the graphql-ws subscriber that subscribed before submitting; notify (subscriber receipt −
 * task finishedAt), statements, CPU per page and per thread, and where each pool slot's time goes.
 */
import { benchUrls, checkPages, submitAll } from "../completions.js";
import { latencyStats, percentile, round } from "../measure.js";
import type { Run } from "../run.js";

/** `--warmup` untimed pages through the service, so that the timed runs are JIT-warm. */
export async function warmService({ settings, service, watcher }: Run, origin: string) {
  if (settings.warmup === 0) return;
  const warm = await submitAll(service.url, benchUrls(origin, settings.warmup).map((p) => p.url));
  await watcher.waitFor(warm.ids, settings.warmup, Math.max(120_000, settings.warmup * 20));
  for (const id of warm.ids) watcher.forget(id);
}

export async function e2e({ settings, service, watcher, cpu }: Run, origin: string) {
  const pages = benchUrls(origin, settings.pages);
  const countersBefore = await service.counters();
  const threadsBefore = service.threadCpuMs();
  const cpuBefore = await cpu.snapshot();
  const sub = await submitAll(service.url, pages.map((p) => p.url));
  await watcher.waitFor(sub.ids, settings.pages, Math.max(120_000, settings.pages * 20));
  const cpuAfter = await cpu.snapshot();
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
  const notifyMs = received.map((r) => r.at - Date.parse(r.event.finishedAt));
  const notify = latencyStats(notifyMs);
  // Each task's notify latency by its page number, for a split by the instance that ran it (cluster.ts).
  const notifyByPage = received.flatMap((r, i) => {
    const n = idToPage.get(r.event.id);
    return n === undefined ? [] : [[n, notifyMs[i]!] as const];
  });
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
    notifyByPage,
    statements,
    statementsPerPage: round(perPage, 3),
    cpu: cpu.perPage(cpuBefore, cpuAfter, settings.pages, seconds),
    threads,
    slots,
    memory,
  };
}

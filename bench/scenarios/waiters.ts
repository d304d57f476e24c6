/**
 * waiters: 1 and `--waiters` concurrent result(id) calls on PENDING tasks: all correct, wake-up latency
 * (response receipt − finishedAt), and the statements the waiting path issues at call time and while waiting.
 */
import { Agent } from "undici";
import { benchUrls, checkPages, nextBenchPage, requestResult, submit } from "../completions.js";
import { latencyStats, pollUntil, sleep, within } from "../measure.js";
import type { Run } from "../run.js";

const waitingReads = (c: Record<string, number>) => (c.findByIds ?? 0) + (c.findBySubmission ?? 0);

/**
 * Fills every pool slot with gate requests (held by the fixture), submits `count` pages (they stay PENDING),
 * sends `count` concurrent result(id) calls, waits until the service has registered all of them (its
 * findByIds counter has seen every id), opens the gate, and measures each call's wake-up.
 */
export async function waiters({ settings, service, watcher, fixture, cpu }: Run, origin: string, count: number) {
  await fixture.hold();
  const gate = await submit(
    service.url,
    Array.from({ length: settings.inFlight }, (_, i) => `${fixture.origins.gate}/gate/${nextBenchPage()}-${i}`),
  );
  await pollUntil(`${settings.inFlight} gate requests held`, 30_000, async () => (await fixture.held()) >= settings.inFlight);
  const pages = benchUrls(origin, count);
  const sub = await submit(service.url, pages.map((p) => p.url));
  const idToPage = new Map(sub.ids.map((id, i) => [id, pages[i]!.n]));

  const before = await service.counters();
  const agent = new Agent({ connections: count + 10 });
  const answers = sub.ids.map((id) => requestResult(service.url, id, { dispatcher: agent, timeoutMs: 120_000 }));
  // Every result(id) call listens first, then reads its task once (findByIds, coalesced per turn).
  let registered = before;
  await pollUntil("the service registering every result(id) call", 60_000, async () => {
    registered = await service.counters();
    return (registered.findByIdsRows ?? 0) - (before.findByIdsRows ?? 0) >= count;
  });
  await sleep(300); // a pause in which a polling implementation would read
  const released = performance.now();
  const cpuBefore = await cpu.snapshot();
  await fixture.release();
  const received = await within(120_000, "result(id) answers", Promise.all(answers));
  const secondsAfterRelease = (Math.max(...received.map((r) => r.perf)) - released) / 1000;
  const cpuUsed = cpu.perPage(cpuBefore, await cpu.snapshot(), count, secondsAfterRelease);
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
    cpu: cpuUsed,
    statementsAtCall: waitingReads(registered) - waitingReads(before),
    statementsWhileWaiting: waitingReads(after) - waitingReads(registered),
  };
}

/**
 * waiters: 1 and `--waiters` concurrent result(id) calls on PENDING tasks: all correct, wake-up latency
 * (response receipt − finishedAt), and the statements the waiting path issues at call time and while waiting.
 */
import { Agent, request } from "undici";
import { benchUrls, checkPages, nextBenchPage, submit, type DoneEvent, type Received } from "../completions.js";
import { latencyStats, sleep, within } from "../measure.js";
import type { Run } from "../run.js";

const RESULT = `query ($id: ID!) { result(id: $id, timeoutMs: 120000) { id status finishedAt result { title linkCount contentLength } } }`;
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

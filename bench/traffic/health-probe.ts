import { latencyStats } from "../measure.js";

/** How long `/healthz` took to answer, asked every `everyMs` while a run lasts. */
export interface HealthProbe {
  stop(): Promise<{ probes: number; p50: number; p99: number; max: number; over1s: number; failed: number }>;
}

/**
 * Asks the service's `/healthz` once per `everyMs` (one request at a time, each timed from send to the end of
 * its answer): whether the event loop stays responsive while the run loads it.
 */
export function probeHealth(graphqlUrl: string, everyMs = 200): HealthProbe {
  const url = new URL("/healthz", graphqlUrl);
  const latencies: number[] = [];
  let failed = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        await response.arrayBuffer();
        if (!response.ok) failed++;
      } catch {
        failed++;
      }
      const took = performance.now() - started;
      latencies.push(took);
      if (running) await new Promise((resolve) => setTimeout(resolve, Math.max(0, everyMs - took)));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const stats = latencyStats(latencies.map(Math.round));
      return { probes: latencies.length, p50: stats.p50, p99: stats.p99, max: stats.max, over1s: latencies.filter((l) => l > 1000).length, failed };
    },
  };
}

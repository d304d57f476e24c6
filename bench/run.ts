/** What the runner (bench.ts) hands every scenario: its settings, the processes under test and the probes. */
import type { CompletionWatcher } from "./completions.js";
import type { Fixture } from "./fixture.js";
import type { CpuMeter } from "./measure.js";
import type { BenchService } from "./service.js";

/** The run's settings, from the flags (see `--help`). */
export interface Settings {
  pages: number;
  warmup: number;
  latencyMs: number;
  repeat: number;
  threads: number;
  concurrencyPerThread: number;
  inFlight: number;
  submitUrls: number;
  waiters: number;
  backlog: number;
  drainSeconds: number;
  fixture: "child" | "inproc";
  synchronous: string;
  cpuProf: string | null;
  nodeArgs: string[];
  only: Set<string>;
}

export interface Run {
  settings: Settings;
  service: BenchService;
  fixture: Fixture;
  /** Subscribed to every completion for the whole run. */
  watcher: CompletionWatcher;
  cpu: CpuMeter;
}

import os from "node:os";
import type { Logger } from "../logger.js";
import type { InstanceInfo, InstanceRegistry } from "./instance-registry.js";

export interface InstanceLeaseDeps {
  registry: InstanceRegistry;
  /** Requeues the tasks of instances whose lease has expired (TaskLifecycle.requeueOrphans); returns how many. */
  requeueOrphans: () => Promise<number>;
  /** Tasks in this instance's pool now. */
  inFlight: () => number;
  /**
   * Called after every heartbeat: orphans may have been requeued, or a host held back by another instance's
   * start may have opened again (nothing announces that), so the dispatcher looks for work.
   */
  onHeartbeat: () => void;
  logger: Logger;
}

/**
 * This instance's lease: registered before the first claim (so no other instance takes its claims for
 * orphans), renewed every `heartbeatMs` with its current load, and removed on a clean stop. Each renewal
 * also sweeps for orphans, so the tasks of an instance that died are requeued within about
 * `leaseMs + heartbeatMs`, without any restart.
 */
export class InstanceLease {
  readonly self: InstanceInfo;
  readonly #deps: InstanceLeaseDeps;
  readonly #heartbeatMs: number;
  readonly #leaseMs: number;
  #timer: NodeJS.Timeout | null = null;
  #beat: Promise<void> = Promise.resolve();

  constructor(deps: InstanceLeaseDeps, options: { id: string; threads: number; heartbeatMs: number; leaseMs: number }) {
    this.#deps = deps;
    this.#heartbeatMs = options.heartbeatMs;
    this.#leaseMs = options.leaseMs;
    const now = new Date();
    this.self = { id: options.id, hostName: os.hostname(), pid: process.pid, threads: options.threads, inFlight: 0, startedAt: now, heartbeatAt: now };
  }

  /** Registers this instance; rejects if the database does not take it (the instance must not claim then). */
  async start(): Promise<void> {
    await this.#renew();
    this.#timer = setInterval(() => {
      // One heartbeat at a time: a slow database must not pile them up.
      this.#beat = this.#beat.then(() => this.#heartbeat());
    }, this.#heartbeatMs);
    this.#timer.unref();
  }

  /** Stops renewing and removes the registration (after this instance's claims were released). */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#beat;
    await this.#deps.registry.remove(this.self.id).catch((err: unknown) => {
      this.#deps.logger.warn({ err }, "could not remove this instance's lease; it expires by itself");
    });
  }

  async #renew(): Promise<void> {
    const now = Date.now();
    this.self.inFlight = this.#deps.inFlight();
    this.self.heartbeatAt = new Date(now);
    await this.#deps.registry.renew(this.self, now, this.#leaseMs);
  }

  async #heartbeat(): Promise<void> {
    try {
      await this.#renew();
      const requeued = await this.#deps.requeueOrphans();
      if (requeued > 0) this.#deps.logger.warn({ requeued }, "requeued tasks left running by an instance whose lease expired");
    } catch (err) {
      this.#deps.logger.warn({ err }, "heartbeat failed; retrying at the next one");
    }
    this.#deps.onHeartbeat();
  }
}

/** One crawlq process serving a database, as its last heartbeat described it. */
export interface InstanceInfo {
  id: string;
  hostName: string;
  pid: number;
  threads: number;
  /** Tasks in its pool at its last heartbeat. */
  inFlight: number;
  startedAt: Date;
  heartbeatAt: Date;
}

/**
 * The instances sharing a database, each with a lease it renews. An instance whose lease has expired is
 * dead: the tasks it left RUNNING are requeued by any live instance (TaskStore.requeueOrphans reads the
 * same leases). One implementation per backend, chosen in the composition root.
 */
export interface InstanceRegistry {
  /** Registers or renews `self`: its lease runs until `now + leaseMs`. */
  renew(self: InstanceInfo, now: number, leaseMs: number): Promise<void>;
  /** The instances whose lease has not expired at `now`, oldest first. */
  live(now: number): Promise<InstanceInfo[]>;
  /** A clean stop: the instance is gone at once, nobody waits for its lease. */
  remove(id: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * One process per database (SQLite: the file lock ensures it), so the registry is this process alone and
 * lives in memory.
 */
export class LocalInstanceRegistry implements InstanceRegistry {
  #self: InstanceInfo | null = null;

  async renew(self: InstanceInfo): Promise<void> {
    this.#self = { ...self };
  }

  async live(): Promise<InstanceInfo[]> {
    return this.#self ? [{ ...this.#self }] : [];
  }

  async remove(id: string): Promise<void> {
    if (this.#self?.id === id) this.#self = null;
  }

  async close(): Promise<void> {}
}

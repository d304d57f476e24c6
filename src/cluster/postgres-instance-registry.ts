import type pg from "pg";
import { usePool } from "../tasks/store/postgres/pool.js";
import type { InstanceInfo, InstanceRegistry } from "./instance-registry.js";

type InstanceRow = Omit<InstanceInfo, never> & { leaseExpiresAt: Date };

/** How long a dead instance's row stays (for an operator reading the table after an incident). */
const FORGET_DEAD_AFTER_MS = 24 * 60 * 60 * 1000;

/** The Instance table of a PostgreSQL database shared by several instances. */
export class PostgresInstanceRegistry implements InstanceRegistry {
  readonly #pool: pg.Pool;
  readonly #release: () => Promise<void>;

  /** On a URL (a pool of its own, ended at close) or on a shared pool (left open). */
  constructor(source: string | pg.Pool) {
    ({ pool: this.#pool, release: this.#release } = usePool(source, 2));
  }

  async renew(self: InstanceInfo, now: number, leaseMs: number): Promise<void> {
    await this.#pool.query(
      `INSERT INTO "Instance" (id, "hostName", pid, threads, "inFlight", "startedAt", "heartbeatAt", "leaseExpiresAt")
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (id) DO UPDATE SET threads = EXCLUDED.threads, "inFlight" = EXCLUDED."inFlight",
         "heartbeatAt" = EXCLUDED."heartbeatAt", "leaseExpiresAt" = EXCLUDED."leaseExpiresAt"`,
      [self.id, self.hostName, self.pid, self.threads, self.inFlight, self.startedAt, new Date(now), new Date(now + leaseMs)],
    );
    // Dead instances' rows go after a while (their tasks were requeued long before: that never needs the row).
    await this.#pool.query(`DELETE FROM "Instance" WHERE "leaseExpiresAt" < $1`, [new Date(now - FORGET_DEAD_AFTER_MS)]);
  }

  async live(now: number): Promise<InstanceInfo[]> {
    const { rows } = await this.#pool.query<InstanceRow>(
      `SELECT id, "hostName", pid, threads, "inFlight", "startedAt", "heartbeatAt", "leaseExpiresAt"
         FROM "Instance" WHERE "leaseExpiresAt" > $1 ORDER BY "startedAt", id`,
      [new Date(now)],
    );
    return rows.map(({ leaseExpiresAt: _, ...info }) => info);
  }

  async remove(id: string): Promise<void> {
    await this.#pool.query(`DELETE FROM "Instance" WHERE id = $1`, [id]);
  }

  async close(): Promise<void> {
    await this.#release();
  }
}

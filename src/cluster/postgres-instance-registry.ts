import pg from "pg";
import type { InstanceInfo, InstanceRegistry } from "./instance-registry.js";

type InstanceRow = Omit<InstanceInfo, never> & { leaseExpiresAt: Date };

/** The Instance table of a PostgreSQL database shared by several instances. */
export class PostgresInstanceRegistry implements InstanceRegistry {
  readonly #pool: pg.Pool;

  constructor(databaseUrl: string) {
    // Two connections: a heartbeat never waits behind a `pool` query.
    this.#pool = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: "crawlq-instances" });
    // An idle connection that drops is replaced on the next query; without a listener it would crash the process.
    this.#pool.on("error", () => {});
  }

  async renew(self: InstanceInfo, now: number, leaseMs: number): Promise<void> {
    await this.#pool.query(
      `INSERT INTO "Instance" (id, "hostName", pid, threads, "inFlight", "startedAt", "heartbeatAt", "leaseExpiresAt")
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (id) DO UPDATE SET threads = EXCLUDED.threads, "inFlight" = EXCLUDED."inFlight",
         "heartbeatAt" = EXCLUDED."heartbeatAt", "leaseExpiresAt" = EXCLUDED."leaseExpiresAt"`,
      [self.id, self.hostName, self.pid, self.threads, self.inFlight, self.startedAt, new Date(now), new Date(now + leaseMs)],
    );
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
    await this.#pool.end();
  }
}

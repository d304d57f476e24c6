import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalInstanceRegistry, type InstanceInfo, type InstanceRegistry } from "../../src/cluster/instance-registry.js";
import { PostgresInstanceRegistry } from "../../src/cluster/postgres-instance-registry.js";
import { openPool } from "../../src/tasks/store/postgres/pool.js";
import { dropTemplate, freshPostgres } from "../helpers/postgres.js";

const T0 = Date.parse("2026-11-26T12:00:00.000Z");
const LEASE = 10_000;

function instance(id: string, inFlight = 0): InstanceInfo {
  return { id, hostName: "host-a", pid: 4242, threads: 2, inFlight, startedAt: new Date(T0), heartbeatAt: new Date(T0) };
}

/** What every registry does: the same tests on each backend's. */
function describeRegistry(name: string, open: () => Promise<{ registry: InstanceRegistry; cleanup: () => Promise<void> }>) {
  describe(`InstanceRegistry: ${name}`, () => {
    let registry: InstanceRegistry;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ registry, cleanup } = await open());
    });
    afterEach(() => cleanup());

    it("lists a registered instance while its lease runs, with its last heartbeat's load", async () => {
      await registry.renew(instance("a"), T0, LEASE);
      await registry.renew({ ...instance("a", 7), heartbeatAt: new Date(T0 + 1000) }, T0 + 1000, LEASE);
      expect(await registry.live(T0 + 2000)).toEqual([{ ...instance("a", 7), heartbeatAt: new Date(T0 + 1000) }]);
    });

    it("forgets a removed instance at once", async () => {
      await registry.renew(instance("a"), T0, LEASE);
      await registry.remove("a");
      expect(await registry.live(T0)).toEqual([]);
    });
  });
}

describeRegistry("local (SQLite: one process)", async () => {
  const registry = new LocalInstanceRegistry();
  return { registry, cleanup: () => registry.close() };
});

describe("PostgreSQL", () => {
  afterAll(() => dropTemplate());

  describeRegistry("PostgreSQL", async () => {
    const db = await freshPostgres();
    const registry = new PostgresInstanceRegistry(db.url);
    return { registry, cleanup: async () => (await registry.close(), await db.drop()) };
  });

  it("lists several instances, oldest first, and drops one whose lease expired", async () => {
    const db = await freshPostgres();
    const pool = openPool(db.url, 2);
    const registry = new PostgresInstanceRegistry(pool);
    try {
      await registry.renew(instance("a"), T0, LEASE);
      await registry.renew({ ...instance("b"), startedAt: new Date(T0 + 1) }, T0 + 5000, LEASE);
      expect((await registry.live(T0 + 9_999)).map((i) => i.id)).toEqual(["a", "b"]);
      expect((await registry.live(T0 + 10_000)).map((i) => i.id)).toEqual(["b"]);
      // A day after its lease expired, a dead instance's row is gone at the next renewal.
      const dayLater = T0 + LEASE + 24 * 60 * 60 * 1000 + 1;
      await registry.renew(instance("b"), dayLater, LEASE);
      const { rows } = await pool.query(`SELECT id FROM "Instance" ORDER BY id`);
      expect(rows.map((r) => r.id)).toEqual(["b"]);
    } finally {
      await registry.close();
      await pool.end();
      await db.drop();
    }
  });
});

import type { InstanceInfo } from "../cluster/instance-registry.js";
import { builder } from "./builder.js";

interface PoolStats {
  threads: number;
  concurrencyPerThread: number;
  inFlight: number;
  inFlightLimit: number;
  running: number;
  pending: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  instances: InstanceInfo[];
}

const InstanceRef = builder.objectRef<InstanceInfo>("Instance").implement({
  description:
    "A crawlq process serving the database. With SQLite there is one; on PostgreSQL each instance renews a lease, " +
    "and one whose lease expired is gone (its running tasks run again elsewhere).",
  fields: (t) => ({
    id: t.exposeID("id", { description: "The instance's id: its claims on RUNNING tasks carry it." }),
    hostName: t.exposeString("hostName"),
    threads: t.exposeInt("threads"),
    inFlight: t.exposeInt("inFlight", { description: "Tasks in its pool at its last heartbeat (this instance: now)." }),
    lastHeartbeat: t.field({ type: "DateTime", resolve: (i) => i.heartbeatAt }),
  }),
});

const PoolStatsRef = builder.objectRef<PoolStats>("PoolStats").implement({
  description: "The worker pools of every live instance, summed, and the task counts by status.",
  fields: (t) => ({
    threads: t.exposeInt("threads", { description: "Threads of every live instance." }),
    concurrencyPerThread: t.exposeInt("concurrencyPerThread"),
    inFlight: t.exposeInt("inFlight", { description: "Tasks handed to the pools right now (other instances: at their last heartbeat)." }),
    inFlightLimit: t.exposeInt("inFlightLimit", {
      description:
        "The most tasks the answering instance hands to its pool now: adaptive between CRAWLQ_MIN_IN_FLIGHT and " +
        "CRAWLQ_MAX_IN_FLIGHT_CEILING (following event-loop lag, memory and fetch latency), or CRAWLQ_MAX_IN_FLIGHT when set.",
    }),
    running: t.exposeInt("running"),
    pending: t.exposeInt("pending"),
    succeeded: t.exposeInt("succeeded"),
    failed: t.exposeInt("failed"),
    cancelled: t.exposeInt("cancelled"),
    instances: t.field({ type: [InstanceRef], resolve: (p) => p.instances }),
  }),
});

builder.queryField("pool", (t) =>
  t.field({
    type: PoolStatsRef,
    resolve: async (_root, _args, ctx) => {
      const [counts, instances] = await Promise.all([ctx.service.countByStatus(ctx), ctx.pool.instances()]);
      return {
        threads: instances.reduce((sum, i) => sum + i.threads, 0),
        concurrencyPerThread: ctx.pool.concurrencyPerThread,
        inFlight: instances.reduce((sum, i) => sum + i.inFlight, 0),
        inFlightLimit: ctx.pool.inFlightLimit(),
        running: counts.RUNNING,
        pending: counts.PENDING,
        succeeded: counts.SUCCEEDED,
        failed: counts.FAILED,
        cancelled: counts.CANCELLED,
        instances,
      };
    },
  }),
);

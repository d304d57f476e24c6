import { builder } from "./builder.js";

interface PoolStats {
  threads: number;
  concurrencyPerThread: number;
  inFlight: number;
  running: number;
  pending: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

const PoolStatsRef = builder.objectRef<PoolStats>("PoolStats").implement({
  description: "The worker pool's size and the task counts by status.",
  fields: (t) => ({
    threads: t.exposeInt("threads"),
    concurrencyPerThread: t.exposeInt("concurrencyPerThread"),
    inFlight: t.exposeInt("inFlight", { description: "Tasks handed to the pool right now." }),
    running: t.exposeInt("running"),
    pending: t.exposeInt("pending"),
    succeeded: t.exposeInt("succeeded"),
    failed: t.exposeInt("failed"),
    cancelled: t.exposeInt("cancelled"),
  }),
});

builder.queryField("pool", (t) =>
  t.field({
    type: PoolStatsRef,
    resolve: async (_root, _args, ctx) => {
      const counts = await ctx.service.countByStatus(ctx);
      return {
        threads: ctx.pool.threads,
        concurrencyPerThread: ctx.pool.concurrencyPerThread,
        inFlight: ctx.pool.inFlight(),
        running: counts.RUNNING,
        pending: counts.PENDING,
        succeeded: counts.SUCCEEDED,
        failed: counts.FAILED,
        cancelled: counts.CANCELLED,
      };
    },
  }),
);

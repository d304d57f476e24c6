/**
 * Cross-instance completion latency of the PostgreSQL completion bus: a writer commits completions one
 * statement at a time (as an instance's lifecycle does) and publishes them on its own bus; a second bus
 * (another instance: it reads the rows) and the writer's bus time each delivery. Latency is from just
 * before the UPDATE is sent (autocommit: the statement and its commit) to the listener.
 *
 *   node dist/bench/notify-latency.js [events=2000] [writers=1]
 */
import { pino } from "pino";
import { PostgresCompletionBus } from "../src/tasks/bus/postgres-bus.js";
import type { CompletionBus } from "../src/tasks/completion-bus.js";
import { finishTasks, insertTasks, sqlReader, testPool } from "../test/helpers/pg-completions.js";
import { dropTemplate, freshPostgres } from "../test/helpers/postgres.js";
import { latencyStats } from "./measure.js";

const events = Number(process.argv[2] ?? 2_000);
const writers = Number(process.argv[3] ?? 1);

const database = await freshPostgres();
const db = testPool(database.url);
const logger = pino({ level: "warn" });
// How many of its own completions the writer's bus still had to read (their notification came before publish).
let ownRowsRead = 0;
const reader = sqlReader(db);
const start = (name: string, countReads = false) =>
  PostgresCompletionBus.start({
    databaseUrl: database.url,
    reader: countReads
      ? { ...reader, findByIds: (ids) => ((ownRowsRead += ids.length), reader.findByIds(ids)) }
      : reader,
    logger,
    applicationName: name,
  });
const own = await start("latency-own", true);
const other = await start("latency-other");
try {
  const ids = Array.from({ length: events }, (_, i) => i + 1);
  await insertTasks(db, ids.map((id) => ({ id })));
  const sentAt = new Map<number, number>();
  const timings = { own: [] as number[], other: [] as number[], update: [] as number[] };
  let pending = events * 2;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const time = async (bus: CompletionBus, into: number[]) =>
    bus.subscribe({ kind: "all" }, (task) => {
      into.push(performance.now() - sentAt.get(task.id)!);
      if (--pending === 0) done();
    });
  await time(own, timings.own);
  await time(other, timings.other);
  let next = 0;
  const writer = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      const sent = performance.now();
      sentAt.set(id, sent);
      const rows = await finishTasks(db, [id]);
      timings.update.push(performance.now() - sent);
      own.publish(rows);
    }
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: writers }, writer));
  await finished;
  const seconds = (performance.now() - began) / 1000;
  const round = (stats: ReturnType<typeof latencyStats>) =>
    Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, k === "n" ? v : Math.round(v * 100) / 100]));
  console.log(
    JSON.stringify({
      events,
      writers,
      completionsPerSecond: Math.round(events / seconds),
      otherInstanceMs: round(latencyStats(timings.other)),
      ownInstanceMs: round(latencyStats(timings.own)),
      ownRowsRead,
      // The writer's UPDATE round trip (statement and commit), included in both latencies above.
      updateMs: round(latencyStats(timings.update)),
    }),
  );
} finally {
  await own.close();
  await other.close();
  await db.end();
  await database.drop();
  await dropTemplate();
}

import { LRUCache } from "lru-cache";
import pg from "pg";
import type { Logger } from "../../logger.js";
import type { CompletionBus, CompletionListener, DoneSelection, Unsubscribe, WorkListener } from "../completion-bus.js";
import { ShuttingDownError, toError } from "../errors.js";
import type { Task } from "../task.js";
import { TERMINAL_STATUSES } from "../task-state.js";
import { InProcessCompletionBus } from "./in-process-bus.js";

/** The channels the migration's triggers notify (prisma/postgres/migrations/…_init). */
const DONE_CHANNEL = "crawlq_done";
const WORK_CHANNEL = "crawlq_work";

/** What the bus reads of the store, in every scope (the composition root passes the store's ALL_TASKS reads). */
export interface CompletionReader {
  /** The tasks among `ids`, in any order. */
  findByIds(ids: readonly number[]): Promise<Task[]>;
  /** Terminal tasks with finishedAt >= `since`, in (finishedAt, id) order, at most `limit`. */
  listFinishedSince(since: number, limit: number): Promise<Task[]>;
}

/** How the bus watches its connection, comes back after a drop and catches up. */
export interface PostgresBusTiming {
  /** How often the listening connection is checked with a query. */
  keepaliveMs: number;
  /** How long that query may take before the connection counts as dropped. */
  keepaliveTimeoutMs: number;
  /** First wait before reconnecting (and before retrying a failed read); doubled each time up to the max. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /**
   * The catch-up after a reconnect reads from the newest finishedAt delivered minus this much: room for
   * clock skew between instances and for writes that committed later than their finishedAt says.
   */
  catchUpMarginMs: number;
  /** Rows per catch-up read. */
  catchUpPageSize: number;
  /** How long a row published by this instance stays cached for its own notification. */
  publishedTtlMs: number;
}

/** A drop is noticed within about 8 s at worst (at once when the socket reports it); reconnects back off to 5 s. */
export const DEFAULT_POSTGRES_BUS_TIMING: PostgresBusTiming = {
  keepaliveMs: 5_000,
  keepaliveTimeoutMs: 3_000,
  reconnectMinMs: 100,
  reconnectMaxMs: 5_000,
  catchUpMarginMs: 10_000,
  catchUpPageSize: 1_000,
  publishedTtlMs: 30_000,
};

/** What PostgresCompletionBus.start needs; the composition root passes the store's reads with ALL_TASKS. */
export interface PostgresBusOptions {
  databaseUrl: string;
  reader: CompletionReader;
  logger: Logger;
  timing?: Partial<PostgresBusTiming>;
  /** The listening connection's application_name (pg_stat_activity shows it). */
  applicationName?: string;
}

// Ids delivered recently, so a task is never delivered twice: a notification that overlaps a catch-up read,
// or a catch-up that re-reads its margin. Must outlast the margin at the highest completion rate: 100,000 ids
// cover 10 s at 10,000 completions/s.
const DELIVERED_IDS_KEPT = 100_000;
const PUBLISHED_ROWS_KEPT = 20_000;

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_STATUSES);

/**
 * The completion bus of several instances sharing one PostgreSQL database. The database announces every
 * committed terminal write on `crawlq_done` (task ids, sent by a trigger in the committing transaction, so
 * in commit order); each instance LISTENs on its own connection, reads the rows and fans them out to its
 * subscribers through an InProcessCompletionBus. This instance's own completions take the same path, so
 * every subscriber sees the cluster's completions in one order, each once; `publish` only keeps the rows
 * it is given for a while, so their notification needs no read.
 *
 * A dropped listening connection (noticed by its 'error'/'end' or by a keepalive query that fails or
 * times out) is re-established with backoff; before live notifications resume, a catch-up read delivers
 * what committed meanwhile. `subscribe` resolves only while the LISTEN is live.
 */
export class PostgresCompletionBus implements CompletionBus {
  readonly #local = new InProcessCompletionBus();
  readonly #work = new Set<WorkListener>();
  readonly #options: PostgresBusOptions;
  readonly #timing: PostgresBusTiming;
  readonly #log: Logger;
  readonly #delivered = new LRUCache<number, true>({ max: DELIVERED_IDS_KEPT });
  readonly #published: LRUCache<number, Task>;

  // Ids notified and not yet delivered, in commit order. While a catch-up runs, new ones wait in #held.
  #queue: number[] = [];
  #held: number[] | null = null;
  #drainScheduled = false;
  // Drains and catch-ups run one after the other, so completions are delivered in the order they committed.
  #serial: Promise<void> = Promise.resolve();

  #live = false;
  #closed = false;
  #liveWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  #supervising: Promise<void> = Promise.resolve();
  #current: Listening | null = null;
  readonly #sleepers = new Set<() => void>();
  // The newest finishedAt delivered (at first, the time the LISTEN went live): where a catch-up starts.
  #lastSeenFinishedAt = 0;

  private constructor(options: PostgresBusOptions) {
    this.#options = options;
    this.#timing = { ...DEFAULT_POSTGRES_BUS_TIMING, ...options.timing };
    this.#log = options.logger;
    this.#published = new LRUCache({ max: PUBLISHED_ROWS_KEPT, ttl: this.#timing.publishedTtlMs });
  }

  /** A bus whose LISTEN is live; rejects when the first connection fails (later drops are reconnected). */
  static async start(options: PostgresBusOptions): Promise<PostgresCompletionBus> {
    const bus = new PostgresCompletionBus(options);
    const first = await bus.#listen();
    bus.#lastSeenFinishedAt = Date.now();
    bus.#supervising = bus.#supervise(first);
    return bus;
  }

  /** Keeps the committed rows briefly, so the notification of their commit needs no read. */
  publish(tasks: readonly Task[]): void {
    for (const task of tasks) if (!this.#delivered.has(task.id)) this.#published.set(task.id, task);
  }

  async subscribe(selection: DoneSelection, listener: CompletionListener): Promise<Unsubscribe> {
    while (!this.#live) {
      if (this.#closed) throw new ShuttingDownError();
      await new Promise<void>((resolve, reject) => this.#liveWaiters.push({ resolve, reject }));
    }
    return this.#local.subscribe(selection, listener);
  }

  /** Fires on `crawlq_work` (tasks became PENDING anywhere) and after each batch of delivered completions. */
  onWork(listener: WorkListener): Unsubscribe {
    const own = () => listener();
    this.#work.add(own);
    return () => void this.#work.delete(own);
  }

  subscriptionCount(): number {
    return this.#local.subscriptionCount();
  }

  /** Ends the listening connection and the timers; subscribers still waiting for a live LISTEN get a ShuttingDownError. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#live = false;
    for (const waiter of this.#liveWaiters.splice(0)) waiter.reject(new ShuttingDownError());
    for (const wake of this.#sleepers) wake();
    this.#current?.drop(new Error("closed"));
    await this.#supervising;
    await this.#serial;
    this.#work.clear();
    await this.#local.close();
  }

  /** Opens a listening connection; rejects if it cannot be opened. */
  async #listen(): Promise<Listening> {
    const client = new pg.Client({
      connectionString: this.#options.databaseUrl,
      application_name: this.#options.applicationName ?? "crawlq-bus",
      keepAlive: true,
    });
    let drop!: (reason: Error) => void;
    const dropped = new Promise<Error>((resolve) => (drop = resolve));
    // Handlers first: an 'error' without one would crash the process. Either event may come alone.
    client.on("error", drop);
    client.on("end", () => drop(new Error("the listening connection ended")));
    client.on("notification", (message) => this.#notified(message));
    try {
      await client.connect();
      await client.query(`LISTEN ${DONE_CHANNEL}; LISTEN ${WORK_CHANNEL}`);
      return { client, dropped, drop };
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
  }

  /** Until close: waits for the connection to drop, then reconnects (with backoff) and catches up. */
  async #supervise(first: Listening): Promise<void> {
    let listening: Listening | null = first;
    let failures = 0;
    while (!this.#closed) {
      if (listening) {
        this.#current = listening;
        this.#live = true;
        for (const waiter of this.#liveWaiters.splice(0)) waiter.resolve();
        failures = 0;
        const reason = await this.#keptAlive(listening);
        this.#live = false;
        this.#current = null;
        if (this.#closed) break;
        // Dead or hung: a graceful goodbye could wait on a socket that never answers.
        listening.client.connection.stream.destroy();
        this.#log.warn({ err: reason }, "completion bus: the listening connection dropped; reconnecting");
      }
      listening = null;
      await this.#sleep(this.#backoff(failures));
      if (this.#closed) break;
      // Notifications on the new connection wait until the catch-up has delivered what committed before them.
      this.#held = [];
      try {
        listening = await this.#listen();
      } catch (error) {
        failures++;
        this.#held = null;
        this.#log.warn({ err: toError(error), attempt: failures }, "completion bus: reconnecting failed; trying again");
        continue;
      }
      this.#current = listening;
      let caughtUp = 0;
      try {
        caughtUp = await this.#inTurn(() => this.#catchUp());
      } catch {
        break; // closed during the catch-up (failed reads are retried)
      } finally {
        this.#queue.push(...(this.#held ?? []));
        this.#held = null;
        this.#scheduleDrain();
      }
      this.#log.warn({ caughtUp }, "completion bus: listening again after a catch-up read");
    }
    this.#live = false;
    if (listening) await listening.client.end().catch(() => {});
  }

  /** Checks the connection with a query now and then; resolves with the reason once it is gone. */
  async #keptAlive(listening: Listening): Promise<Error> {
    const { keepaliveMs, keepaliveTimeoutMs } = this.#timing;
    let checking = false;
    const keepalive = setInterval(() => {
      if (checking) return;
      checking = true;
      const timer = setTimeout(() => listening.drop(new Error(`keepalive query took over ${keepaliveTimeoutMs} ms`)), keepaliveTimeoutMs);
      listening.client.query("SELECT 1").then(
        () => {
          clearTimeout(timer);
          checking = false;
        },
        (error: unknown) => {
          clearTimeout(timer);
          listening.drop(toError(error));
        },
      );
    }, keepaliveMs);
    try {
      return await listening.dropped;
    } finally {
      clearInterval(keepalive);
    }
  }

  #notified(message: pg.Notification): void {
    if (message.channel === WORK_CHANNEL) {
      this.#wakeWork();
      return;
    }
    if (message.channel !== DONE_CHANNEL || !message.payload) return;
    const ids = message.payload.split(",").map(Number);
    if (this.#held) this.#held.push(...ids);
    else {
      this.#queue.push(...ids);
      this.#scheduleDrain();
    }
  }

  // Notifications that arrive in the same turn of the event loop are read together.
  #scheduleDrain(): void {
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    setImmediate(() => {
      this.#drainScheduled = false;
      void this.#inTurn(() => this.#drain());
    });
  }

  /** Runs `step` after every drain and catch-up before it. */
  #inTurn<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(step);
    this.#serial = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Delivers the queued ids in order: rows published here from the cache, the others in one read. */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#closed) {
      const ids = this.#queue.filter((id) => !this.#delivered.has(id));
      this.#queue = [];
      const rows = new Map<number, Task>();
      const missing: number[] = [];
      for (const id of ids) {
        const row = this.#published.get(id);
        if (row) rows.set(id, row);
        else missing.push(id);
      }
      if (missing.length > 0) {
        const read = await this.#retrying(() => this.#options.reader.findByIds(missing));
        if (read === null) return;
        for (const row of read) rows.set(row.id, row);
      }
      this.#deliver(ids.flatMap((id) => rows.get(id) ?? []));
    }
  }

  /**
   * Delivers, in (finishedAt, id) order, every completion since the newest one seen (less the margin) that
   * was not delivered yet; returns how many. Ids received before the drop go first.
   */
  async #catchUp(): Promise<number> {
    await this.#drain();
    const { catchUpPageSize, catchUpMarginMs } = this.#timing;
    let since = this.#lastSeenFinishedAt - catchUpMarginMs;
    let limit = catchUpPageSize;
    let delivered = 0;
    for (;;) {
      const from = since;
      const page = await this.#retrying(() => this.#options.reader.listFinishedSince(from, limit));
      if (page === null) throw new ShuttingDownError();
      delivered += this.#deliver(page);
      if (page.length < limit) return delivered;
      const last = page.at(-1)!.finishedAt!.getTime();
      // A full page of one instant cannot move `since` on: read a larger one.
      if (last === since) limit *= 2;
      else [since, limit] = [last, catchUpPageSize];
    }
  }

  /** Hands the tasks not delivered yet to the subscribers, in order; returns how many. */
  #deliver(tasks: readonly Task[]): number {
    let delivered = 0;
    for (const task of tasks) {
      if (this.#delivered.has(task.id) || !TERMINAL.has(task.status)) continue;
      this.#delivered.set(task.id, true);
      this.#published.delete(task.id);
      const finishedAt = task.finishedAt?.getTime() ?? 0;
      if (finishedAt > this.#lastSeenFinishedAt) this.#lastSeenFinishedAt = finishedAt;
      try {
        this.#local.publish([task]);
      } catch (error) {
        this.#log.error({ err: toError(error), taskId: task.id }, "completion bus: a subscriber threw");
      }
      delivered++;
    }
    if (delivered > 0) this.#wakeWork();
    return delivered;
  }

  #wakeWork(): void {
    for (const listener of this.#work) {
      try {
        listener();
      } catch (error) {
        this.#log.error({ err: toError(error) }, "completion bus: a work listener threw");
      }
    }
  }

  /** A store read, retried with backoff until it succeeds; null once the bus is closed. */
  async #retrying<T>(read: () => Promise<T>): Promise<T | null> {
    for (let failures = 0; !this.#closed; failures++) {
      try {
        return await read();
      } catch (error) {
        this.#log.warn({ err: toError(error), attempt: failures + 1 }, "completion bus: reading completions failed; retrying");
        await this.#sleep(this.#backoff(failures));
      }
    }
    return null;
  }

  #backoff(failures: number): number {
    const { reconnectMinMs, reconnectMaxMs } = this.#timing;
    const base = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** failures);
    // Jitter, so instances cut off together do not all come back in the same millisecond.
    return base / 2 + Math.random() * (base / 2);
  }

  /** Waits `ms`, or less if the bus closes meanwhile. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }
}

/** A listening connection and how it ends: an 'error', an 'end', a failed keepalive, or close. */
interface Listening {
  client: pg.Client;
  dropped: Promise<Error>;
  drop(reason: Error): void;
}

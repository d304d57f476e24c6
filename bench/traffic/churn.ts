/**
 * Clients that come and go, for the soak run: `taskDone` subscriptions that live a while and then leave
 * cleanly (unsubscribe) or abruptly (socket destroyed mid-stream), unless their stream completes first;
 * and blocking `result(id)` calls, some aborted mid-wait. Each ends in a tally of what it saw.
 */
import { Agent } from "undici";
import { requestResult } from "../completions.js";
import { describeError, subscribe, type Selection, type Subscriber, type Transport } from "./subscribers.js";

/** What the churned clients did and found, all together. */
export interface ChurnStats {
  opened: Record<Transport, number>;
  /** Streams the server completed (finite selections), and of those how many held exactly their tasks. */
  completed: number;
  completedExact: number;
  /** Subscriptions we left by unsubscribing, and by destroying the socket. */
  leftClean: number;
  leftAbrupt: number;
  /** Over completed streams: expected tasks that never arrived. */
  missing: number;
  /** Over every subscription: deliveries of a task beyond its first, and of a task it did not select (completed ones). */
  duplicates: number;
  unexpected: number;
  /** Errors no leave of ours explains, and the first few of them. */
  errors: number;
  firstErrors: string[];
  calls: number;
  /** Calls answered with their own task SUCCEEDED, answered otherwise, aborted by us, failed otherwise. */
  callsRight: number;
  callsWrong: number;
  callsAborted: number;
  callsFailed: number;
}

const newStats = (): ChurnStats => ({
  opened: { ws: 0, sse: 0 },
  completed: 0,
  completedExact: 0,
  leftClean: 0,
  leftAbrupt: 0,
  missing: 0,
  duplicates: 0,
  unexpected: 0,
  errors: 0,
  firstErrors: [],
  calls: 0,
  callsRight: 0,
  callsWrong: 0,
  callsAborted: 0,
  callsFailed: 0,
});

/** How one churned subscription goes: what it selects, what it should get, how long it stays, how it leaves. */
export interface SubscriptionPlan {
  transport: Transport;
  selection: Selection;
  /** The task ids of a finite selection (checked when the stream completes); null for every completion. */
  expected: number[] | null;
  lifetimeMs: number;
  abrupt: boolean;
}

/** The soak's coming-and-going clients, and what they found. */
export class Churn {
  readonly stats = newStats();
  readonly #url: string;
  readonly #open = new Set<Subscriber>();
  readonly #calls = new Set<Promise<void>>();
  readonly #callAgent = new Agent();

  constructor(url: string) {
    this.#url = url;
  }

  /** Subscriptions open now. */
  get openSubscriptions(): number {
    return this.#open.size;
  }
  /** result(id) calls in progress. */
  get openCalls(): number {
    return this.#calls.size;
  }

  /** Opens one subscription that leaves as planned unless its stream completes first. */
  subscribe(plan: SubscriptionPlan): void {
    const subscriber = subscribe(plan.transport, this.#url, plan.selection);
    this.stats.opened[plan.transport]++;
    this.#open.add(subscriber);
    const timer = setTimeout(() => this.#leave(subscriber, plan.abrupt), plan.lifetimeMs);
    void subscriber.ended.then(() => {
      clearTimeout(timer);
      this.#open.delete(subscriber);
      this.#settle(subscriber, plan.expected);
    });
  }

  /** One result(id) call on a task that takes a while; aborted after `abortAfterMs` unless null. */
  call(id: string, abortAfterMs: number | null, timeoutMs: number): void {
    this.stats.calls++;
    const controller = new AbortController();
    const timer = abortAfterMs === null ? null : setTimeout(() => controller.abort(), abortAfterMs);
    const call = requestResult(this.#url, id, { dispatcher: this.#callAgent, timeoutMs, signal: controller.signal })
      .then(
        ({ event }) => void (event.id === id && event.status === "SUCCEEDED" ? this.stats.callsRight++ : this.stats.callsWrong++),
        (error: Error) => {
          if (controller.signal.aborted) this.stats.callsAborted++;
          else this.#failed(`result(${id}): ${error.message}`, "call");
        },
      )
      .finally(() => {
        if (timer) clearTimeout(timer);
        this.#calls.delete(call);
      });
    this.#calls.add(call);
  }

  /** Resolves once every call in progress has ended. */
  async callsSettled(): Promise<void> {
    await Promise.all([...this.#calls]);
  }

  /** Unsubscribes everything still open (cleanly), waits for the streams to end, and closes the call agent. */
  async close(): Promise<void> {
    const open = [...this.#open];
    await Promise.all(open.map((s) => this.#leave(s, false)));
    await this.#callAgent.destroy();
  }

  async #leave(subscriber: Subscriber, abrupt: boolean): Promise<void> {
    if (!this.#open.has(subscriber)) return;
    this.#open.delete(subscriber);
    if (abrupt) {
      this.stats.leftAbrupt++;
      subscriber.destroy();
    } else {
      this.stats.leftClean++;
      await subscriber.close();
    }
  }

  /** Adds what an ended subscription saw to the stats. */
  #settle(subscriber: Subscriber, expected: number[] | null): void {
    for (const error of subscriber.errors) this.#failed(describeError(error), subscriber.transport);
    if (subscriber.completed && expected !== null) {
      const check = subscriber.tally.check(expected);
      this.stats.completed++;
      if (check.missing + check.duplicates + check.unexpected === 0) this.stats.completedExact++;
      this.stats.missing += check.missing;
      this.stats.duplicates += check.duplicates;
      this.stats.unexpected += check.unexpected;
    } else {
      this.stats.duplicates += subscriber.tally.duplicates();
    }
  }

  #failed(message: string, where: string): void {
    if (where === "call") this.stats.callsFailed++;
    else this.stats.errors++;
    if (this.stats.firstErrors.length < 5) this.stats.firstErrors.push(`${where}: ${message.slice(0, 200)}`);
  }
}

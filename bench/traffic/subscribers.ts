/**
 * `taskDone` subscribers over graphql-ws (one WebSocket each) and over SSE (graphql-sse, distinct
 * connections mode, one HTTP connection each), that count what they receive by task id, and can leave
 * cleanly (unsubscribe) or abruptly (their socket destroyed mid-stream).
 */
import { createClient as createSseClient } from "graphql-sse";
import type { ExecutionResult, Sink } from "graphql-ws";
import { Agent, fetch } from "undici";
import type WebSocket from "ws";
import { wsClient } from "../../testkit/graphql-client.js";
import { benchUrls, submit } from "../completions.js";
import { pollUntil } from "../measure.js";

const TASK_DONE = `subscription ($ids: [ID!], $submissionId: ID) { taskDone(ids: $ids, submissionId: $submissionId) { id status finishedAt } }`;

/** graphql-ws over a WebSocket, or Server-Sent Events (graphql-sse). */
export type Transport = "ws" | "sse";

/** What a subscriber asks for: a list of task ids, one submission, or (neither) every completion. */
export type Selection = { kind: "ids"; ids: string[] } | { kind: "submission"; submissionId: string } | { kind: "all" };

/** One `taskDone` message as the subscribers select it. */
export interface DoneMessage {
  id: string;
  status: string;
  finishedAt: string;
}

/** Called for each message, with its receipt time (Date.now()). */
export type OnDone = (message: DoneMessage, at: number) => void;

/** What a tally found against the ids that should have arrived, each once. */
export interface TallyCheck {
  /** Expected ids that never arrived. */
  missing: number;
  /** Deliveries of an expected id beyond its first. */
  duplicates: number;
  /** Deliveries of ids that were not expected. */
  unexpected: number;
}

/** How many times each task id arrived: a byte per id (ids are small positive integers), saturating at 255. */
export class IdTally {
  #counts = new Uint8Array(1024);
  /** Every delivery, duplicates included. */
  total = 0;

  /** Counts one delivery of `id`. */
  add(id: number): void {
    if (id >= this.#counts.length) {
      const grown = new Uint8Array(Math.max(id + 1, this.#counts.length * 2));
      grown.set(this.#counts);
      this.#counts = grown;
    }
    if (this.#counts[id]! < 255) this.#counts[id]!++;
    this.total++;
  }

  /** Deliveries of `id` so far (at most 255). */
  count(id: number): number {
    return this.#counts[id] ?? 0;
  }

  /** Compares with `expected` (distinct ids). */
  check(expected: readonly number[]): TallyCheck {
    let missing = 0;
    let delivered = 0;
    for (const id of expected) {
      const n = this.count(id);
      if (n === 0) missing++;
      delivered += n;
    }
    return { missing, duplicates: delivered - (expected.length - missing), unexpected: this.total - delivered };
  }

  /** Ids that arrived more than once, whichever they are. */
  duplicates(): number {
    let extra = 0;
    for (const n of this.#counts) if (n > 1) extra += n - 1;
    return extra;
  }
}

/** A readable line for what a stream failed with: an Error, a socket's close event, or GraphQL errors. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message.slice(0, 300);
  if (error && typeof error === "object" && "code" in error && "reason" in error) {
    return `socket closed: ${String(error.code)} ${String(error.reason)}`;
  }
  try {
    return JSON.stringify(error).slice(0, 300);
  } catch {
    return String(error).slice(0, 300);
  }
}

/** One open `taskDone` subscription and what it has received. */
export interface Subscriber {
  readonly transport: Transport;
  readonly selection: Selection;
  readonly tally: IdTally;
  /** Messages whose status was not SUCCEEDED. */
  notSucceeded: number;
  /** Errors from the stream, except those that follow our own close or destroy. */
  readonly errors: unknown[];
  /** True once the server has completed the stream (finite selections do after their last task). */
  readonly completed: boolean;
  /** Resolves when the stream completes, fails, or is closed or destroyed. */
  readonly ended: Promise<void>;
  /** Unsubscribes, then closes the connection. */
  close(): Promise<void>;
  /** Destroys the socket under the client library, as a crashed client or a dropped network would. */
  destroy(): void;
}

/** A connection carrying one subscription: how to leave it cleanly, and how to drop it. */
interface Connection {
  close(): Promise<void>;
  destroy(): void;
}

function variablesOf(selection: Selection): Record<string, unknown> {
  if (selection.kind === "ids") return { ids: selection.ids };
  if (selection.kind === "submission") return { submissionId: selection.submissionId };
  return {};
}

/** Opens one subscriber over `transport`; `onDone` sees every message it receives. */
export function subscribe(transport: Transport, url: string, selection: Selection, onDone: OnDone = () => {}): Subscriber {
  let leaving = false;
  let completed = false;
  let markEnded!: () => void;
  const ended = new Promise<void>((resolve) => (markEnded = resolve));
  const subscriber = {
    transport,
    selection,
    tally: new IdTally(),
    notSucceeded: 0,
    errors: [] as unknown[],
    get completed() {
      return completed;
    },
    ended,
  };
  const sink: Sink<ExecutionResult<{ taskDone: DoneMessage }>> = {
    next: (value) => {
      const at = Date.now();
      const message = value.data?.taskDone;
      if (value.errors?.length || !message) return void subscriber.errors.push(value.errors ?? value);
      subscriber.tally.add(Number(message.id));
      if (message.status !== "SUCCEEDED") subscriber.notSucceeded++;
      onDone(message, at);
    },
    error: (error) => {
      if (!leaving) subscriber.errors.push(error);
      markEnded();
    },
    complete: () => {
      completed = !leaving;
      markEnded();
    },
  };
  const open = transport === "ws" ? openWs : openSse;
  const connection = open(url, variablesOf(selection), sink);
  return Object.assign(subscriber, {
    async close() {
      leaving = true;
      await connection.close();
      markEnded();
    },
    destroy() {
      leaving = true;
      connection.destroy();
      markEnded();
    },
  });
}

/** graphql-ws on a WebSocket of its own (the client is lazy: it connects for the subscription, closes after it). */
function openWs(url: string, variables: Record<string, unknown>, sink: Sink<ExecutionResult<{ taskDone: DoneMessage }>>): Connection {
  const client = wsClient(url);
  let socket: WebSocket | null = null;
  client.on("connected", (s) => (socket = s as WebSocket));
  const unsubscribe = client.subscribe({ query: TASK_DONE, variables }, sink);
  return {
    async close() {
      unsubscribe();
      await client.dispose();
    },
    destroy() {
      // terminate() destroys the TCP socket: no close frame, no "complete" message.
      socket?.terminate();
      void client.dispose();
    },
  };
}

/**
 * graphql-sse in distinct connections mode, over undici's fetch with an Agent of its own, so that its
 * connection can be destroyed without the library's knowledge.
 */
function openSse(url: string, variables: Record<string, unknown>, sink: Sink<ExecutionResult<{ taskDone: DoneMessage }>>): Connection {
  const agent = new Agent();
  const client = createSseClient({
    url,
    singleConnection: false,
    retryAttempts: 0,
    fetchFn: (input: string, init: Record<string, unknown>) => fetch(input, { ...init, dispatcher: agent }),
  });
  const release = () => {
    client.dispose();
    void agent.destroy();
  };
  const unsubscribe = client.subscribe({ query: TASK_DONE, variables }, {
    next: (value) => sink.next(value as ExecutionResult<{ taskDone: DoneMessage }>),
    error: (error) => {
      sink.error(error);
      release();
    },
    complete: () => {
      sink.complete();
      release();
    },
  });
  return {
    async close() {
      // Unsubscribing aborts the request: the connection goes with it.
      unsubscribe();
      release();
    },
    // The library learns of it as a failed read (an error the subscriber ignores), then lets go.
    destroy: () => void agent.destroy(),
  };
}

/** Every message all subscribers received since the last reset: how many, when the last came, notify latencies. */
export class DeliveryLog {
  messages = 0;
  /** Date.now() of the last message, 0 before the first. */
  lastAt = 0;
  /** Receipt − finishedAt of each message, in ms. */
  latencies: number[] = [];

  /** An OnDone that records into this log. */
  readonly record: OnDone = (message, at) => {
    this.messages++;
    this.lastAt = at;
    this.latencies.push(at - Date.parse(message.finishedAt));
  };

  reset(): void {
    this.messages = 0;
    this.lastAt = 0;
    this.latencies = [];
  }
}

/**
 * Shows that `subscribers` (unfiltered) are live: submits one probe page and waits (at most 60 s) until
 * each has received it, or failed. Resolves with the probe's task id.
 */
export async function proveLive(url: string, origins: readonly string[], subscribers: readonly Subscriber[]): Promise<number> {
  const probe = await submit(url, benchUrls(origins, 1).map((p) => p.url));
  const probeId = Number(probe.ids[0]);
  const live = () => subscribers.filter((s) => s.tally.count(probeId) > 0 || s.errors.length > 0).length;
  await pollUntil("every unfiltered subscriber receiving the probe", 60_000, () => live() === subscribers.length, {
    describe: () => `${live()} of ${subscribers.length}`,
  });
  return probeId;
}

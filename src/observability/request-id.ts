import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

// The id of the request being served, carried along its async work (pino's mixin and errorMasker read it).
const requestIds = new AsyncLocalStorage<string | undefined>();

/** A fresh request id (a UUID). */
export function newRequestId(): string {
  return randomUUID();
}

/** The id of the HTTP request or WebSocket operation being served here, if any. */
export function currentRequestId(): string | undefined {
  return requestIds.getStore();
}

/** Runs `fn`, and the async work it starts, under request id `id`. */
export function withRequestId<T>(id: string, fn: () => T): T {
  return requestIds.run(id, fn);
}

/**
 * Runs `fn` outside any request: work it starts that outlives the request (the dispatcher woken by a
 * submission) is not logged under that request's id.
 */
export function outsideRequest<T>(fn: () => T): T {
  return requestIds.run(undefined, fn);
}

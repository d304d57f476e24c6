import type { TaskService } from "../tasks/task-service.js";

/** Who is calling. Empty for now: API keys fill it, and the store scopes reads and writes by it. */
export type Caller = null;

/** What every resolver gets; built afresh per HTTP request and per WebSocket/SSE operation. */
export interface GraphQLContext {
  service: TaskService;
  pool: { threads: number; concurrencyPerThread: number; inFlight: () => number };
  caller: Caller;
  /** Aborts when the client goes away (HTTP request closed, WebSocket closed): waits end with it. */
  signal: AbortSignal;
}

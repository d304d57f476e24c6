import type { TaskService } from "../tasks/task-service.js";

/** What every resolver gets, over HTTP, SSE and WebSocket alike. */
export interface GraphQLContext {
  service: TaskService;
  pool: { threads: number; concurrencyPerThread: number; inFlight: () => number };
}

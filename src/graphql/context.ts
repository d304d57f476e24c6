import type { TaskService } from "../tasks/task-service.js";

import type { Caller } from "../auth/api-keys.js";
import type { InstanceInfo } from "../cluster/instance-registry.js";

/** What every resolver gets; built afresh per HTTP request and per WebSocket/SSE operation. */
export interface GraphQLContext {
  service: TaskService;
  pool: {
    concurrencyPerThread: number;
    /** This instance's in-flight limit now (adaptive, or CRAWLQ_MAX_IN_FLIGHT). */
    inFlightLimit: () => number;
    /** The live instances serving the database (this one with its current load), oldest first. */
    instances: () => Promise<InstanceInfo[]>;
  };
  /** The API key the request presented; null when the service has no keys. The store scopes reads by it. */
  caller: Caller | null;
  /** Aborts when the client goes away (HTTP request closed, WebSocket closed): waits end with it. */
  signal: AbortSignal;
  /** This request's (or WebSocket operation's) id, for log lines and masked errors (extensions.requestId). */
  requestId: string;
}

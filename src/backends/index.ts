import type { Config } from "../config.js";
import type { Backend } from "./backend.js";
import { postgresBackend } from "./postgres.js";
import { sqliteBackend } from "./sqlite.js";

export type { Backend, Backends, BackendLock } from "./backend.js";

/** The backend DATABASE_URL names (config validated the scheme): the one place that asks. */
export function backendFor(config: Config): Backend {
  return config.databaseUrl.startsWith("file:") ? sqliteBackend(config) : postgresBackend(config);
}

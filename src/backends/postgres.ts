import type { Config } from "../config.js";
import type { Backend } from "./backend.js";

/** PostgreSQL: several instances on one database. (Being built: the store and the bus land next.) */
export function postgresBackend(_config: Config): Backend {
  throw new Error("the PostgreSQL backend is not available in this build yet");
}

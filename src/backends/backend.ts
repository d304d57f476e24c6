import type { KeyStore } from "../auth/api-keys.js";
import type { InstanceRegistry } from "../cluster/instance-registry.js";
import type { Logger } from "../logger.js";
import type { CompletionBus } from "../tasks/completion-bus.js";
import type { TaskStore } from "../tasks/task-store.js";

/** The implementations of one database backend, as the composition root receives them. */
export interface Backends {
  store: TaskStore;
  bus: CompletionBus;
  keys: KeyStore;
  instances: InstanceRegistry;
}

/** Held while this process uses the database; see Backend.lock. */
export interface BackendLock {
  release(): void;
}

/**
 * A database engine crawlq runs on: what the process does before serving (lock, exposure check, migrate)
 * and the implementations it then serves with. One per engine in this folder; `backendFor` picks one from
 * DATABASE_URL, and nothing outside this folder asks which engine it is.
 */
export interface Backend {
  /** One line for the logs, e.g. "SQLite file /data/crawlq.db". */
  readonly description: string;
  /** Before anything touches the database: what this process must hold (SQLite: its one-process file lock). */
  lock(): Promise<BackendLock>;
  /** Whether any API key is active, read before migrations and without changing anything (false on a new database). */
  anyActiveKeys(): Promise<boolean>;
  /** Applies pending migrations (safe beside running instances). */
  migrate(): Promise<void>;
  /** The migrated database's store, bus, key store and instance registry. */
  open(logger: Logger): Promise<Backends>;
  /** Only the key store (the CLI's `keys` commands), migrating first if the database predates keys. */
  openKeys(): Promise<KeyStore>;
}

import { afterAll, beforeAll } from "vitest";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { startService, tempDatabase, type RunningService } from "./service.js";

/** The real service and the fixture site one test file runs against. */
export interface ServiceWithSite {
  readonly service: RunningService;
  readonly site: FixtureSite;
}

/**
 * Starts the fixture site and the real service (on a fresh temp database, with `env`) before the file's
 * tests, and stops both and removes the database after them. Call it at the top of the file; read
 * `service` and `site` in tests and hooks, once they are started.
 */
export function serviceWithSite(env: Record<string, string> = {}): ServiceWithSite {
  const db = tempDatabase();
  let service: RunningService | undefined;
  let site: FixtureSite | undefined;
  beforeAll(async () => {
    site = await startFixtureSite();
    service = await startService(db.url, env);
  });
  afterAll(async () => {
    await service?.stop();
    await site?.close();
    db.remove();
  });
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not started yet: read it in a test or a hook`);
    return value;
  };
  return {
    get service() {
      return started(service, "the service");
    },
    get site() {
      return started(site, "the fixture site");
    },
  };
}

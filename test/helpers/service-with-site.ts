import { afterAll, beforeAll } from "vitest";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { databaseFor, SQLITE, type TestBackend } from "./backends.js";
import { startService, type RunningService } from "./service.js";

/** The real service and the fixture site one test file runs against. */
export interface ServiceWithSite {
  readonly service: RunningService;
  readonly site: FixtureSite;
}

/**
 * Starts the fixture site and the real service (on a fresh database of `backend`, with `env`) before the
 * tests of the enclosing describe (or file), and stops both and removes the database after them. Call it
 * at the top of the file or of a `describe.each(TEST_BACKENDS)` body; read `service` and `site` in tests
 * and hooks, once they are started.
 */
export function serviceWithSite(env: Record<string, string> = {}, backend: TestBackend = SQLITE): ServiceWithSite {
  const db = databaseFor(backend);
  let service: RunningService | undefined;
  let site: FixtureSite | undefined;
  beforeAll(async () => {
    site = await startFixtureSite();
    service = await startService(db().url, env);
  });
  afterAll(async () => {
    await service?.stop();
    await site?.close();
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

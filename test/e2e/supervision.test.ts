import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { tempDatabase, TEST_ENV } from "../helpers/service.js";
import { alive, childrenOf, gone, spawnService } from "../helpers/spawned.js";

// What a supervisor (systemd, a container runtime, a shell's Ctrl-C) does: signal the process it started and
// wait for it. `npm start` used to run node under `sh -c`, which died of SIGTERM and left node running.

const projectRoot = fileURLToPath(new URL("../../../", import.meta.url));
const cliJs = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

describe("stopping the service through what starts it", () => {
  const db = tempDatabase();
  const env = { ...process.env, ...TEST_ENV, LOG_LEVEL: "info", PORT: "0", HOST: "127.0.0.1", DATABASE_URL: db.url };
  afterAll(() => db.remove());

  const starters: Array<[string, string, string[]]> = [
    ["npm start", "npm", ["start"]],
    ["crawlq serve", process.execPath, [cliJs, "serve"]],
  ];
  for (const [name, command, args] of starters) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      it(`${name}: ${signal} to it stops the service gracefully, exit code 0, no process left`, async () => {
        const started = await spawnService(command, args, { cwd: projectRoot, env });
        const pid = started.child.pid!;
        // Everything below the process the supervisor knows: the service's node, and anything between.
        const descendants = (of: number): number[] => childrenOf(of).flatMap((c) => [c, ...descendants(c)]);
        const below = descendants(pid);
        try {
          expect(below.length).toBeGreaterThan(0);
          started.child.kill(signal);
          expect(await started.exited).toBe(0);
          expect(started.output()).toMatch(new RegExp(`"signal":"${signal}","msg":"shutting down"`));
          for (const child of below) await gone(child);
        } finally {
          // A failure must not leave a service holding the database's lock for the next case.
          for (const child of below.filter(alive)) process.kill(child, "SIGKILL");
        }
      });
    }
  }
});

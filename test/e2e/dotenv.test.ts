import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { TEST_ENV } from "../helpers/service.js";
import { spawnService } from "../helpers/spawned.js";

const mainJs = fileURLToPath(new URL("../../src/main.js", import.meta.url));

describe(".env in the working directory", () => {
  const cwd = mkdtempSync(path.join(tmpdir(), "crawlq-cwd-"));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it("is read at start, and a real environment variable wins over it", async () => {
    writeFileSync(
      path.join(cwd, ".env"),
      ["# set here only", "DATABASE_URL=file:./from-dotenv.db", "CRAWLQ_MAX_URL_LENGTH=100", "# also set for real", "CRAWLQ_THREADS=3", ""].join("\n"),
    );
    const env: NodeJS.ProcessEnv = { ...process.env, ...TEST_ENV, PORT: "0", HOST: "127.0.0.1", CRAWLQ_THREADS: "1" };
    delete env.DATABASE_URL;
    delete env.CRAWLQ_MAX_URL_LENGTH;
    // The service finds its own files (migrations, worker) from where it is installed, not from the cwd.
    const service = await spawnService(process.execPath, [mainJs], { cwd, env });
    try {
      const post = async (query: string) =>
        (await fetch(service.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query }) })).json() as Promise<any>;
      expect((await post("{ pool { threads } }")).data.pool.threads).toBe(1);
      const long = `http://127.0.0.1/${"a".repeat(120)}`;
      const refused = await post(`mutation { submitCrawl(urls: ["${long}"]) { id } }`);
      expect(refused.errors[0].extensions.code).toBe("BAD_USER_INPUT");
      expect(existsSync(path.join(cwd, "from-dotenv.db"))).toBe(true);
    } finally {
      service.child.kill("SIGTERM");
      expect(await service.exited).toBe(0);
    }
  });
});

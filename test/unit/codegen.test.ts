import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const codegenBin = fileURLToPath(new URL("../../../node_modules/@graphql-codegen/cli/esm/bin.js", import.meta.url));

it("src/client/generated/ is what codegen makes of schema.graphql and the operations (run npm run codegen)", () => {
  // Check mode generates in memory and exits 1, naming the files, when any committed file differs.
  const run = spawnSync(process.execPath, [codegenBin, "--config", "codegen.ts", "--check"], { cwd: root, encoding: "utf8" });
  expect(`${run.stdout}${run.stderr}`).not.toMatch(/stale files/);
  expect(run.status).toBe(0);
}, 60_000);

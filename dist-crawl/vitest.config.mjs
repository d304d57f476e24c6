import { defineConfig } from "vitest/config";
export default defineConfig({
  root: "/work/main",
  test: { include: ["dist-crawl/test/**/*.test.js"], testTimeout: 30_000, hookTimeout: 30_000, maxWorkers: 2 },
});

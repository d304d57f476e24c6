import { defineConfig } from "vitest/config";

// Tests run from the compiled tree (npm test builds first) because pool worker threads load plain JS.
export default defineConfig({
  test: {
    include: ["dist/test/**/*.test.js"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file starts real servers and worker threads; two at a time suits a 2-core machine.
    maxWorkers: 2,
  },
});

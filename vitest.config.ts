import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

// Tests run from the compiled tree (npm test builds first) because pool worker threads load plain JS.
export default defineConfig({
  resolve: {
    // One graphql for everything, as under plain Node: vite would otherwise pick graphql's ESM build for our
    // modules while Pothos and Yoga (loaded by Node) get its CommonJS build, and a schema from one is
    // "from another realm" for the other.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve("graphql") }],
  },
  test: {
    include: ["dist/test/**/*.test.js"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file starts real servers and worker threads; two at a time suits a 2-core machine.
    maxWorkers: 2,
  },
});

import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

// The dashboard (index.html) and GraphiQL's page template (graphiql.html, filled in by the service), built
// into dist/web, which the service serves at /.
export default defineConfig({
  root: here("."),
  base: "/",
  publicDir: false,
  logLevel: "warn",
  build: {
    outDir: here("../dist/web"),
    emptyOutDir: true,
    target: "es2022",
    rolldownOptions: { input: { index: here("index.html"), graphiql: here("graphiql.html") } },
  },
});

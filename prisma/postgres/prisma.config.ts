import path from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import { defineConfig } from "prisma/config";

// The PostgreSQL schema's config (`prisma generate --config prisma/postgres/prisma.config.ts`). The JS
// engine through @prisma/adapter-pg: nothing downloaded. Migrations are applied by the service itself (see
// src/tasks/store/postgres/migrate.ts): `prisma migrate deploy` through the adapter cannot read PostgreSQL's
// `name` columns (prisma/orm issue 27403).
process.env.DATABASE_URL ??= "postgresql://127.0.0.1:5432/crawlq";

export default defineConfig({
  engine: "js",
  experimental: { adapter: true },
  schema: path.join(import.meta.dirname, "schema.prisma"),
  migrations: { path: path.join(import.meta.dirname, "migrations") },
  async adapter() {
    return new PrismaPg({ connectionString: process.env.DATABASE_URL! });
  },
});

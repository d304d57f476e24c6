import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../..");
const MIGRATIONS_DIR = path.join(projectRoot, "prisma", "migrations");

/**
 * Applies pending migrations to the SQLite file at `databaseUrl` with the Prisma CLI (JS engine, no
 * download), creating its folder first. When every migration is already applied, as at nearly every
 * start, the CLI is not run at all: starting it is a Node process of its own and most of a restart's
 * time (about 1.5–3 s on two busy cores).
 */
export function migrateSqlite(databaseUrl: string): void {
  const file = databaseUrl.slice("file:".length);
  if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
  if (file !== ":memory:" && everyMigrationApplied(file)) return;
  const prismaCli = createRequire(import.meta.url).resolve("prisma/build/index.js");
  execFileSync(process.execPath, [prismaCli, "migrate", "deploy"], {
    cwd: projectRoot,
    env: { ...process.env, DATABASE_URL: databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/**
 * True when Prisma's `_prisma_migrations` table records every migration of prisma/migrations as applied
 * (finished, not rolled back) with the checksum Prisma gives it (SHA-256 of the file). Anything else (no
 * file, no table, a migration missing, failed or changed) is left to the CLI, which applies or reports it.
 */
function everyMigrationApplied(file: string): boolean {
  if (!existsSync(file)) return false;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const rows = db
      .prepare<[], { migration_name: string; checksum: string }>(
        `SELECT migration_name, checksum FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
      )
      .all();
    const applied = new Map(rows.map((r) => [r.migration_name, r.checksum]));
    const names = readdirSync(MIGRATIONS_DIR, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    return names.every((name) => {
      const sql = readFileSync(path.join(MIGRATIONS_DIR, name, "migration.sql"));
      return applied.get(name) === createHash("sha256").update(sql).digest("hex");
    });
  } catch {
    return false;
  } finally {
    db?.close();
  }
}

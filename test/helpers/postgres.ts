import { randomBytes } from "node:crypto";
import type pg from "pg";
import { withPgClient } from "../../testkit/postgres.js";
import { migratePostgres } from "../../src/tasks/store/postgres/migrate.js";

/**
 * The PostgreSQL server the tests use (every development and CI machine runs one; see .ci/run). A test
 * that needs it fails when it is not there: it never skips.
 */
export const POSTGRES_TEST_URL = process.env.CRAWLQ_TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";

export interface FreshPostgres {
  /** postgresql://…/crawlq_t_… : a database of its own, migrated. */
  url: string;
  /** Drops the database (closing whatever is still connected to it). */
  drop: () => Promise<void>;
}

function urlOf(database: string): string {
  const url = new URL(POSTGRES_TEST_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  return withPgClient(POSTGRES_TEST_URL, fn);
}

/** The database `name` as a FreshPostgres: its URL, and a drop that also closes what is still connected. */
function database(name: string): FreshPostgres {
  return {
    url: urlOf(name),
    drop: () => admin(async (c) => void (await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))),
  };
}

const RUN = `${process.pid}_${randomBytes(3).toString("hex")}`;
let databases = 0;
let template: Promise<string> | undefined;

/**
 * A fresh, migrated database. The first call in a process migrates a template database; every call then
 * copies it (`CREATE DATABASE … TEMPLATE`, a file copy: tens of milliseconds).
 */
export async function freshPostgres(): Promise<FreshPostgres> {
  template ??= (async () => {
    const name = `crawlq_t_${RUN}_template`;
    await admin((c) => c.query(`CREATE DATABASE "${name}"`));
    await migratePostgres(urlOf(name));
    return name;
  })();
  const from = await template;
  const name = `crawlq_t_${RUN}_${++databases}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${from}"`));
  return database(name);
}

/** An empty database, not migrated (for the migration tests). */
export async function emptyPostgres(): Promise<FreshPostgres> {
  const name = `crawlq_t_${RUN}_${++databases}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  return database(name);
}

/** Drops the template when the process is done with it (call from a file's afterAll, or leave it: see below). */
export async function dropTemplate(): Promise<void> {
  if (!template) return;
  const name = await template;
  template = undefined;
  await database(name).drop();
}

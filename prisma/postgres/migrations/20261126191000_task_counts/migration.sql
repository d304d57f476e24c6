-- Task counts by owner and status, kept by the database itself so `pool` and /metrics read a few rows
-- instead of counting the whole table (a GROUP BY over a million-task backlog takes most of a second).
-- Every write to "Task" (the store's statements, an operator's DELETE) moves the counts in its own
-- transaction, through the statement-level triggers below: one upsert per statement, whatever its size.
--
-- Sharded by the writing backend, so instances never wait on each other's counter rows: a statement
-- adds its deltas to the rows of its own connection ("shard" = pg_backend_pid()), which no other
-- transaction writes, so there is neither a hot row nor a lock-order deadlock between writers. A read
-- sums every shard. crawlq_fold_task_counts() moves the rows of backends that are gone into shard 0
-- (run by the store now and then), so the table holds a few rows per live connection.
-- ownerKey: the task's ownerKeyId, 0 for none (key ids start at 1), so the primary key has no NULL.
CREATE TABLE "TaskCount" (
    "shard" INTEGER NOT NULL,
    "ownerKey" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "n" BIGINT NOT NULL,

    CONSTRAINT "TaskCount_pkey" PRIMARY KEY ("shard", "ownerKey", "status")
);

-- No task write may slip between the count below and the triggers (reads go on).
LOCK TABLE "Task" IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO "TaskCount" ("shard", "ownerKey", "status", "n")
SELECT 0, COALESCE("ownerKeyId", 0), "status", count(*) FROM "Task" GROUP BY 2, 3;

CREATE FUNCTION "crawlq_count_inserted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "TaskCount" ("shard", "ownerKey", "status", "n")
  SELECT pg_backend_pid(), COALESCE("ownerKeyId", 0), "status", count(*) FROM new_rows GROUP BY 2, 3 ORDER BY 2, 3
  ON CONFLICT ("shard", "ownerKey", "status") DO UPDATE SET "n" = "TaskCount"."n" + EXCLUDED."n";
  RETURN NULL;
END $$;

-- The net change of the statement per (owner, status): rows whose status did not move cancel out.
CREATE FUNCTION "crawlq_count_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "TaskCount" ("shard", "ownerKey", "status", "n")
  SELECT pg_backend_pid(), d.owner, d.status, sum(d.n)
    FROM (SELECT COALESCE("ownerKeyId", 0) AS owner, "status", 1 AS n FROM new_rows
          UNION ALL
          SELECT COALESCE("ownerKeyId", 0), "status", -1 FROM old_rows) d
   GROUP BY 2, 3 HAVING sum(d.n) <> 0 ORDER BY 2, 3
  ON CONFLICT ("shard", "ownerKey", "status") DO UPDATE SET "n" = "TaskCount"."n" + EXCLUDED."n";
  RETURN NULL;
END $$;

CREATE FUNCTION "crawlq_count_deleted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "TaskCount" ("shard", "ownerKey", "status", "n")
  SELECT pg_backend_pid(), COALESCE("ownerKeyId", 0), "status", -count(*) FROM old_rows GROUP BY 2, 3 ORDER BY 2, 3
  ON CONFLICT ("shard", "ownerKey", "status") DO UPDATE SET "n" = "TaskCount"."n" + EXCLUDED."n";
  RETURN NULL;
END $$;

CREATE TRIGGER "Task_count_insert" AFTER INSERT ON "Task"
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "crawlq_count_inserted"();

CREATE TRIGGER "Task_count_update" AFTER UPDATE ON "Task"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "crawlq_count_updated"();

CREATE TRIGGER "Task_count_delete" AFTER DELETE ON "Task"
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "crawlq_count_deleted"();

-- Folds the shards of backends that are no longer connected into shard 0; returns the rows folded. The
-- rows are taken SKIP LOCKED and the folds of several instances are one at a time (a try-lock: a fold
-- already under way is enough), so a fold never waits for a writer and never deadlocks with one. Sums are
-- unchanged by a fold, and a read sees it whole or not at all.
CREATE FUNCTION "crawlq_fold_task_counts"() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  folded integer;
BEGIN
  IF NOT pg_try_advisory_xact_lock(7412191) THEN
    RETURN 0;
  END IF;
  WITH gone AS (
    SELECT c."shard", c."ownerKey", c."status" FROM "TaskCount" c
     WHERE c."shard" <> 0 AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = c."shard")
     FOR UPDATE SKIP LOCKED
  ), deleted AS (
    DELETE FROM "TaskCount" c USING gone g
     WHERE c."shard" = g."shard" AND c."ownerKey" = g."ownerKey" AND c."status" = g."status"
    RETURNING c."ownerKey", c."status", c."n"
  )
  INSERT INTO "TaskCount" ("shard", "ownerKey", "status", "n")
  SELECT 0, "ownerKey", "status", sum("n") FROM deleted GROUP BY 2, 3 ORDER BY 2, 3
  ON CONFLICT ("shard", "ownerKey", "status") DO UPDATE SET "n" = "TaskCount"."n" + EXCLUDED."n";
  GET DIAGNOSTICS folded = ROW_COUNT;
  RETURN folded;
END $$;

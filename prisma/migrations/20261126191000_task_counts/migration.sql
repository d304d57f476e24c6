-- Task counts by owner and status, kept in the database so `pool` and /metrics read a few rows instead of
-- counting the whole table (a GROUP BY over a million-task backlog blocks the event loop for 65–270 ms).
-- Every status move and every delete (the store's statements, an operator's purge) moves the counts in the
-- same transaction, through the triggers below. Inserts are counted by the store itself, once per
-- submission in the transaction that inserts its tasks (SqliteTaskStore.createSubmission): a row trigger
-- on INSERT doubled the cost of a submission (10,000 URLs: 155 → 380 ms), so whatever else inserts tasks
-- must add them to "TaskCount" likewise (the benchmark's direct fill does).
-- ownerKey: the task's ownerKeyId, 0 for none (key ids start at 1), so the primary key has no NULL.
CREATE TABLE "TaskCount" (
    "ownerKey" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "n" INTEGER NOT NULL,
    PRIMARY KEY ("ownerKey", "status")
) WITHOUT ROWID;

INSERT INTO "TaskCount" ("ownerKey", "status", "n")
SELECT COALESCE("ownerKeyId", 0), "status", COUNT(*) FROM "Task" GROUP BY 1, 2;

-- Only writes that move a task between counts: claims, ends, retries, requeues (not a row's other columns).
CREATE TRIGGER "Task_count_update" AFTER UPDATE OF "status", "ownerKeyId" ON "Task"
  WHEN OLD."status" IS NOT NEW."status" OR OLD."ownerKeyId" IS NOT NEW."ownerKeyId"
BEGIN
  UPDATE "TaskCount" SET "n" = "n" - 1 WHERE "ownerKey" = COALESCE(OLD."ownerKeyId", 0) AND "status" = OLD."status";
  INSERT INTO "TaskCount" ("ownerKey", "status", "n") VALUES (COALESCE(NEW."ownerKeyId", 0), NEW."status", 1)
    ON CONFLICT ("ownerKey", "status") DO UPDATE SET "n" = "n" + 1;
END;

CREATE TRIGGER "Task_count_delete" AFTER DELETE ON "Task"
BEGIN
  UPDATE "TaskCount" SET "n" = "n" - 1 WHERE "ownerKey" = COALESCE(OLD."ownerKeyId", 0) AND "status" = OLD."status";
END;

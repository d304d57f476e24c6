-- Submission options live in one place: maxRetries moves from every Task row to its Submission.
ALTER TABLE "Submission" ADD COLUMN "maxRetries" INTEGER NOT NULL DEFAULT 2;
UPDATE "Submission" SET "maxRetries" = COALESCE(
  (SELECT "maxRetries" FROM "Task" WHERE "Task"."submissionId" = "Submission"."id" LIMIT 1), 2);
ALTER TABLE "Task" DROP COLUMN "maxRetries";

-- The instance holding a RUNNING task's claim (terminal writes are fenced by it).
ALTER TABLE "Task" ADD COLUMN "claimedBy" TEXT;

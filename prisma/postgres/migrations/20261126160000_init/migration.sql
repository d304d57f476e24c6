-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "admin" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" TIMESTAMPTZ(3),

    CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Submission" (
    "id" SERIAL NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ownerKeyId" INTEGER,
    "maxRetries" INTEGER NOT NULL DEFAULT 2,
    "perHostConcurrency" INTEGER NOT NULL,
    "hostDelayMs" INTEGER NOT NULL DEFAULT 0,
    "respectRobots" BOOLEAN NOT NULL DEFAULT true,

    CONSTRAINT "Submission_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Task" (
    "id" SERIAL NOT NULL,
    "submissionId" INTEGER NOT NULL,
    "ownerKeyId" INTEGER,
    "url" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "claimedBy" TEXT,
    "runAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "worker" INTEGER,
    "httpStatus" INTEGER,
    "finalUrl" TEXT,
    "contentType" TEXT,
    "contentLength" INTEGER,
    "title" TEXT,
    "linkCount" INTEGER,
    "fetchMs" DOUBLE PRECISION,
    "parseMs" DOUBLE PRECISION,
    "errorCode" TEXT,
    "errorMessage" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "Task_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Instance" (
    "id" TEXT NOT NULL,
    "hostName" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "threads" INTEGER NOT NULL,
    "inFlight" INTEGER NOT NULL DEFAULT 0,
    "startedAt" TIMESTAMPTZ(3) NOT NULL,
    "heartbeatAt" TIMESTAMPTZ(3) NOT NULL,
    "leaseExpiresAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Instance_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_name_key" ON "ApiKey"("name");

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_hash_key" ON "ApiKey"("hash");

-- CreateIndex
CREATE INDEX "Task_status_id_idx" ON "Task"("status", "id");

-- CreateIndex
CREATE INDEX "Task_status_runAt_idx" ON "Task"("status", "runAt");

-- CreateIndex
CREATE INDEX "Task_submissionId_id_idx" ON "Task"("submissionId", "id");

-- CreateIndex
CREATE INDEX "Task_ownerKeyId_status_idx" ON "Task"("ownerKeyId", "status");

-- CreateIndex
CREATE INDEX "Task_status_host_idx" ON "Task"("status", "host");

-- CreateIndex
CREATE INDEX "Task_host_startedAt_idx" ON "Task"("host", "startedAt");

-- CreateIndex
CREATE INDEX "Task_finishedAt_idx" ON "Task"("finishedAt");

-- AddForeignKey
ALTER TABLE "Task" ADD CONSTRAINT "Task_submissionId_fkey" FOREIGN KEY ("submissionId") REFERENCES "Submission"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- Completion events for every instance (src/tasks/bus/postgres-bus.ts). Sent by the database in the
-- transaction that commits the terminal write, so an event exists exactly when the write committed, and
-- listeners receive them in commit order. The payload is task ids (comma-separated, at most 500 a
-- notification, well under PostgreSQL's 8000-byte limit); listeners read the rows themselves.
CREATE FUNCTION "crawlq_notify_done"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  chunk text;
BEGIN
  FOR chunk IN
    SELECT string_agg(done.id::text, ',' ORDER BY done.id)
      FROM (SELECT n.id, (row_number() OVER (ORDER BY n.id) - 1) / 500 AS part
              FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE n.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
               AND o.status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')) AS done
     GROUP BY done.part ORDER BY done.part
  LOOP
    PERFORM pg_notify('crawlq_done', chunk);
  END LOOP;
  RETURN NULL;
END $$;

CREATE TRIGGER "Task_notify_done" AFTER UPDATE ON "Task"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "crawlq_notify_done"();

-- Work for every instance's dispatcher: tasks were submitted or became PENDING again (a retry, a requeue).
-- PostgreSQL folds identical notifications of one transaction into one.
CREATE FUNCTION "crawlq_notify_work"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE status = 'PENDING') THEN
    PERFORM pg_notify('crawlq_work', '');
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "Task_notify_work_insert" AFTER INSERT ON "Task"
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "crawlq_notify_work"();

CREATE TRIGGER "Task_notify_work_update" AFTER UPDATE ON "Task"
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "crawlq_notify_work"();

-- CreateTable
CREATE TABLE "Submission" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "perHostConcurrency" INTEGER NOT NULL,
    "hostDelayMs" INTEGER NOT NULL DEFAULT 0,
    "respectRobots" BOOLEAN NOT NULL DEFAULT true
);

-- CreateTable
CREATE TABLE "Task" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "submissionId" INTEGER NOT NULL,
    "url" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "maxRetries" INTEGER NOT NULL DEFAULT 2,
    "runAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "worker" INTEGER,
    "httpStatus" INTEGER,
    "finalUrl" TEXT,
    "contentType" TEXT,
    "contentLength" INTEGER,
    "title" TEXT,
    "linkCount" INTEGER,
    "fetchMs" REAL,
    "parseMs" REAL,
    "errorCode" TEXT,
    "errorMessage" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "Task_submissionId_fkey" FOREIGN KEY ("submissionId") REFERENCES "Submission" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "Task_status_id_idx" ON "Task"("status", "id");

-- CreateIndex
CREATE INDEX "Task_status_runAt_idx" ON "Task"("status", "runAt");

-- CreateIndex
CREATE INDEX "Task_submissionId_id_idx" ON "Task"("submissionId", "id");

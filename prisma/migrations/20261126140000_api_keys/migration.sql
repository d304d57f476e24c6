-- API keys: only the SHA-256 of a key is stored.
CREATE TABLE "ApiKey" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "admin" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" DATETIME
);
CREATE UNIQUE INDEX "ApiKey_name_key" ON "ApiKey"("name");
CREATE UNIQUE INDEX "ApiKey_hash_key" ON "ApiKey"("hash");

-- Every submission and task belongs to the key that submitted it (null: submitted while there were no keys).
ALTER TABLE "Submission" ADD COLUMN "ownerKeyId" INTEGER;
ALTER TABLE "Task" ADD COLUMN "ownerKeyId" INTEGER;
CREATE INDEX "Task_ownerKeyId_status_idx" ON "Task"("ownerKeyId", "status");

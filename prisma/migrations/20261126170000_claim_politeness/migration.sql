-- The claim's politeness across the cluster (TaskStore.claim): tasks RUNNING per host, and a host's latest start.
-- CreateIndex
CREATE INDEX "Task_status_host_idx" ON "Task"("status", "host");

-- CreateIndex
CREATE INDEX "Task_host_startedAt_idx" ON "Task"("host", "startedAt");


-- The claim shares its slots between submissions (fewest RUNNING first), then round-robin by host within a
-- submission (TaskStore.claim): the submissions with PENDING tasks and each one's hosts by loose index scans,
-- the RUNNING tasks per submission, and a submission's runnable tasks on a host in id order, all on one index.
-- (status, host) stays: a host's RUNNING tasks over every submission are counted on it.

-- CreateIndex
CREATE INDEX "Task_status_submissionId_host_id_idx" ON "Task"("status", "submissionId", "host", "id");

-- The claim walks hosts, not rows (TaskStore.claim): a host's runnable tasks in (hostRank, id) order, hostRank
-- being the task's position among its submission's URLs on that host. Existing rows rank 0: on each host they
-- keep their id order. The new index leads with (status, host), so that index goes.
-- DropIndex
DROP INDEX "Task_status_host_idx";

-- AlterTable
ALTER TABLE "Task" ADD COLUMN     "hostRank" INTEGER NOT NULL DEFAULT 0;

-- CreateIndex
CREATE INDEX "Task_status_host_hostRank_id_idx" ON "Task"("status", "host", "hostRank", "id");

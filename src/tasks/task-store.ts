import type { PageResult, Submission, SubmissionOptions, Task, TaskError } from "./task.js";
import type { TaskStatus } from "./task-state.js";
import type { CheckedUrl } from "./validate-urls.js";

/** A PENDING task the claim may start, with its submission's options (the dispatcher's politeness needs them). */
export interface ClaimCandidate {
  id: number;
  url: string;
  host: string;
  options: SubmissionOptions;
}

export interface ClaimRequest {
  /** The instance taking the claims; terminal writes are fenced by it. */
  owner: string;
  /** Most tasks to claim. */
  limit: number;
  now: number;
  /**
   * The operator's cap on tasks RUNNING per host (CRAWLQ_PER_HOST_CONCURRENCY, which bounds every
   * submission's perHostConcurrency): the claim reads at most this many minus those running of a host's
   * tasks. Default: no cap but `limit`.
   */
  hostCap?: number;
  /** Hosts none of whose tasks may start now: the store does not even read them. */
  skipHosts: ReadonlySet<string>;
  /**
   * A delay between starts on the candidate's host that this instance knows of beyond its submission's
   * hostDelayMs (robots.txt Crawl-delay): the claim holds the host to the larger of the two, cluster-wide.
   * Default: none.
   */
  knownHostDelayMs?: (candidate: ClaimCandidate) => number;
  /**
   * Asked for each runnable candidate the cluster's politeness allows (see TaskStore.claim), in the
   * claim's order, inside the claim: true claims it. Synchronous, so the decision and the write are one
   * step (this instance's politeness slots and robots.txt are decided here; see Dispatcher).
   */
  admit: (candidate: ClaimCandidate) => boolean;
}

/** A task just claimed (now RUNNING, `attempts` counting this attempt), with its submission's options. */
export interface ClaimedTask {
  task: Task;
  options: SubmissionOptions;
}

/**
 * How one attempt ended, named after the transition it makes. `attempt` is the task's `attempts` when it
 * was claimed: with the owner it fences the write, so a claim that was lost (requeued meanwhile, claimed
 * again) can never overwrite a result.
 */
export type AttemptOutcome = { id: number; attempt: number; worker: number | null } & (
  | { kind: "succeed"; page: PageResult }
  /** `attemptMade: false` when the attempt was refused before any request: it is not counted. */
  | { kind: "fail"; error: TaskError; attemptMade: boolean }
  | { kind: "retryLater"; error: TaskError; runAt: number }
);

/**
 * Whose tasks a read sees: every task (no keys, or an admin key), or those of one key. Reads take it
 * explicitly; writes by id come after a scoped read (the service) or from the dispatcher's own claims.
 */
export type TaskScope = { kind: "all" } | { kind: "owner"; keyId: number };

export const ALL_TASKS: TaskScope = { kind: "all" };

export interface TaskPage {
  scope: TaskScope;
  status?: TaskStatus;
  /** Only this submission's tasks. */
  submissionId?: number;
  first: number;
  afterId?: number;
}

/**
 * Where tasks live: the queue and the results. Every status write is one conditional write built from
 * TRANSITIONS (the row must still be in a `from` state) and returns the rows it changed, so the lifecycle
 * publishes exactly what committed. Callers use TaskLifecycle for writes; reads may come straight here.
 *
 * One implementation per backend under store/; the contract suite in test/in-process/store-contract
 * pins the behaviour every implementation must have.
 */
export interface TaskStore {
  /** The submission and every task (INITIAL_STATUS) in one transaction, owned by `ownerKeyId`; tasks in input order. */
  createSubmission(urls: readonly CheckedUrl[], options: SubmissionOptions, now: number, ownerKeyId: number | null): Promise<Submission>;
  /** The tasks in `scope` that exist among `ids`, in any order. */
  findByIds(ids: readonly number[], scope: TaskScope): Promise<Task[]>;
  /** Every task of the submission in id order; null when there is no such submission in `scope`. */
  findBySubmission(submissionId: number, scope: TaskScope): Promise<Task[] | null>;
  /** Keyset pagination in id (submission) order, optionally of one status or one submission. */
  listTasks(page: TaskPage): Promise<Task[]>;
  countByStatus(scope: TaskScope): Promise<Record<TaskStatus, number>>;
  /**
   * Terminal tasks (every scope) whose finishedAt is at or after `since`, in (finishedAt, id) order, at
   * most `limit`: a cross-process completion bus's catch-up read after its event connection dropped.
   */
  listFinishedSince(since: number, limit: number): Promise<Task[]>;
  /** Earliest time a PENDING task that is not runnable yet (retry backoff) becomes runnable, or null. */
  nextRunAt(now: number): Promise<number | null>;

  /**
   * Finds runnable tasks (PENDING, runAt reached, host not skipped; at most `limit`) and claims
   * (PENDING → RUNNING) those `admit` accepts, atomically: no attempt is ever handed to two claimers,
   * whatever process they run in.
   *
   * Order: max-min fair share between submissions, round-robin by host within a submission. The claim
   * hands out its slots one at a time, each to the submission with PENDING tasks that has the fewest
   * RUNNING (in the whole database, plus those taken in this claim; ties: the older submission); a
   * submission none of whose hosts can start a task now drops out of the claim. Within a submission it
   * walks the submission's hosts that have PENDING tasks (in host order, from where this store's previous
   * claim of that submission stopped, wrapping around), not the rows: each host offers its next task (in
   * id order), then the walk moves on; a host offers a second task in the same claim only once every host
   * of the submission has had its turn. A claim costs the submissions with PENDING tasks, the hosts it
   * visits and the rows it reads (at most `hostCap` minus those running per host), not the backlog.
   *
   * Cluster politeness is part of the claim: every store sharing the database is held to it together. A
   * candidate is offered to `admit` only if
   * - RUNNING tasks of its host (in the whole database) plus those claimed for the host in this batch are
   *   fewer than its submission's perHostConcurrency, and
   * - when its host has a delay (the larger of its submission's hostDelayMs and `knownHostDelayMs`), the
   *   latest start of any task of its host is at least that delay before `now`, and no task of the host
   *   was claimed in this batch.
   * Other candidates stay PENDING, unoffered, and the claim goes on with other hosts' tasks (up to
   * `limit`). Concurrent claims (several stores on one database) are serialised for this, so the counts
   * they see are exact (claim-politeness.ts has the rule).
   */
  claim(request: ClaimRequest): Promise<ClaimedTask[]>;
  /** Records many attempt ends in one transaction, each fenced by owner and attempt; returns the rows written, in order. */
  finishAttempts(owner: string, outcomes: readonly AttemptOutcome[], now: number): Promise<Task[]>;
  /** PENDING → FAILED without an attempt. */
  reject(ids: readonly number[], error: TaskError, now: number): Promise<Task[]>;
  /** PENDING → CANCELLED; null when the task was not PENDING. */
  cancel(id: number, now: number): Promise<Task | null>;
  /** RUNNING → PENDING for `owner`'s claims: the given ids, or all of them. Returns how many. */
  requeue(owner: string, ids?: readonly number[]): Promise<number>;
  /** RUNNING → PENDING for claims whose owner is no longer alive (`liveOwner` is this instance). */
  requeueOrphans(liveOwner: string): Promise<number>;

  /** Resolves when the database answers (readiness); rejects with why it does not. */
  ping(): Promise<void>;
  /** Statements issued per operation since open (diagnostics for the benchmark). */
  statementCounts(): Record<string, number>;
  close(): Promise<void>;
}

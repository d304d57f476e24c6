import type { ClaimCandidate, ClaimRequest } from "../task-store.js";

/** What the claim knows of one host across the whole database: tasks RUNNING on it, and its latest start. */
export interface HostLoad {
  running: number;
  /** The latest startedAt of any of its tasks (epoch ms), or null. */
  lastStartedAt: number | null;
}

/** A submission with PENDING tasks, and its tasks RUNNING in the whole database (every owner). */
export interface SubmissionLoad {
  submissionId: number;
  running: number;
}

/** A host the store read for a submission: its load (every submission's tasks) and the submission's runnable tasks on it. */
export interface HostVisit {
  host: string;
  load: HostLoad;
  /** In id order, at most the read's `rows` and the operator's cap minus the host's running (see rowsFor). */
  candidates: readonly ClaimCandidate[];
  /** 1: a host of the wrap-around (HostRead.wrapThrough); 0 or absent: of the stretch asked. */
  lap?: 0 | 1;
}

/**
 * A read the claim asks of the store: the next `hosts` hosts (not among skipHosts) with PENDING tasks of
 * submission `submissionId`, in host order after `after` ("": from the first), up to and including
 * `through` (null: to the last), each as a HostVisit with at most rowsFor(load, rows) candidates.
 * When `wrapThrough` is given, the read goes on past the last host from the first one, up to and including
 * `wrapThrough` (the walk wrapping around to where it started), those hosts marked lap 1. Fewer hosts than
 * asked means the stretch (and the wrap-around, when asked) is read to its end.
 */
export interface HostRead {
  submissionId: number;
  after: string;
  through: string | null;
  wrapThrough: string | null;
  hosts: number;
  /** Tasks the claim still takes when it asks: no host's candidates need be more. */
  rows: number;
}

/** A visited host, `next` its first candidate not offered yet. */
interface Visited extends HostVisit {
  next: number;
}

/** Hosts a submission's first read asks for at least, and at most per read (each read doubles the last). */
const MIN_HOSTS = 4;
const MAX_HOSTS = 1_024;

/**
 * One submission's turn-taking within a claim: round-robin over its hosts with PENDING tasks, in host
 * order from the cursor the store keeps for it (where its previous claim stopped), wrapping around once.
 * A host offers one task a turn; only once the walk has been round every host does a host offer its
 * second task (in the same order), then its third.
 */
class SubmissionTurns {
  readonly id: number;
  /** Its tasks RUNNING in the database plus those admitted in this claim: the claim's water level. */
  level: number;
  /** True once none of its hosts can take a task now: it takes no further turn in this claim. */
  out = false;
  readonly #ranges: { after: string; through: string | null }[];
  #range: { after: string; through: string | null } | null = null;
  /** Where the next read of the current stretch starts, and whether that stretch is read to its end. */
  #readAfter = "";
  #rangeEnded = false;
  #batch: number;
  readonly #buffer: Visited[] = [];
  readonly #visited: Visited[] = [];
  #first: string | null = null;
  #last: string | null = null;
  #walkedRound = false;
  #later = 0;

  constructor(load: SubmissionLoad, cursor: string | null, batch: number) {
    this.id = load.submissionId;
    this.level = load.running;
    this.#batch = batch;
    this.#ranges = cursor === null ? [{ after: "", through: null }] : [{ after: cursor, through: null }, { after: "", through: cursor }];
  }

  /** The read this submission waits for, if its next turn needs hosts not read yet. */
  readNeeded(rows: number): HostRead | null {
    if (this.out || this.#walkedRound || this.#buffer.length > 0) return null;
    if (this.#range === null || this.#rangeEnded) {
      this.#range = this.#ranges.shift() ?? null;
      this.#readAfter = this.#range?.after ?? "";
      this.#rangeEnded = false;
      if (this.#range === null) {
        this.#walkedRound = true;
        return null;
      }
    }
    // The second stretch (from the first host up to the cursor) is read in the same read as the first.
    const wrapThrough = this.#ranges[0]?.through ?? null;
    const hosts = Math.min(this.#batch, Math.max(MIN_HOSTS, rows));
    return { submissionId: this.id, after: this.#readAfter, through: this.#range.through, wrapThrough, hosts, rows };
  }

  /** The hosts a read gave, for what it asked. */
  read(hosts: readonly HostVisit[], asked: HostRead): void {
    for (const host of hosts) {
      // Into the second stretch: it goes on from there, up to where the walk started.
      if (host.lap === 1 && this.#ranges.length > 0) this.#range = this.#ranges.shift()!;
      this.#buffer.push({ ...host, next: 0 });
      this.#readAfter = host.host;
    }
    if (hosts.length < asked.hosts) {
      // This stretch is read to its end, and so is the second one when the read went on into it.
      if (asked.wrapThrough !== null && this.#ranges.length > 0) this.#range = this.#ranges.shift()!;
      this.#rangeEnded = true;
    }
    this.#batch = Math.min(MAX_HOSTS, this.#batch * 2);
  }

  /** One turn: "taken" (one task admitted), "read" (hosts must be read first), or "out". */
  turn(offer: (host: Visited) => boolean): "taken" | "read" | "out" {
    while (!this.#walkedRound) {
      const host = this.#buffer.shift();
      if (host === undefined) {
        if (this.#range === null || this.#rangeEnded) {
          if (this.#ranges.length === 0) {
            this.#walkedRound = true;
            break;
          }
        }
        return "read";
      }
      this.#visited.push(host);
      this.#first ??= host.host;
      this.#last = host.host;
      if (offer(host)) return "taken";
    }
    // Later turns: the hosts visited, in the same order, each offering its next task.
    for (let n = 0; n < this.#visited.length; n++) {
      const host = this.#visited[this.#later]!;
      this.#later = (this.#later + 1) % this.#visited.length;
      if (host.next < host.candidates.length && offer(host)) return "taken";
    }
    // Every host offered all it had (an offer a host cannot take uses up its candidates): nothing more now.
    this.out = true;
    return "out";
  }

  /**
   * Where its next claim starts: after the last host visited, or, when this claim went round every host,
   * after the first one it visited (so the next claim starts one host further on). Null: unchanged.
   */
  get cursor(): string | null {
    return this.#walkedRound ? this.#first : this.#last;
  }
}

/**
 * The claim's order and politeness rule (TaskStore.claim), the same for every backend.
 *
 * Between submissions, max-min fair share (water-filling): the claim hands out its slots one at a time,
 * each to the submission with runnable work that has the fewest tasks RUNNING (in the whole database, plus
 * those taken in this claim; ties: the older submission). A submission none of whose hosts can take a task
 * now drops out of the claim, and the others share what it leaves. So a submission below its fair share
 * (one host at its per-host limit) keeps all it can run, and one submitted after a big one gets slots at
 * the next claim.
 *
 * Within a submission, round-robin by host (SubmissionTurns): the store keeps a cursor per submission.
 * The store reads hosts when a submission's turn needs them (`reads()`): for each host its load and at
 * most rowsFor(load) of the submission's runnable tasks on it, in id order, so the cost of a claim is the
 * submissions with work, the hosts visited and the rows read, never the backlog behind them.
 *
 * A candidate is offered to `admit` only if politeness lets it start now, counting those admitted in this
 * claim for the host by every submission:
 * - running(host) + admitted so far(host) < the candidate's perHostConcurrency, and
 * - with a delay (the larger of its hostDelayMs and the request's `knownHostDelayMs`), the host's latest
 *   start is at least that delay before `now` and nothing was admitted for the host in this claim.
 * A candidate held back, or refused by `admit`, stays PENDING; the host offers its next one in its place.
 * The store then claims `admitted` in one write (the loads it read count none of this claim's tasks).
 *
 * Driving it: `for (let reads = fair.reads(); reads.length > 0; reads = fair.reads()) { ...fair.read(...) }`,
 * then `fair.admitted`.
 */
export class FairClaim {
  readonly admitted: ClaimCandidate[] = [];
  readonly #request: ClaimRequest;
  readonly #hostCap: number;
  readonly #taken = new Map<string, number>();
  readonly #submissions: SubmissionTurns[];
  readonly #byId = new Map<number, SubmissionTurns>();
  readonly #asked = new Map<number, HostRead>();
  readonly #cursors: ReadonlyMap<number, string>;

  /** `submissions`: those with PENDING tasks; `cursors`: where each one's previous claim stopped. */
  constructor(request: ClaimRequest, submissions: readonly SubmissionLoad[], cursors: ReadonlyMap<number, string>) {
    this.#request = request;
    this.#hostCap = request.hostCap ?? Number.POSITIVE_INFINITY;
    this.#cursors = cursors;
    const batch = Math.min(MAX_HOSTS, Math.max(MIN_HOSTS, Math.ceil(request.limit / Math.max(1, submissions.length))));
    this.#submissions = submissions.map((s) => new SubmissionTurns(s, cursors.get(s.submissionId) ?? null, batch));
    for (const s of this.#submissions) this.#byId.set(s.id, s);
  }

  /** Whether the claim has its limit of tasks. */
  get full(): boolean {
    return this.admitted.length >= this.#request.limit;
  }

  /** Whether the read passes `host` by (a host of `skipHosts`): it neither reads it nor counts it. */
  skips(host: string): boolean {
    return this.#request.skipHosts.has(host);
  }

  /**
   * How many of a host's runnable tasks a read takes: what the operator's cap (`hostCap`) leaves it, and
   * no more than the claim still takes (`rows` of the read). 0: none (the host is still visited).
   */
  rowsFor(load: HostLoad, rows: number): number {
    return Math.max(0, Math.min(this.#hostCap - load.running, rows));
  }

  /**
   * Hands out slots until the claim is full, every submission is out, or the next turn needs hosts read:
   * then the reads to make (that submission's, and those of the next submissions in line that need one,
   * so that a backend reads them in one round trip). Empty: the claim is decided (`admitted`).
   */
  reads(): HostRead[] {
    for (;;) {
      if (this.full) return [];
      const next = this.#nextInLine();
      if (next === undefined) return [];
      const result = next.turn((host) => this.#offerOne(host));
      if (result === "taken") next.level++;
      if (result !== "read") continue;
      const remaining = this.#request.limit - this.admitted.length;
      const reads: HostRead[] = [];
      for (const s of this.#inLine(remaining)) {
        const read = s.readNeeded(remaining);
        if (read !== null) reads.push(read);
      }
      // The one in line needs a read; if its walk turned out to be over, its next turn says so.
      if (reads.length === 0) continue;
      for (const read of reads) this.#asked.set(read.submissionId, read);
      return reads;
    }
  }

  /** The hosts read for a submission's HostRead (skipped hosts left out). */
  read(submissionId: number, hosts: readonly HostVisit[]): void {
    this.#byId.get(submissionId)!.read(hosts, this.#asked.get(submissionId)!);
  }

  /**
   * The cursors the store keeps for its next claim: one per submission with PENDING tasks (so the map
   * stays as small as the submissions with work), where this claim stopped or, if it did not walk it,
   * where the previous one did.
   */
  cursors(): Map<number, string> {
    const cursors = new Map<number, string>();
    for (const s of this.#submissions) {
      const cursor = s.cursor ?? this.#cursors.get(s.id);
      if (cursor !== undefined) cursors.set(s.id, cursor);
    }
    return cursors;
  }

  /** The submission whose turn it is: fewest running (then oldest) among those still in. */
  #nextInLine(): SubmissionTurns | undefined {
    let best: SubmissionTurns | undefined;
    for (const s of this.#submissions) {
      if (s.out) continue;
      if (best === undefined || s.level < best.level || (s.level === best.level && s.id < best.id)) best = s;
    }
    return best;
  }

  /** The first `count` submissions in line (fewest running, then oldest). */
  #inLine(count: number): SubmissionTurns[] {
    return this.#submissions
      .filter((s) => !s.out)
      .sort((a, b) => a.level - b.level || a.id - b.id)
      .slice(0, Math.max(1, count));
  }

  /** Offers the host's candidates in order until `admit` takes one or none is left. */
  #offerOne(visited: Visited): boolean {
    const { now, admit, knownHostDelayMs } = this.#request;
    const { host, load, candidates } = visited;
    while (visited.next < candidates.length) {
      const candidate = candidates[visited.next++]!;
      const { perHostConcurrency } = candidate.options;
      const hostDelayMs = Math.max(candidate.options.hostDelayMs, knownHostDelayMs?.(candidate) ?? 0);
      const here = this.#taken.get(host) ?? 0;
      const polite =
        load.running + here < perHostConcurrency &&
        (hostDelayMs === 0 || (here === 0 && (load.lastStartedAt === null || load.lastStartedAt + hostDelayMs <= now)));
      if (polite && admit(candidate)) {
        this.#taken.set(host, here + 1);
        this.admitted.push(candidate);
        return true;
      }
    }
    return false;
  }
}

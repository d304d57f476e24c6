import type { ClaimCandidate, ClaimRequest } from "../task-store.js";

/** What the claim knows of one host across the whole database: tasks RUNNING on it, and its latest start. */
export interface HostLoad {
  running: number;
  /** The latest startedAt of any of its tasks (epoch ms), or null. */
  lastStartedAt: number | null;
}

/**
 * One stretch of the walk over the hosts that have PENDING tasks, in the store's host order: hosts after
 * `after` ("" for the first host on), up to and including `through` (null: to the last host).
 */
export interface HostRange {
  after: string;
  through: string | null;
}

/** A host the walk read: its load, and its runnable tasks read (in hostRank, id order), `next` the first not offered yet. */
interface VisitedHost {
  load: HostLoad;
  candidates: readonly ClaimCandidate[];
  next: number;
}

/**
 * The claim's order and politeness rule (TaskStore.claim), the same for every backend. The claim walks
 * hosts, not rows: the store keeps a cursor (the host where its last claim stopped) and walks the hosts
 * that have PENDING tasks in host order from there, wrapping around once (`nextRange()`). For each host it
 * is given (`visit`, skipping `skipHosts`), the store reads the host's load and at most `rowsFor(load)` of
 * its runnable tasks, in (hostRank, id) order: so the cost of a claim is the hosts it visits and the rows
 * it reads, never the backlog behind them.
 *
 * Round-robin by host: a visited host offers one task (pass 1), then the walk moves to the next host;
 * only once the walk has been round every host (and the limit is not reached) do the hosts visited offer
 * their second task, in the same order, then their third (`finish()`). A candidate is offered to `admit`
 * only if politeness lets it start now, counting those admitted in this claim:
 * - running(host) + admitted so far(host) < the candidate's perHostConcurrency, and
 * - with a delay (the larger of its hostDelayMs and the request's `knownHostDelayMs`), the host's latest
 *   start is at least that delay before `now` and nothing was admitted for the host in this claim.
 * A candidate held back, or refused by `admit`, stays PENDING; the host offers its next one in its place.
 * The store then claims `admitted` in one write (the loads it read count none of this claim's tasks).
 */
export class PoliteClaim {
  readonly admitted: ClaimCandidate[] = [];
  readonly #request: ClaimRequest;
  readonly #hostCap: number;
  readonly #taken = new Map<string, number>();
  readonly #ranges: HostRange[];
  readonly #visited = new Map<string, VisitedHost>();
  #first: string | null = null;
  #last: string | null = null;
  #walkedRound = false;

  /** `cursor`: where the store's previous claim stopped (null: never claimed, start at the first host). */
  constructor(request: ClaimRequest, cursor: string | null) {
    this.#request = request;
    this.#hostCap = request.hostCap ?? Number.POSITIVE_INFINITY;
    this.#ranges = cursor === null ? [{ after: "", through: null }] : [{ after: cursor, through: null }, { after: "", through: cursor }];
  }

  /** Whether the claim has its limit of tasks. */
  get full(): boolean {
    return this.admitted.length >= this.#request.limit;
  }

  /** The next stretch of hosts to walk; null when the claim is full or has been round every host. */
  nextRange(): HostRange | null {
    if (this.full) return null;
    const range = this.#ranges.shift();
    if (range === undefined) this.#walkedRound = true;
    return range ?? null;
  }

  /** Whether the walk passes `host` by without reading it (a host of `skipHosts`). */
  skips(host: string): boolean {
    return this.#request.skipHosts.has(host);
  }

  /**
   * How many of the host's runnable tasks to read: what the operator's cap (`hostCap`) leaves it, and
   * no more than the claim still takes. 0: none (the store still visits the host, with no candidates).
   */
  rowsFor(load: HostLoad): number {
    return Math.max(0, Math.min(this.#hostCap - load.running, this.#request.limit - this.admitted.length));
  }

  /** Pass 1 at one host: its candidates as read (at most rowsFor(load), in hostRank, id order); offers one. */
  visit(host: string, load: HostLoad, candidates: readonly ClaimCandidate[]): void {
    const visited: VisitedHost = { load, candidates, next: 0 };
    this.#visited.set(host, visited);
    this.#first ??= host;
    this.#last = host;
    this.#offerOne(host, visited);
  }

  /** After the walk: the later passes (when the walk went round every host), then the tasks to claim. */
  finish(): ClaimCandidate[] {
    if (!this.#walkedRound) return this.admitted;
    let offering = true;
    while (offering && !this.full) {
      offering = false;
      for (const [host, visited] of this.#visited) {
        if (this.full) break;
        if (visited.next < visited.candidates.length) {
          offering = true;
          this.#offerOne(host, visited);
        }
      }
    }
    return this.admitted;
  }

  /**
   * Where the next claim starts: after the last host visited, or, when this claim went round every host,
   * after the first one it visited (so the next claim starts one host further on). Null: unchanged.
   */
  get cursor(): string | null {
    return this.#walkedRound ? this.#first : this.#last;
  }

  /** Offers the host's candidates in order until `admit` takes one or none is left. */
  #offerOne(host: string, visited: VisitedHost): void {
    const { now, admit, knownHostDelayMs } = this.#request;
    const { load, candidates } = visited;
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
        return;
      }
    }
  }
}

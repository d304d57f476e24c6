import type { ClaimCandidate, ClaimRequest } from "../task-store.js";

/** What the claim knows of one host across the whole database: tasks RUNNING on it, and its latest start. */
export interface HostLoad {
  running: number;
  /** The latest startedAt of any of its tasks (epoch ms), or null. */
  lastStartedAt: number | null;
}

/** A window of candidates as a store reads it: the next runnable tasks in id order, and their hosts' load. */
export interface CandidateWindow {
  candidates: readonly ClaimCandidate[];
  load: ReadonlyMap<string, HostLoad>;
}

/** Most candidate windows one claim reads (the claim holds the cluster's claim lock meanwhile). */
const MAX_WINDOWS = 8;

const IDLE: HostLoad = { running: 0, lastStartedAt: null };

/**
 * The claim's politeness rule (TaskStore.claim), the same for every backend. A store reads windows of
 * candidates (`nextRead()`: after which id, skipping which hosts, how many) and hands each to `offer`,
 * which walks it in id order and offers to `admit` only the candidates whose host can take them now,
 * counting those admitted in this claim:
 * - running(host) + admitted so far(host) < the candidate's perHostConcurrency, and
 * - with a hostDelayMs, the host's latest start is at least hostDelayMs before `now` and nothing was
 *   admitted for the host in this claim.
 * A host that held a candidate back is skipped by the next window, so a busy host at the head of the
 * queue does not keep the claim from the tasks of other hosts behind it. The store then claims
 * `admitted` in one write (after the last window: the counts read count none of this claim's tasks).
 */
export class PoliteClaim {
  readonly admitted: ClaimCandidate[] = [];
  readonly #request: ClaimRequest;
  readonly #skip: Set<string>;
  readonly #taken = new Map<string, number>();
  #afterId = 0;
  #windows = 0;
  #done = false;

  constructor(request: ClaimRequest) {
    this.#request = request;
    this.#skip = new Set(request.skipHosts);
  }

  /** What to read next (candidates after `afterId`, not of `skipHosts`, at most `limit`), or null when done. */
  nextRead(): { afterId: number; skipHosts: string[]; limit: number } | null {
    const limit = this.#request.limit - this.admitted.length;
    if (this.#done || limit <= 0 || this.#windows >= MAX_WINDOWS) return null;
    return { afterId: this.#afterId, skipHosts: [...this.#skip], limit };
  }

  /** Walks one window read as `nextRead()` said (`limit` of them at most). */
  offer({ candidates, load }: CandidateWindow, limit: number): void {
    this.#windows++;
    const { now, admit } = this.#request;
    let held = false;
    for (const candidate of candidates) {
      const { perHostConcurrency, hostDelayMs } = candidate.options;
      const host = load.get(candidate.host) ?? IDLE;
      const here = this.#taken.get(candidate.host) ?? 0;
      const polite =
        host.running + here < perHostConcurrency &&
        (hostDelayMs === 0 || (here === 0 && (host.lastStartedAt === null || host.lastStartedAt + hostDelayMs <= now)));
      if (!polite) {
        this.#skip.add(candidate.host);
        held = true;
      } else if (admit(candidate)) {
        this.#taken.set(candidate.host, here + 1);
        this.admitted.push(candidate);
      }
    }
    // Read on only past a full window in which politeness held something back: otherwise every runnable
    // candidate up to the limit was offered.
    this.#done = !held || candidates.length < limit;
    this.#afterId = candidates.at(-1)?.id ?? this.#afterId;
  }
}

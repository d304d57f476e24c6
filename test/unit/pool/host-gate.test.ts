import { describe, expect, it, vi } from "vitest";
import { MAX_ERROR_MESSAGE_LENGTH } from "../../../src/crawler/limits.js";
import type { RobotsOutcome } from "../../../src/crawler/types.js";
import { HostGate, robotsProductToken, type HostGateOptions } from "../../../src/pool/host-gate.js";
import type { SubmissionOptions } from "../../../src/tasks/task.js";
import type { ClaimCandidate } from "../../../src/tasks/task-store.js";

const T0 = 1_000_000;
let nextId = 1;

function task(url: string, options: Partial<SubmissionOptions> = {}): ClaimCandidate {
  return {
    id: nextId++,
    url,
    host: new URL(url).hostname,
    options: { maxRetries: 0, perHostConcurrency: 100, hostDelayMs: 0, respectRobots: false, ...options },
  };
}

const robotsTask = (url: string, options: Partial<SubmissionOptions> = {}) => task(url, { respectRobots: true, ...options });

/**
 * A gate whose robots.txt answers come from `answers` (by origin), counting fetches, on a clock that
 * stands at T0 until a test moves `clock.now`.
 */
function gateWith(options: Partial<HostGateOptions> = {}, answers: Record<string, RobotsOutcome | Error> = {}) {
  const clock = { now: T0 };
  const fetched: string[] = [];
  let readyCount = 0;
  let onReady: (() => void) | null = null;
  const gate = new HostGate({
    perHostConcurrency: 4,
    robotsTtlMs: 3_600_000,
    robotsRetryMs: 60_000,
    userAgent: "crawlq/0.1 (+https://github.com/crawlq/crawlq)",
    fetchRobots: async (origin) => {
      fetched.push(origin);
      const answer = answers[origin] ?? { kind: "missing", httpStatus: 404 };
      if (answer instanceof Error) throw answer;
      return answer;
    },
    onRobotsReady: () => {
      readyCount++;
      onReady?.();
    },
    now: () => clock.now,
    ...options,
  });
  /** Resolves once `n` robots.txt answers in all have been taken in. */
  const robotsReady = (n = 1) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (readyCount >= n) resolve();
      };
      onReady = check;
      check();
    });
  return { gate, fetched, robotsReady, clock };
}

/** Asks for `t` until robots.txt is loaded, returning the final verdict. */
async function decide(env: ReturnType<typeof gateWith>, t: ClaimCandidate, now = T0, readyAfter = 1) {
  const first = env.gate.admit(t, now);
  if (first.verdict !== "wait") return first;
  await env.robotsReady(readyAfter);
  return env.gate.admit(t, now);
}

describe("HostGate: requests in flight per host", () => {
  it("admits up to the operator's limit per host, and again after a release", () => {
    const { gate } = gateWith({ perHostConcurrency: 2 });
    const verdicts = [1, 2, 3].map((n) => gate.admit(task(`http://a.example/${n}`), T0).verdict);
    expect(verdicts).toEqual(["admit", "admit", "wait"]);
    expect(gate.busyHosts(T0)).toEqual(["a.example"]);
    // Other hosts are not affected.
    expect(gate.admit(task("http://b.example/1"), T0).verdict).toBe("admit");
    gate.release("a.example");
    expect(gate.busyHosts(T0)).toEqual([]);
    expect(gate.admit(task("http://a.example/4"), T0).verdict).toBe("admit");
  });

  it("applies a task's lower limit (its submission's perHostConcurrency)", () => {
    const { gate } = gateWith({ perHostConcurrency: 4 });
    expect(gate.admit(task("http://a.example/1", { perHostConcurrency: 1 }), T0).verdict).toBe("admit");
    expect(gate.admit(task("http://a.example/2", { perHostConcurrency: 1 }), T0).verdict).toBe("wait");
    // A submission allowing more still counts the request already in flight.
    expect(gate.admit(task("http://a.example/3", { perHostConcurrency: 2 }), T0).verdict).toBe("admit");
    expect(gate.admit(task("http://a.example/4", { perHostConcurrency: 2 }), T0).verdict).toBe("wait");
  });

  it("never goes above the operator's limit whatever a task asks", () => {
    const { gate } = gateWith({ perHostConcurrency: 1 });
    expect(gate.admit(task("http://a.example/1", { perHostConcurrency: 50 }), T0).verdict).toBe("admit");
    expect(gate.admit(task("http://a.example/2", { perHostConcurrency: 50 }), T0).verdict).toBe("wait");
  });

  it("keys on the host name: ports share a host, a different name does not", () => {
    const { gate } = gateWith({ perHostConcurrency: 1 });
    expect(gate.admit(task("http://a.example:8080/"), T0).verdict).toBe("admit");
    expect(gate.admit(task("http://a.example:9090/"), T0).verdict).toBe("wait");
    expect(gate.admit(task("http://www.a.example/"), T0).verdict).toBe("admit");
  });

  it("releases by the injected clock when no time is given", () => {
    const env = gateWith();
    const first = task("http://a.example/1", { hostDelayMs: 200 });
    expect(env.gate.admit(first, T0).verdict).toBe("admit");
    env.clock.now = T0 + 100;
    env.gate.release("a.example", undefined, first.id);
    // It ended without a departure heard: the delay counts from the clock's time, so busy until T0 + 300.
    expect(env.gate.busyHosts(T0 + 150)).toEqual(["a.example"]);
    expect(env.gate.nextOpening(T0 + 150)).toBe(T0 + 300);
  });

  it("ignores a release for a host it does not know, and never counts below zero", () => {
    const { gate } = gateWith({ perHostConcurrency: 1 });
    gate.release("nobody.example");
    gate.admit(task("http://a.example/1"), T0);
    gate.release("a.example");
    gate.release("a.example");
    expect(gate.admit(task("http://a.example/2"), T0).verdict).toBe("admit");
    expect(gate.admit(task("http://a.example/3"), T0).verdict).toBe("wait");
  });
});

describe("HostGate: delay between starts on one host", () => {
  it("spaces departures by the task's hostDelayMs and reports when the host opens", () => {
    const { gate } = gateWith();
    const first = task("http://a.example/1", { hostDelayMs: 200 });
    expect(gate.admit(first, T0)).toEqual({ verdict: "admit", delayMs: 200 });
    expect(gate.departed(first.id, T0 + 30)).toBe(true);
    gate.release("a.example", T0 + 50, first.id);
    expect(gate.admit(task("http://a.example/2", { hostDelayMs: 200 }), T0 + 229).verdict).toBe("wait");
    expect(gate.busyHosts(T0 + 229)).toEqual(["a.example"]);
    expect(gate.nextOpening(T0 + 10)).toBe(T0 + 230);
    expect(gate.admit(task("http://b.example/1"), T0 + 10)).toEqual({ verdict: "admit", delayMs: 0 });
    const second = task("http://a.example/2", { hostDelayMs: 200 });
    expect(gate.admit(second, T0 + 230).verdict).toBe("admit");
    gate.departed(second.id, T0 + 240);
    expect(gate.nextOpening(T0 + 240)).toBe(T0 + 440);
  });

  it("has no opening to report when no host is delayed", () => {
    const { gate } = gateWith();
    gate.admit(task("http://a.example/1"), T0);
    expect(gate.nextOpening(T0)).toBeNull();
  });
});

describe("HostGate: the delay counts from the request's departure", () => {
  const delayed = (n: number) => task(`http://a.example/${n}`, { hostDelayMs: 100 });

  it("keeps a delayed host closed until its task's departure is reported, then opens it at departure + delay", () => {
    const { gate } = gateWith();
    const first = delayed(1);
    expect(gate.admit(first, T0)).toEqual({ verdict: "admit", delayMs: 100 });
    // Long after the delay from the admission, and with room under the host's limit: still waiting.
    expect(gate.admit(delayed(2), T0 + 500).verdict).toBe("wait");
    expect(gate.busyHosts(T0 + 500)).toEqual(["a.example"]);
    expect(gate.nextOpening(T0 + 500)).toBeNull();
    expect(gate.departed(first.id, T0 + 600)).toBe(true);
    expect(gate.admit(delayed(2), T0 + 699).verdict).toBe("wait");
    expect(gate.nextOpening(T0 + 600)).toBe(T0 + 700);
    expect(gate.admit(delayed(2), T0 + 700).verdict).toBe("admit");
  });

  it("reopens the host after the delay from the end of a task that ended without departing", () => {
    const { gate } = gateWith();
    const first = delayed(1);
    gate.admit(first, T0);
    // Refused before its request (SSRF guard, DNS, a refused connection): no departure, then its end.
    gate.release("a.example", T0 + 40, first.id);
    expect(gate.busyHosts(T0 + 139)).toEqual(["a.example"]);
    expect(gate.nextOpening(T0 + 40)).toBe(T0 + 140);
    // A departure heard after its task's end changes nothing: the end came later.
    expect(gate.departed(first.id, T0 + 30)).toBe(false);
    expect(gate.nextOpening(T0 + 40)).toBe(T0 + 140);
    expect(gate.admit(delayed(2), T0 + 140).verdict).toBe("admit");
  });

  it("ignores a departure dated before the task's admission (an earlier attempt's)", () => {
    const { gate } = gateWith();
    const first = delayed(1);
    gate.admit(first, T0);
    expect(gate.departed(first.id, T0 - 5)).toBe(false);
    expect(gate.busyHosts(T0 + 1000)).toEqual(["a.example"]);
    expect(gate.departed(first.id, T0 + 5)).toBe(true);
    expect(gate.nextOpening(T0 + 5)).toBe(T0 + 105);
  });

  it("keeps waiting for the departure when another task on the host ends", () => {
    const { gate } = gateWith();
    const [first, second] = [delayed(1), delayed(2)];
    gate.admit(first, T0);
    gate.departed(first.id, T0 + 10);
    expect(gate.admit(second, T0 + 110).verdict).toBe("admit");
    gate.release("a.example", T0 + 120, first.id);
    expect(gate.busyHosts(T0 + 1000)).toEqual(["a.example"]);
    expect(gate.nextOpening(T0 + 1000)).toBeNull();
    gate.release("a.example", T0 + 1000, second.id);
    expect(gate.nextOpening(T0 + 1000)).toBe(T0 + 1100);
  });

  it("never makes a host without a delay wait for departures", () => {
    const { gate } = gateWith();
    const tasks = [1, 2, 3].map((n) => task(`http://a.example/${n}`));
    expect(tasks.map((t) => gate.admit(t, T0))).toEqual(Array(3).fill({ verdict: "admit", delayMs: 0 }));
    expect(gate.busyHosts(T0)).toEqual([]);
    expect(gate.nextOpening(T0)).toBeNull();
    expect(gate.departed(tasks[0]!.id, T0)).toBe(false);
    for (const t of tasks) gate.release("a.example", T0, t.id);
    expect(gate.admit(task("http://a.example/4"), T0).verdict).toBe("admit");
  });
});

describe("HostGate: robots.txt", () => {
  const origin = "http://site.example";
  const found = (body: string): RobotsOutcome => ({ kind: "found", url: `${origin}/robots.txt`, body });

  it("does not consult robots.txt for a task that does not respect it", () => {
    const env = gateWith({}, { [origin]: found("User-agent: *\nDisallow: /\n") });
    expect(env.gate.admit(task(`${origin}/x`), T0).verdict).toBe("admit");
    expect(env.fetched).toEqual([]);
  });

  it("waits while robots.txt loads, fetches it once per origin, then allows and denies by its rules", async () => {
    const env = gateWith({}, { [origin]: found("User-agent: *\nDisallow: /private\n") });
    expect(env.gate.admit(robotsTask(`${origin}/private/1`), T0).verdict).toBe("wait");
    expect(env.gate.admit(robotsTask(`${origin}/public/1`), T0).verdict).toBe("wait");
    await env.robotsReady();
    const denied = env.gate.admit(robotsTask(`${origin}/private/1`), T0);
    expect(denied).toEqual({ verdict: "deny", reason: `robots.txt of ${origin} disallows this URL` });
    expect(env.gate.admit(robotsTask(`${origin}/public/1`), T0).verdict).toBe("admit");
    expect(env.fetched).toEqual([origin]);
  });

  it("keeps one robots.txt per origin (scheme, host and port)", async () => {
    const env = gateWith();
    env.gate.admit(robotsTask("http://site.example/1"), T0);
    env.gate.admit(robotsTask("https://site.example/1"), T0);
    env.gate.admit(robotsTask("http://site.example:8080/1"), T0);
    await env.robotsReady(3);
    expect(env.fetched.sort()).toEqual(["http://site.example", "http://site.example:8080", "https://site.example"]);
  });

  it("matches the group for crawlq's product token, not only '*'", async () => {
    const env = gateWith({}, { [origin]: found("User-agent: crawlq\nDisallow: /no-crawlq\n\nUser-agent: *\nDisallow: /no-one\n") });
    expect((await decide(env, robotsTask(`${origin}/no-crawlq`))).verdict).toBe("deny");
    expect(env.gate.admit(robotsTask(`${origin}/no-one`), T0).verdict).toBe("admit");
  });

  it("derives the product token from a User-Agent without a version", async () => {
    const env = gateWith(
      { userAgent: "crawlq (+https://crawlq.example/bot)" },
      { [origin]: found("User-agent: crawlq\nDisallow: /\n") },
    );
    expect((await decide(env, robotsTask(`${origin}/page`))).verdict).toBe("deny");
  });

  it("honours Crawl-delay, and the larger of it and the task's hostDelayMs", async () => {
    const env = gateWith({}, { [origin]: found("User-agent: *\nCrawl-delay: 2\n") });
    const first = robotsTask(`${origin}/1`);
    expect(await decide(env, first)).toEqual({ verdict: "admit", delayMs: 2000 });
    env.gate.departed(first.id, T0);
    env.gate.release("site.example", T0 + 50, first.id);
    expect(env.gate.admit(robotsTask(`${origin}/2`), T0 + 1999).verdict).toBe("wait");
    expect(env.gate.nextOpening(T0)).toBe(T0 + 2000);
    const second = robotsTask(`${origin}/2`, { hostDelayMs: 5000 });
    expect(env.gate.admit(second, T0 + 2000).verdict).toBe("admit");
    env.gate.departed(second.id, T0 + 2000);
    expect(env.gate.nextOpening(T0 + 2000)).toBe(T0 + 7000);
  });

  it("allows everything when robots.txt is missing (4xx)", async () => {
    const env = gateWith({}, { [origin]: { kind: "missing", httpStatus: 404 } });
    expect((await decide(env, robotsTask(`${origin}/anything`))).verdict).toBe("admit");
  });

  it.each([
    ["HTTP 503 Service Unavailable", "HTTP_STATUS"],
    ["HTTP 429 Too Many Requests", "HTTP_STATUS"],
    ["timed out after 30000 ms", "TIMEOUT"],
  ] as const)("treats an unreachable robots.txt (%s) as disallow-all, saying why", async (reason, code) => {
    const env = gateWith({}, { [origin]: { kind: "unreachable", code, reason } });
    const verdict = await decide(env, robotsTask(`${origin}/page`));
    expect(verdict.verdict).toBe("deny");
    expect(verdict.verdict === "deny" && verdict.reason).toBe(
      `robots.txt of ${origin} is unreachable (${reason}); treated as disallow-all (RFC 9309)`,
    );
  });

  it.each(["CONNECT", "DNS", "BLOCKED_ADDRESS"] as const)(
    "lets the fetch go ahead (and fail with its own code) when robots.txt failed with %s",
    async (code) => {
      const env = gateWith({}, { [origin]: { kind: "unreachable", code, reason: "no way through" } });
      expect((await decide(env, robotsTask(`${origin}/page`))).verdict).toBe("admit");
    },
  );

  it("keeps a deny reason within MAX_ERROR_MESSAGE_LENGTH, however long the reason it quotes", async () => {
    const reason = `HTTP 503 Service Unavailable ${"r".repeat(MAX_ERROR_MESSAGE_LENGTH)}`;
    const env = gateWith({}, { [origin]: { kind: "unreachable", code: "HTTP_STATUS", reason } });
    const verdict = await decide(env, robotsTask(`${origin}/page`));
    expect(verdict.verdict === "deny" && verdict.reason).toMatch(new RegExp(`^robots\\.txt of ${origin} is unreachable \\(HTTP 503 Service Unavailable r+…$`));
    expect(verdict.verdict === "deny" && verdict.reason.length).toBe(MAX_ERROR_MESSAGE_LENGTH);
  });

  it("treats a robots.txt fetch that throws as unreachable (disallow-all)", async () => {
    const env = gateWith({}, { [origin]: new Error("pool is gone") });
    const verdict = await decide(env, robotsTask(`${origin}/page`));
    expect(verdict.verdict).toBe("deny");
    expect(verdict.verdict === "deny" && verdict.reason).toContain("pool is gone");
  });

  it("asks again once the TTL has passed", async () => {
    const env = gateWith({ robotsTtlMs: 1000 }, { [origin]: found("User-agent: *\nDisallow:\n") });
    await decide(env, robotsTask(`${origin}/1`), T0);
    env.gate.release("site.example");
    expect(env.gate.admit(robotsTask(`${origin}/2`), T0 + 999).verdict).toBe("admit");
    expect(env.fetched).toHaveLength(1);
    env.gate.release("site.example");
    expect(env.gate.admit(robotsTask(`${origin}/3`), T0 + 1000).verdict).toBe("wait");
    expect(env.fetched).toHaveLength(2);
  });

  it("asks an unreachable robots.txt again after robotsRetryMs, not the TTL", async () => {
    const env = gateWith(
      { robotsRetryMs: 1000 },
      { [origin]: { kind: "unreachable", code: "HTTP_STATUS", reason: "HTTP 503 Service Unavailable" } },
    );
    await decide(env, robotsTask(`${origin}/1`), T0);
    expect(env.gate.admit(robotsTask(`${origin}/2`), T0 + 999).verdict).toBe("deny");
    expect(env.gate.admit(robotsTask(`${origin}/3`), T0 + 1000).verdict).toBe("wait");
    expect(env.fetched).toHaveLength(2);
  });

  it("dates a robots.txt by the injected clock when it arrives, not when it was asked for", async () => {
    const env = gateWith({ robotsTtlMs: 1000 }, { [origin]: found("User-agent: *\nDisallow:\n") });
    expect(env.gate.admit(robotsTask(`${origin}/1`), T0).verdict).toBe("wait");
    env.clock.now = T0 + 500; // the fetch took 500 ms
    await env.robotsReady();
    expect(env.gate.admit(robotsTask(`${origin}/2`), T0 + 1499).verdict).toBe("admit");
    expect(env.fetched).toHaveLength(1);
    expect(env.gate.admit(robotsTask(`${origin}/3`), T0 + 1500).verdict).toBe("wait");
    expect(env.fetched).toHaveLength(2);
  });
});

describe("HostGate: redirect hops", () => {
  const origin = "http://site.example";

  it("loads the hop origin's robots.txt once and answers by its rules", async () => {
    const env = gateWith({}, { [origin]: { kind: "found", url: `${origin}/robots.txt`, body: "User-agent: *\nDisallow: /private\n" } });
    const [denied, allowed] = await Promise.all([
      env.gate.checkRedirect(`${origin}/private/1`),
      env.gate.checkRedirect(`${origin}/public/1`),
    ]);
    expect(denied).toEqual({
      code: "ROBOTS_DISALLOWED",
      message: `robots.txt of ${origin} disallows this URL`,
      retryable: false,
    });
    expect(allowed).toBeNull();
    expect(env.fetched).toEqual([origin]);
    // The same cache serves tasks and hops.
    expect(env.gate.admit(robotsTask(`${origin}/private/2`), T0).verdict).toBe("deny");
    expect(env.fetched).toEqual([origin]);
  });

  it("refuses a hop to an origin whose robots.txt is unreachable, and allows one without robots.txt", async () => {
    const env = gateWith(
      {},
      { "http://down.example": { kind: "unreachable", code: "HTTP_STATUS", reason: "HTTP 503 Service Unavailable" } },
    );
    expect((await env.gate.checkRedirect("http://down.example/x"))?.code).toBe("ROBOTS_DISALLOWED");
    expect(await env.gate.checkRedirect("http://missing.example/x")).toBeNull();
  });
});

describe("HostGate: robots TTL floor", () => {
  it("keeps a robots.txt long enough for the tasks that waited for it, even with a TTL of 0", async () => {
    const env = gateWith({ robotsTtlMs: 0 }, { "http://site.example": { kind: "missing", httpStatus: 404 } });
    const waiting = robotsTask("http://site.example/1");
    expect(env.gate.admit(waiting, T0).verdict).toBe("wait");
    await env.robotsReady();
    // Admitted a little later (the dispatcher's next pass), not sent to fetch robots.txt again forever.
    expect(env.gate.admit(waiting, T0 + 50).verdict).toBe("admit");
    expect(env.fetched).toHaveLength(1);
  });
});

describe("HostGate: robots cache size", () => {
  const missing: RobotsOutcome = { kind: "missing", httpStatus: 404 };

  it("keeps at most maxRobotsEntries origins' rules, dropping the least recently used", async () => {
    const env = gateWith({ maxRobotsEntries: 2 });
    await decide(env, robotsTask("http://a.example/1"), T0, 1);
    await decide(env, robotsTask("http://b.example/1"), T0, 2);
    // a is used again, so b is the least recently used when c arrives.
    expect(env.gate.admit(robotsTask("http://a.example/2"), T0).verdict).toBe("admit");
    await decide(env, robotsTask("http://c.example/1"), T0, 3);
    expect(env.fetched).toEqual(["http://a.example", "http://b.example", "http://c.example"]);
    expect(env.gate.admit(robotsTask("http://a.example/3"), T0).verdict).toBe("admit");
    expect(env.gate.admit(robotsTask("http://b.example/2"), T0).verdict).toBe("wait");
    expect(env.fetched).toEqual(["http://a.example", "http://b.example", "http://c.example", "http://b.example"]);
  });

  it("never drops a robots.txt still loading, however many others arrive meanwhile", async () => {
    let answerSlow: (outcome: RobotsOutcome) => void = () => {};
    const fetched: string[] = [];
    let ready = 0;
    const gate = new HostGate({
      perHostConcurrency: 4,
      robotsTtlMs: 3_600_000,
      robotsRetryMs: 60_000,
      userAgent: "crawlq/0.1",
      maxRobotsEntries: 2,
      fetchRobots: (origin) => {
        fetched.push(origin);
        if (origin === "http://slow.example") return new Promise((resolve) => (answerSlow = resolve));
        return Promise.resolve(missing);
      },
      onRobotsReady: () => ready++,
    });
    const slowTask = robotsTask("http://slow.example/private");
    expect(gate.admit(slowTask, T0).verdict).toBe("wait");
    const hop = gate.checkRedirect("http://slow.example/private");
    for (const n of [1, 2, 3, 4, 5]) {
      gate.admit(robotsTask(`http://other-${n}.example/`), T0);
      await vi.waitFor(() => expect(ready).toBe(n));
    }
    // Still loading, still one fetch: the five others came and went around it.
    expect(gate.admit(slowTask, T0).verdict).toBe("wait");
    answerSlow({ kind: "found", url: "http://slow.example/robots.txt", body: "User-agent: *\nDisallow: /private\n" });
    expect((await hop)?.code).toBe("ROBOTS_DISALLOWED");
    expect(gate.admit(slowTask, T0).verdict).toBe("deny");
    expect(fetched.filter((origin) => origin === "http://slow.example")).toHaveLength(1);
  });
});

describe("robotsProductToken", () => {
  it.each([
    ["crawlq/0.1 (+https://github.com/crawlq/crawlq)", "crawlq"],
    ["crawlq (+https://crawlq.example/bot)", "crawlq"],
    ["  MyBot-2/3.0", "MyBot-2"],
    ["crawlq;v1", "crawlq"],
    ["", "*"],
  ])("%j → %j", (userAgent, token) => {
    expect(robotsProductToken(userAgent)).toBe(token);
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { closeHttpAgents } from "../../../src/crawler/index.js";
import { guardedAgentFor } from "../../../src/crawler/agent.js";
import { testPolicy } from "./policy.js";

// The cache holds MAX_AGENTS (16) agents; each connect timeout below makes a distinct policy.
const policy = (n: number) => testPolicy({ connectTimeoutMs: 1000 + n });

afterEach(async () => {
  await closeHttpAgents();
});

describe("guardedAgentFor", () => {
  it("shares one agent per connection policy", () => {
    expect(guardedAgentFor(policy(1))).toBe(guardedAgentFor(policy(1)));
    expect(guardedAgentFor(policy(1))).not.toBe(guardedAgentFor(policy(2)));
  });

  it("past 16 policies, closes and forgets the least recently used agent", () => {
    const first = guardedAgentFor(policy(0));
    const second = guardedAgentFor(policy(1));
    for (let n = 2; n < 16; n += 1) guardedAgentFor(policy(n));
    // Using the first again makes the second the least recently used.
    expect(guardedAgentFor(policy(0))).toBe(first);
    guardedAgentFor(policy(16));
    expect(second.agent.closed).toBe(true);
    expect(first.agent.closed).toBe(false);
    expect(guardedAgentFor(policy(0))).toBe(first);
    const again = guardedAgentFor(policy(1));
    expect(again).not.toBe(second);
    expect(again.agent.closed).toBe(false);
  });

  it("closeHttpAgents closes every agent and starts afresh", async () => {
    const before = guardedAgentFor(policy(1));
    await closeHttpAgents();
    expect(before.agent.closed).toBe(true);
    expect(guardedAgentFor(policy(1))).not.toBe(before);
  });
});

import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { request, type Agent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { closeHttpAgents } from "../../../src/crawler/index.js";
import { guardedAgentFor, keepConnectionsFor } from "../../../src/crawler/agent.js";
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

  /** A local server counting its connections; `idleMs` fetches once and times the connection's idle life. */
  async function withServer(test: (server: { url: string; sockets: Socket[]; idleMs: (agent: Agent) => Promise<number> }) => Promise<void>) {
    const sockets: Socket[] = [];
    // Node's server sends Keep-Alive: timeout=5: left to itself, undici would keep the socket ~3 s.
    const server: Server = createServer((_req, res) => res.end("ok"));
    server.on("connection", (socket: Socket) => sockets.push(socket));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const idleMs = async (agent: Agent) => {
      const before = sockets.length;
      await (await request(url, { dispatcher: agent })).body.text();
      expect(sockets).toHaveLength(before + 1);
      const idleSince = performance.now();
      await once(sockets.at(-1)!, "close");
      return performance.now() - idleSince;
    };
    try {
      await test({ url, sockets, idleMs });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }

  it("keeps an idle connection for keepAliveMs, not for the server's longer Keep-Alive hint", async () => {
    await withServer(async ({ idleMs, sockets }) => {
      const { agent } = guardedAgentFor(testPolicy({ keepAliveMs: 300 }));
      const idle = await idleMs(agent);
      expect(idle).toBeGreaterThanOrEqual(250);
      expect(idle).toBeLessThan(2_000);
      // Closed by the client: the next request opens a new connection.
      await idleMs(agent);
      expect(sockets).toHaveLength(2);
    });
  });

  it("keeps the connections of a host crawled with a delay for that delay more", async () => {
    await withServer(async ({ url, idleMs }) => {
      const policy = testPolicy({ keepAliveMs: 200 });
      keepConnectionsFor(url, 800, policy);
      const idle = await idleMs(guardedAgentFor(policy).agent);
      expect(idle).toBeGreaterThanOrEqual(950);
      expect(idle).toBeLessThan(2_500);
    });
  });
});

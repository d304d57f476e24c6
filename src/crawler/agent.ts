import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { LRUCache } from "lru-cache";
import { Agent, buildConnector, Pool } from "undici";
import { createAddressGuard, type AddressGuard } from "./address-guard.js";
import { crawlError } from "./errors.js";
import type { FetchPolicy } from "./types.js";

/**
 * A keep-alive undici Agent whose lookup lets a connection go ahead only to addresses the SSRF guard
 * allows. A host that is an IP literal skips lookup: check it with `guard` before the request.
 */
export interface GuardedAgent {
  agent: Agent;
  /** The same guard the agent's lookup applies; IP-literal hosts skip lookup and must be checked with it. */
  guard: AddressGuard;
}

// Policies come from configuration, so only a handful are ever distinct; the cap is a backstop.
const MAX_AGENTS = 16;
const agents = new LRUCache<string, GuardedAgent>({
  max: MAX_AGENTS,
  // The least recently used agent, pushed out, closes once its requests in flight are done.
  dispose: ({ agent }, _key, reason) => {
    if (reason === "evict") void agent.close();
  },
});

/** The shared agent for this policy's connection settings, created on first use. */
export function guardedAgentFor(policy: FetchPolicy): GuardedAgent {
  // A pool thread passes the same policy object to every crawl: its key is made once, not per request
  // (with thousands of CRAWLQ_RESOLVE entries the key is hundreds of kilobytes).
  let key = keyOfPolicy.get(policy);
  if (key === undefined) {
    key = JSON.stringify([policy.connectTimeoutMs, policy.keepAliveMs, policy.allowPrivate, policy.allowList, policy.resolve]);
    keyOfPolicy.set(policy, key);
  }
  let entry = agents.get(key);
  if (entry === undefined) {
    entry = createGuardedAgent(policy);
    agents.set(key, entry);
  }
  return entry;
}

const keyOfPolicy = new WeakMap<FetchPolicy, string>();

/**
 * Closes every shared agent, letting requests in flight finish. For tests: a pool thread never calls it,
 * since ending the thread closes its sockets.
 */
export async function closeHttpAgents(): Promise<void> {
  const closing = [...agents.values()].map(({ agent }) => agent.close());
  agents.clear();
  delayedOrigins.clear();
  await Promise.all(closing);
}

// Ports one agent keeps a connector for; any further one evicts the least recently used.
const MAX_PORT_CONNECTORS = 64;

// The longest an idle connection is kept for a host crawled with a delay, and how many such origins a
// thread remembers (the least recently crawled is forgotten: its next connection gets the policy's time).
const MAX_DELAYED_KEEP_ALIVE_MS = 60_000;
const MAX_DELAYED_ORIGINS = 10_000;
const delayedOrigins = new LRUCache<string, number>({ max: MAX_DELAYED_ORIGINS });

/**
 * The origin of `url` is crawled with a delay of `delayMs` between requests: its connections are kept
 * idle that much longer than `policy.keepAliveMs` (up to a minute), so that the next request reuses one
 * instead of a new handshake. Applies to the origin's connections opened from now on.
 */
export function keepConnectionsFor(url: string, delayMs: number, policy: FetchPolicy): void {
  delayedOrigins.set(new URL(url).origin, Math.min(MAX_DELAYED_KEEP_ALIVE_MS, delayMs + policy.keepAliveMs));
}

function createGuardedAgent(policy: FetchPolicy): GuardedAgent {
  const guard = createAddressGuard(policy);
  const overrides = new Map(Object.entries(policy.resolve).map(([host, ip]) => [host.toLowerCase(), ip]));
  // Allow-list entries may name a port, and a lookup is never told the port: one connector per port.
  const connectors = new LRUCache<number, buildConnector.connector>({ max: MAX_PORT_CONNECTORS });
  const connect: buildConnector.connector = (options, callback) => {
    const port = Number(options.port) || (options.protocol === "https:" ? 443 : 80);
    let connector = connectors.get(port);
    if (connector === undefined) {
      connector = buildConnector({ timeout: policy.connectTimeoutMs, lookup: guardedLookup(guard, overrides, port) });
      connectors.set(port, connector);
    }
    connector(options, callback);
  };
  // undici keeps an idle connection for the server's Keep-Alive hint (up to 10 minutes) or 4 s: across
  // thousands of hosts, each seldom revisited, that is thousands of idle sockets (tens of kilobytes each). A host
  // crawled with a delay keeps its connections for the delay more (keepConnectionsFor).
  const factory = (origin: string | URL, options: Agent.Options) => {
    const keepAliveMs = delayedOrigins.get(new URL(origin).origin) ?? policy.keepAliveMs;
    return new Pool(origin, { ...options, keepAliveTimeout: keepAliveMs, keepAliveMaxTimeout: keepAliveMs });
  };
  return { agent: new Agent({ connect, factory }), guard };
}

/**
 * A `lookup` for net/tls.connect to `port`: resolves the name (static overrides first), then lets the
 * connection go ahead only if every address passes the guard. Node connects only to the
 * addresses returned here, so a second, rebinding answer never gets a chance.
 */
function guardedLookup(guard: AddressGuard, overrides: Map<string, string>, port: number): LookupFunction {
  return (hostname, options, callback) => {
    const deliver = (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]): void => {
      if (err !== null) return callback(err, []);
      if (!guard.allowsHost(hostname, port)) {
        for (const { address } of addresses) {
          if (guard.check(address, port).blocked) {
            // Which address, or which kind, would map the network behind the name for whoever submits it.
            const reason = `blocked address for ${hostname}: the name resolves to a non-public address`;
            return callback(crawlError("BLOCKED_ADDRESS", reason, false), []);
          }
        }
      }
      const first = addresses[0];
      if (options.all === true) callback(null, addresses);
      else if (first !== undefined) callback(null, first.address, first.family);
      else callback(notFound(hostname, "no address"), []);
    };

    const override = overrides.get(hostname.toLowerCase());
    if (override === undefined) {
      dnsLookup(hostname, { ...options, all: true }, deliver);
    } else if (isIP(override) === 0) {
      deliver(notFound(hostname, `resolve override is not an IP address: ${override}`), []);
    } else {
      deliver(null, [{ address: override, family: isIP(override) }]);
    }
  };
}

function notFound(hostname: string, detail: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${detail} for ${hostname}`), { code: "ENOTFOUND", hostname });
}

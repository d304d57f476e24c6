import { lookup as dnsLookup } from "node:dns";
import { isIP } from "node:net";
import { Agent } from "undici";
import { createAddressGuard } from "./address-guard.js";
import { crawlError } from "./errors.js";
// Policies come from configuration, so only a handful are ever distinct; the cap is a backstop.
const MAX_AGENTS = 16;
const agents = new Map();
/** The shared agent for this policy's connection settings, created on first use. */
export function guardedAgentFor(policy) {
    const key = JSON.stringify([policy.connectTimeoutMs, policy.allowPrivate, policy.allowList, policy.resolve]);
    let entry = agents.get(key);
    if (entry === undefined) {
        if (agents.size >= MAX_AGENTS)
            evictOldest();
        entry = createGuardedAgent(policy);
        agents.set(key, entry);
    }
    return entry;
}
/** Closes every shared agent, letting requests in flight finish; for a worker's shutdown. */
export async function closeHttpAgents() {
    const closing = [...agents.values()].map(({ agent }) => agent.close());
    agents.clear();
    await Promise.all(closing);
}
function evictOldest() {
    const oldest = agents.entries().next();
    if (oldest.done === true)
        return;
    const [key, { agent }] = oldest.value;
    agents.delete(key);
    void agent.close();
}
function createGuardedAgent(policy) {
    const guard = createAddressGuard(policy);
    const overrides = new Map(Object.entries(policy.resolve).map(([host, ip]) => [host.toLowerCase(), ip]));
    const agent = new Agent({
        connect: { timeout: policy.connectTimeoutMs, lookup: guardedLookup(guard, overrides) },
    });
    return { agent, guard };
}
/**
 * A `lookup` for net/tls.connect: resolves the name (static overrides first), then lets the
 * connection go ahead only if every address passes the guard. Node connects to exactly the
 * address returned here, so a second, rebinding answer never gets a chance.
 */
function guardedLookup(guard, overrides) {
    return (hostname, options, callback) => {
        const deliver = (err, addresses) => {
            if (err !== null)
                return callback(err, []);
            if (!guard.allowsHost(hostname)) {
                for (const { address } of addresses) {
                    const decision = guard.check(address);
                    if (decision.blocked) {
                        const reason = `blocked address ${address} (${decision.range}) for ${hostname}`;
                        return callback(crawlError("BLOCKED_ADDRESS", reason, false), []);
                    }
                }
            }
            const first = addresses[0];
            if (options.all === true)
                callback(null, addresses);
            else if (first !== undefined)
                callback(null, first.address, first.family);
            else
                callback(notFound(hostname, "no address"), []);
        };
        const override = overrides.get(hostname.toLowerCase());
        if (override === undefined) {
            dnsLookup(hostname, { ...options, all: true }, deliver);
        }
        else if (isIP(override) === 0) {
            deliver(notFound(hostname, `resolve override is not an IP address: ${override}`), []);
        }
        else {
            deliver(null, [{ address: override, family: isIP(override) }]);
        }
    };
}
function notFound(hostname, detail) {
    return Object.assign(new Error(`${detail} for ${hostname}`), { code: "ENOTFOUND", hostname });
}
//# sourceMappingURL=agent.js.map
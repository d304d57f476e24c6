import ipaddr from "ipaddr.js";
import type { FetchPolicy } from "./types.js";

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** The guard's verdict on one address; `range` is ipaddr.js's name for the address's range. */
export interface GuardDecision {
  blocked: boolean;
  range?: string;
}

/** The part of a {@link FetchPolicy} the SSRF guard reads. */
export type GuardPolicy = Pick<FetchPolicy, "allowPrivate" | "allowList">;

/** A guard with its allow list parsed once, for checking many addresses. */
export interface AddressGuard {
  /**
   * Decides whether a connection to this resolved address may be made, on `port` when known: an allow-list
   * entry with a port covers that port only, so without a port only port-less entries apply.
   */
  check(ip: string, port?: number): GuardDecision;
  /** True when this host name (on `port`) is on the allow list: whatever it resolves to is allowed. */
  allowsHost(hostname: string, port?: number): boolean;
}

/** One CRAWLQ_ALLOW_LIST entry: a network (a CIDR, or one IP) or a host name, on one port or (null) any. */
export type AllowListEntry =
  | { kind: "network"; network: Address; bits: number; port: number | null }
  | { kind: "host"; host: string; port: number | null };

/**
 * Parses allow-list entries: `10.1.0.0/16` and `fd00::/8` (CIDRs, any port), `192.168.7.7` or `::1` (one
 * address, any port), `192.168.7.7:8080` or `[::1]:8080` (one address, that port), `intranet.example`
 * (a name, any port), `intranet.example:8443` (that port). Throws on an entry it cannot read, e.g. a CIDR
 * with a port.
 */
export function parseAllowList(entries: readonly string[]): AllowListEntry[] {
  const parsed: AllowListEntry[] = [];
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    parsed.push(parseAllowEntry(entry));
  }
  return parsed;
}

function parseAllowEntry(entry: string): AllowListEntry {
  if (ipaddr.isValidCIDR(entry)) {
    const [network, bits] = ipaddr.parseCIDR(entry);
    return { kind: "network", network, bits, port: null };
  }
  if (ipaddr.isValid(entry)) return single(entry, null);
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) {
    if (!ipaddr.IPv6.isValid(bracketed[1]!)) throw new Error(`"${entry}" is not an IPv6 address`);
    return single(bracketed[1]!, bracketed[2] === undefined ? null : portNumber(entry, bracketed[2]));
  }
  const withPort = /^([^:]+):(\d+)$/.exec(entry);
  const name = withPort ? withPort[1]! : entry;
  const port = withPort ? portNumber(entry, withPort[2]!) : null;
  if (name.includes("/")) throw new Error(`"${entry}" is not a CIDR (a CIDR takes no port)`);
  if (name.includes(":") || !/^[a-z0-9_.-]+$/.test(name)) throw new Error(`"${entry}" is not a CIDR, an IP or a host name`);
  if (ipaddr.isValid(name)) return single(name, port);
  return { kind: "host", host: name.replace(/\.$/, ""), port };
}

function single(ip: string, port: number | null): AllowListEntry {
  const address = ipaddr.parse(ip);
  return { kind: "network", network: address, bits: address.kind() === "ipv4" ? 32 : 128, port };
}

function portNumber(entry: string, digits: string): number {
  const port = Number(digits);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${entry}" has no valid port (1-65535)`);
  return port;
}

/**
 * Builds the SSRF guard for a policy: every address that is not global unicast
 * (loopback, private, link-local, CGNAT, unspecified, multicast, broadcast, reserved,
 * IPv6 unique-local and site-local, a cloud platform's internal endpoint, ...) is blocked unless
 * `allowPrivate` is set or an allow-list CIDR or IP covers it. IPv6 forms that carry an IPv4 address
 * (mapped, RFC 6145, NAT64, 6to4, ISATAP) are judged by that IPv4 address.
 */
export function createAddressGuard(policy: GuardPolicy): AddressGuard {
  const entries = parseAllowList(policy.allowList);
  const networks = entries.filter((e) => e.kind === "network");
  const hosts = entries.filter((e) => e.kind === "host");
  const onPort = (entryPort: number | null, port: number | undefined) => entryPort === null || entryPort === port;

  const isAllowListed = (address: Address, port: number | undefined): boolean =>
    networks.some(
      (e) => onPort(e.port, port) && address.kind() === e.network.kind() && address.match(e.network, e.bits),
    );

  return {
    check(ip, port) {
      let address: Address;
      try {
        address = ipaddr.parse(ip);
      } catch {
        return { blocked: true, range: "invalid" };
      }
      const embedded = embeddedIPv4(address);
      const own = rangeOf(address);
      // ISATAP's interface id may follow any prefix: a link-local or reserved one is refused for itself.
      const range = embedded !== null && (own === "unicast" || CARRIER_RANGES.has(own)) ? rangeOfIPv4(embedded) : own;
      if (
        policy.allowPrivate ||
        isAllowListed(address, port) ||
        (embedded !== null && isAllowListed(embedded, port))
      ) {
        return { blocked: false, range };
      }
      return { blocked: range !== "unicast", range };
    },
    allowsHost(hostname, port) {
      const name = hostname.toLowerCase().replace(/\.$/, "");
      return hosts.some((e) => e.host === name && onPort(e.port, port));
    },
  };
}

/**
 * The SSRF guard's decision for one IP address (v4 or v6, any notation ipaddr.js parses), on `port` when
 * given (see {@link AddressGuard.check}). A string that is not an IP address is blocked.
 */
export function isBlockedAddress(ip: string, policy: GuardPolicy, port?: number): GuardDecision {
  return createAddressGuard(policy).check(ip, port);
}

// IPv6 ranges that exist only to carry an IPv4 address.
const CARRIER_RANGES = new Set(["ipv4Mapped", "rfc6145", "rfc6052", "6to4"]);

// Public addresses that are a cloud platform's internal service, reachable only from its own VMs.
const PLATFORM_ENDPOINTS = new Set([
  "168.63.129.16", // Azure WireServer (VM agent, platform DNS, health probes)
]);

function rangeOfIPv4(address: ipaddr.IPv4): string {
  return PLATFORM_ENDPOINTS.has(address.toString()) ? "platformEndpoint" : address.range();
}

function rangeOf(address: Address): string {
  if (address.kind() === "ipv4") return rangeOfIPv4(address as ipaddr.IPv4);
  if (isIPv4Compatible(address as ipaddr.IPv6)) return "ipv4Compatible";
  return address.range();
}

/** The IPv4 address an IPv6 address stands for, when it is one of the forms that carry one. */
function embeddedIPv4(address: Address): ipaddr.IPv4 | null {
  if (address.kind() === "ipv4") return null;
  const v6 = address as ipaddr.IPv6;
  const parts = v6.parts;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
  // 64:ff9b::a.b.c.d (RFC 6052 well-known NAT64 prefix) and ::ffff:0:a.b.c.d (RFC 6145).
  if (isPrefix96(parts, [0x64, 0xff9b, 0, 0, 0, 0]) || isPrefix96(parts, [0, 0, 0, 0, 0xffff, 0])) {
    return fromWords(parts[6], parts[7]);
  }
  // 2002:aabb:ccdd::/48 (6to4) carries aa.bb.cc.dd right after the prefix.
  if (parts[0] === 0x2002) return fromWords(parts[1], parts[2]);
  // ISATAP (RFC 5214): an interface id of 0000:5efe:a.b.c.d or 0200:5efe:a.b.c.d, after any prefix.
  if ((parts[4] === 0 || parts[4] === 0x0200) && parts[5] === 0x5efe) return fromWords(parts[6], parts[7]);
  return null;
}

// The deprecated ::a.b.c.d form (RFC 4291 2.5.5.1): nothing routes it, so treat it as non-global.
function isIPv4Compatible(address: ipaddr.IPv6): boolean {
  const range = address.range();
  return range !== "unspecified" && range !== "loopback" && isPrefix96(address.parts, [0, 0, 0, 0, 0, 0]);
}

function isPrefix96(parts: number[], prefix: number[]): boolean {
  return prefix.every((word, index) => parts[index] === word);
}

function fromWords(high: number | undefined, low: number | undefined): ipaddr.IPv4 {
  const h = high ?? 0;
  const l = low ?? 0;
  return new ipaddr.IPv4([h >> 8, h & 0xff, l >> 8, l & 0xff]);
}

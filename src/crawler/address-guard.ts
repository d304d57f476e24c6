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
  /** Decides whether a connection to this resolved address may be made. */
  check(ip: string): GuardDecision;
  /** True when this host name is on the allow list: whatever it resolves to is allowed. */
  allowsHost(hostname: string): boolean;
}

/**
 * Builds the SSRF guard for a policy: every address that is not global unicast
 * (loopback, private, link-local, CGNAT, unspecified, multicast, broadcast, reserved,
 * IPv6 unique-local, ...) is blocked unless `allowPrivate` is set or an allow-list CIDR
 * or IP covers it. IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4) are judged by
 * that IPv4 address.
 */
export function createAddressGuard(policy: GuardPolicy): AddressGuard {
  const allowedNetworks: Array<[Address, number]> = [];
  const allowedHosts = new Set<string>();
  for (const raw of policy.allowList) {
    const entry = raw.trim();
    if (entry === "") continue;
    if (ipaddr.isValidCIDR(entry)) {
      allowedNetworks.push(ipaddr.parseCIDR(entry));
    } else if (ipaddr.isValid(entry)) {
      const address = ipaddr.parse(entry);
      allowedNetworks.push([address, address.kind() === "ipv4" ? 32 : 128]);
    } else {
      allowedHosts.add(entry.toLowerCase());
    }
  }

  const isAllowListed = (address: Address): boolean =>
    allowedNetworks.some(([network, bits]) => address.kind() === network.kind() && address.match(network, bits));

  return {
    check(ip) {
      let address: Address;
      try {
        address = ipaddr.parse(ip);
      } catch {
        return { blocked: true, range: "invalid" };
      }
      const embedded = embeddedIPv4(address);
      const range = embedded?.range() ?? rangeOf(address);
      if (policy.allowPrivate || isAllowListed(address) || (embedded !== null && isAllowListed(embedded))) {
        return { blocked: false, range };
      }
      return { blocked: range !== "unicast", range };
    },
    allowsHost(hostname) {
      return allowedHosts.has(hostname.toLowerCase());
    },
  };
}

/**
 * The SSRF guard's decision for one IP address (v4 or v6, any notation ipaddr.js parses).
 * A string that is not an IP address is blocked.
 */
export function isBlockedAddress(ip: string, policy: GuardPolicy): GuardDecision {
  return createAddressGuard(policy).check(ip);
}

function rangeOf(address: Address): string {
  if (address.kind() === "ipv6" && isIPv4Compatible(address as ipaddr.IPv6)) return "ipv4Compatible";
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

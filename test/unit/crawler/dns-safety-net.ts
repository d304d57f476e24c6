import type { LookupAddress, LookupOptions } from "node:dns";

/**
 * node:dns with a lookup that only resolves "localhost" (from /etc/hosts): should a resolve override ever be
 * ignored, the crawler must not ask a real DNS server (a packet off this machine). For `vi.mock("node:dns")`.
 */
export function localhostOnlyDns(dns: typeof import("node:dns")) {
  type Callback = (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void;
  const lookup = (hostname: string, options: LookupOptions, callback: Callback): void => {
    if (hostname === "localhost") {
      dns.lookup(hostname, { ...options, all: true }, callback);
      return;
    }
    const err = Object.assign(new Error(`test safety net: no DNS lookup for ${hostname}`), { code: "ENOTFOUND" });
    process.nextTick(callback, err, []);
  };
  return { ...dns, default: { ...dns, lookup }, lookup };
}

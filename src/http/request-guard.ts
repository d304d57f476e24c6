import ipaddr from "ipaddr.js";
import type { Plugin } from "graphql-yoga";

/** Who may call the API from a browser, and under which Host names; built once from the configuration. */
export interface RequestGuardOptions {
  /** The interface the server binds (HOST). A loopback bind turns the Host check on. */
  bindHost: string;
  /** Exact origins (`scheme://host[:port]`, normalised) that may call the API from a browser. */
  corsOrigins: readonly string[];
  /** Host names (optionally `name:port`) accepted besides loopback ones while bound to loopback. */
  allowedHosts: readonly string[];
}

/** Why a request or a WebSocket upgrade is refused, and with which HTTP status. */
export interface Refusal {
  status: 403 | 421;
  code: "HOST_NOT_ALLOWED" | "ORIGIN_NOT_ALLOWED";
  message: string;
}

/** Decides on the Host and Origin headers of an HTTP request or a WebSocket upgrade. */
export interface RequestGuard {
  /** Null when the request may go on; otherwise why not. Absent headers are passed as null or undefined. */
  check(host: string | null | undefined, origin: string | null | undefined): Refusal | null;
  /** True when this Origin is on the CORS allow-list. */
  isCorsOrigin(origin: string | null | undefined): boolean;
}

/**
 * The Host and Origin checks shared by HTTP, SSE and WebSocket:
 * - bound to loopback, the Host header must name loopback (`localhost`, `127.x.y.z`, `[::1]`, any port) or
 *   an allowed host: a page whose own name was re-pointed at 127.0.0.1 (DNS rebinding) sends its own name;
 * - a browser's Origin must be the service's own (as addressed by the Host header) or on the CORS list, so
 *   no other site can drive the API from a visitor's browser. Requests without Origin (scripts, CLIs) pass.
 */
export function createRequestGuard(options: RequestGuardOptions): RequestGuard {
  const checkHost = isLoopbackHost(options.bindHost);
  const allowedHosts = new Set(options.allowedHosts.map((host) => host.toLowerCase()));
  const corsOrigins = new Set(options.corsOrigins);

  const hostAllowed = (host: string): boolean => {
    const url = parseAuthority("http:", host);
    if (url === null) return false;
    return isLoopbackHost(url.hostname) || allowedHosts.has(url.hostname) || allowedHosts.has(url.host);
  };

  return {
    check(host, origin) {
      // A browser always sends Host; a request without one comes from no browser, so it cannot be rebound.
      if (checkHost && host != null && !hostAllowed(host)) {
        return {
          status: 421,
          code: "HOST_NOT_ALLOWED",
          message: "This service does not answer to that host name (see CRAWLQ_ALLOWED_HOSTS)",
        };
      }
      if (origin == null || corsOrigins.has(origin) || isSameOrigin(origin, host)) return null;
      return {
        status: 403,
        code: "ORIGIN_NOT_ALLOWED",
        message: "Requests from this browser origin are not allowed (see CRAWLQ_CORS_ORIGINS)",
      };
    },
    isCorsOrigin(origin) {
      return origin != null && corsOrigins.has(origin);
    },
  };
}

/**
 * True for a name or address that can only mean this machine: `localhost` and `*.localhost`, 127.0.0.0/8,
 * `::1` (bracketed or not) and IPv4-mapped loopback. Any other name could resolve anywhere.
 */
export function isLoopbackHost(host: string): boolean {
  const name = host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1")
    .replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (!ipaddr.isValid(name)) return false;
  return ipaddr.process(name).range() === "loopback";
}

/**
 * `https://App.example.com:443/` → `https://app.example.com`, as browsers send it in Origin; null for
 * anything that is not one exact http(s) origin (`*`, `null`, a path, credentials).
 */
export function normaliseOrigin(entry: string): string | null {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return null;
  }
  const bare = url.pathname === "/" && url.search === "" && url.hash === "" && url.username === "" && url.password === "";
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !bare) return null;
  return url.origin;
}

// Same origin as the service itself, addressed by this request's Host: GraphiQL served by the service.
function isSameOrigin(origin: string, host: string | null | undefined): boolean {
  if (host == null) return false;
  let originUrl: URL;
  try {
    originUrl = new URL(origin);
  } catch {
    return false;
  }
  if (originUrl.protocol !== "http:" && originUrl.protocol !== "https:") return false;
  // Parsed with the Origin's scheme, so a default port (:80, :443) compares equal to none.
  const served = parseAuthority(originUrl.protocol, host);
  return served !== null && served.host === originUrl.host;
}

function parseAuthority(protocol: string, host: string): URL | null {
  if (host === "" || /[/?#@\\\s]/.test(host)) return null;
  try {
    return new URL(`${protocol}//${host}`);
  } catch {
    return null;
  }
}

/**
 * Yoga plugin: refuses, before anything is parsed, an HTTP or SSE request the guard refuses (a JSON
 * GraphQL error with the refusal's code and status). With CORS on, answers vary by Origin.
 */
export function useRequestGuard(guard: RequestGuard, corsEnabled: boolean): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      const refusal = guard.check(request.headers.get("host"), request.headers.get("origin"));
      if (refusal === null) return;
      const body = JSON.stringify({ errors: [{ message: refusal.message, extensions: { code: refusal.code } }] });
      endResponse(
        new fetchAPI.Response(body, {
          status: refusal.status,
          headers: { "content-type": "application/json; charset=utf-8" },
        }),
      );
    },
    onResponse({ response }) {
      if (corsEnabled) response.headers.append("vary", "Origin");
    },
  };
}

/**
 * Yoga's `cors` option: no CORS headers at all unless an origin is listed; for a listed Origin, that
 * origin alone and never credentials.
 */
export function corsOption(guard: RequestGuard, corsOrigins: readonly string[]) {
  if (corsOrigins.length === 0) return false as const;
  return (request: Request) => {
    const origin = request.headers.get("origin");
    if (origin === null || !guard.isCorsOrigin(origin)) return false as const;
    return { origin: [origin], credentials: false, methods: ["GET", "POST"] };
  };
}

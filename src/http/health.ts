import type { Plugin } from "graphql-yoga";

/** Why the service cannot take work right now, or null when it can. */
export type ReadinessCheck = () => Promise<string | null>;

/**
 * Health for supervisors and load balancers (GraphQL's own `/health` stays, as an alias of `/healthz`):
 * - `/healthz`: the process answers (liveness);
 * - `/readyz`: it can take work: the database answers, the pool runs, it is not shutting down; else 503
 *   with the reason.
 * Neither needs an API key.
 */
export function useHealthEndpoints(ready: ReadinessCheck): Plugin {
  const json = (status: number, body: object) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "cache-control": "no-store" } });
  return {
    async onRequest({ url, endResponse }) {
      if (url.pathname === "/healthz") return endResponse(json(200, { status: "ok" }));
      if (url.pathname !== "/readyz") return;
      let reason: string | null;
      try {
        reason = await ready();
      } catch (error) {
        reason = `readiness check failed: ${error instanceof Error ? error.message : String(error)}`;
      }
      endResponse(reason === null ? json(200, { status: "ready" }) : json(503, { status: "not ready", reason }));
    },
  };
}

import type { Caller, KeyStore } from "../auth/api-keys.js";
import { CrawlqError } from "../tasks/errors.js";

/** No valid API key on a service that has keys: HTTP 401, or the WebSocket closed with 4401. */
export class UnauthenticatedError extends CrawlqError {
  constructor() {
    super("UNAUTHENTICATED", "This crawlq requires an API key: send `Authorization: Bearer <key>`", {
      http: { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="crawlq"' } },
    });
  }
}

/** The key in an `Authorization: Bearer <key>` value, or null. */
export function bearerToken(authorization: unknown): string | null {
  if (typeof authorization !== "string") return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match ? match[1]! : null;
}

/**
 * Who a request is: null while the service has no active key (it is then open to every client that can
 * reach it), else the key's caller; a missing, unknown or revoked key is UNAUTHENTICATED.
 */
export async function authenticate(keys: KeyStore, token: string | null): Promise<Caller | null> {
  if (!(await keys.anyActive())) return null;
  const caller = token === null ? null : await keys.authenticate(token);
  if (caller === null) throw new UnauthenticatedError();
  return caller;
}

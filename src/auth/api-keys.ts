import { createHash, randomBytes } from "node:crypto";
import { CrawlqError } from "../tasks/errors.js";

/** Who is calling: the key a request presented. */
export interface Caller {
  keyId: number;
  name: string;
  /** An admin key sees every task and the whole pool. */
  admin: boolean;
}

export interface ApiKeyRecord {
  id: number;
  name: string;
  admin: boolean;
  createdAt: Date;
  revokedAt: Date | null;
}

/**
 * Where API keys live (the same database as the tasks). Only a key's SHA-256 is stored: a key is random
 * (256 bits), so a fast hash is enough and lets a request be checked with one indexed lookup.
 */
export interface KeyStore {
  /** Creates a key; the key is returned here once and can never be read back. */
  create(name: string, admin: boolean): Promise<{ key: string; record: ApiKeyRecord }>;
  list(): Promise<ApiKeyRecord[]>;
  /** Revokes the named key; false when there is no such active key. */
  revoke(name: string): Promise<boolean>;
  /** The caller a presented key stands for, or null (unknown or revoked). */
  authenticate(key: string): Promise<Caller | null>;
  /** Whether any key is active: then every request needs one. */
  anyActive(): Promise<boolean>;
  close(): Promise<void>;
}

const KEY_PREFIX = "cq_";

/** A new key: "cq_" and 43 characters of base64url (32 random bytes). */
export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString("base64url");
}

export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** Key names are what operators type: letters, digits, `.`, `_`, `-`, 1 to 64 characters. */
export function isValidKeyName(name: string): boolean {
  return /^[A-Za-z0-9._-]{1,64}$/.test(name);
}

/** Throws BAD_KEY_NAME unless `name` is a valid key name (every KeyStore checks before it creates). */
export function assertValidKeyName(name: string): void {
  if (!isValidKeyName(name)) {
    throw new CrawlqError("BAD_KEY_NAME", `A key name is 1 to 64 letters, digits, ".", "_" or "-": ${JSON.stringify(name)}`);
  }
}

/** A key of that name exists, active or revoked: names are never reused. */
export function keyExistsError(name: string): CrawlqError {
  return new CrawlqError("KEY_EXISTS", `A key named ${name} exists already (names are never reused)`);
}

/**
 * What a token is: a long random secret with a recognisable prefix, bound to a project. Two kinds
 * exist: monitoring tokens (read a project's metrics) and ingest tokens (write samples; bound to one
 * project or, with project "*", to all). Only a token's SHA-256 is ever stored. The rules of their
 * use (verification, caps, last-used times) are token-store.ts; where rows live, token-table.ts.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";

/** What every token starts with, so leaked ones are easy to recognise and scan for. */
export const MONITORING_TOKEN_PREFIX = "mim_mon_";
export const INGEST_TOKEN_PREFIX = "mim_ing_";
/** An ingest token's project when it may write to every project. */
export const ALL_PROJECTS = "*";

export interface TokenKind {
  /** Table holding this kind's rows (the same name in SQLite and PostgreSQL). */
  table: "monitoring_tokens" | "ingest_tokens";
  prefix: string;
}

export const MONITORING_TOKENS: TokenKind = { table: "monitoring_tokens", prefix: MONITORING_TOKEN_PREFIX };
export const INGEST_TOKENS: TokenKind = { table: "ingest_tokens", prefix: INGEST_TOKEN_PREFIX };
export const TOKEN_KINDS: readonly TokenKind[] = [MONITORING_TOKENS, INGEST_TOKENS];

/** Characters of a token shown in listings to tell tokens apart: the prefix and 6 of the secret. */
const SHOWN_SECRET_CHARS = 6;

export interface TokenInfo {
  id: string;
  projectId: string;
  name: string;
  /** The token's first characters, safe to show. */
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

export interface CreatedToken extends TokenInfo {
  /** The secret itself; returned once, never stored. */
  token: string;
}

/** How a token may be created: at most `maxLive` live tokens of the project (0 or absent = no cap). */
export interface CreateTokenOptions {
  maxLive?: number;
}

export type Verification =
  | { ok: true; token: TokenInfo }
  | { ok: false; reason: "unknown" | "expired" | "revoked"; expiredAt?: Date };

/** A stored token, as every table keeps it (times in ms since the epoch). */
export interface TokenRow {
  id: string;
  projectId: string;
  name: string;
  prefix: string;
  hash: Buffer;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** What is stored of a token: its SHA-256. */
export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** A new token of a kind: the secret (shown once) and the row to store. */
export function newToken(
  kind: TokenKind,
  projectId: string,
  name: string,
  expiresAt: Date | null,
  now: number,
): { token: string; row: TokenRow } {
  const token = kind.prefix + randomBytes(32).toString("base64url");
  const row: TokenRow = {
    id: `tok_${randomUUID().replaceAll("-", "").slice(0, 20)}`,
    projectId,
    name,
    prefix: token.slice(0, kind.prefix.length + SHOWN_SECRET_CHARS),
    hash: hashToken(token),
    createdAt: now,
    expiresAt: expiresAt ? expiresAt.getTime() : null,
    lastUsedAt: null,
    revokedAt: null,
  };
  return { token, row };
}

/** What may be shown of a row; `lastUsed` is a use noted since the row was read. */
export function tokenInfo(r: TokenRow, lastUsed?: number): TokenInfo {
  const used = Math.max(lastUsed ?? 0, r.lastUsedAt ?? 0);
  return {
    id: r.id,
    projectId: r.projectId,
    name: r.name,
    prefix: r.prefix,
    createdAt: new Date(r.createdAt),
    expiresAt: r.expiresAt === null ? null : new Date(r.expiresAt),
    lastUsedAt: used > 0 ? new Date(used) : null,
  };
}

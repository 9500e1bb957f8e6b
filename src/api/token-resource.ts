/**
 * A token as the admin and monitoring APIs write it in JSON (never its secret, which appears once,
 * in the answer that created it). The page imports this type too (web/src/api.ts), so the two ends
 * of the wire cannot drift apart; keep this file free of imports so the page's build can read it.
 */
export interface TokenResource {
  id: string;
  project_id: string;
  name: string;
  prefix: string;
  /** RFC 3339. */
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

/** The answer to a token creation: the resource and, this once, the token itself. */
export type CreatedTokenResource = TokenResource & { token: string };

/**
 * Authentication for the two kinds of callers: customers with a monitoring token bound to one
 * project, and the operator (or the CLI) with the admin key. Failures are ApiErrors in
 * Prometheus's envelope; a token used on another project's URL gets the same 403 whether that
 * project exists or not.
 */
import type { FastifyRequest } from "fastify";
import { adminKeyMatches } from "../auth/admin-key.js";
import { MONITORING_TOKEN_PREFIX, type TokenInfo } from "../auth/tokens.js";
import type { ApiContext } from "./context.js";
import { ApiError } from "./errors.js";

const PROJECT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isValidProjectId(id: string): boolean {
  return PROJECT_ID_RE.test(id);
}

const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="managed-inference-metrics"' };

function bearer(request: FastifyRequest, what: string): string {
  const h = request.headers.authorization;
  if (h === undefined || h === "") {
    throw new ApiError(
      "unauthorized",
      `missing credentials: send the ${what} as "Authorization: Bearer <${what}>"`,
      CHALLENGE,
    );
  }
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  if (!m) {
    throw new ApiError(
      "unauthorized",
      `malformed Authorization header: expected "Bearer <${what}>"`,
      CHALLENGE,
    );
  }
  return m[1];
}

/** Checks the monitoring token on a project's query route; returns the token for logging and limits. */
export async function authorizeMonitoring(
  ctx: ApiContext,
  request: FastifyRequest,
  projectId: string,
): Promise<TokenInfo> {
  const presented = bearer(request, "monitoring token");
  const v = await ctx.tokens.verify(presented);
  if (!v.ok) {
    ctx.metrics.authFailures.inc({ reason: v.reason });
    const message =
      v.reason === "expired"
        ? `monitoring token expired at ${v.expiredAt?.toISOString()}; create a new one`
        : v.reason === "revoked"
          ? "monitoring token has been revoked"
          : "invalid monitoring token";
    throw new ApiError("unauthorized", message, CHALLENGE);
  }
  if (v.token.projectId !== projectId) {
    ctx.metrics.authFailures.inc({ reason: "wrong_project" });
    throw new ApiError("forbidden", "this monitoring token does not grant access to the requested project");
  }
  const rate = ctx.rateLimiter.take(v.token.id);
  if (!rate.allowed) {
    ctx.metrics.rateLimited.inc();
    throw new ApiError(
      "too_many_requests",
      `rate limit of ${ctx.limits.rateLimitPerSecond} requests/s per token exceeded; retry after ${rate.retryAfterSeconds}s`,
      { "Retry-After": String(rate.retryAfterSeconds) },
    );
  }
  return v.token;
}

/**
 * Who may manage a project's monitoring tokens: the admin key, or a monitoring token of that
 * project (so the metrics page, signed in with a token, can manage its project's tokens). Returns
 * the token when the caller is one, so what it creates can be held to its own expiry.
 */
export async function authorizeTokenManager(
  ctx: ApiContext,
  request: FastifyRequest,
  projectId: string,
): Promise<TokenInfo | null> {
  const presented = bearer(request, "admin key or monitoring token");
  if (!presented.startsWith(MONITORING_TOKEN_PREFIX)) {
    authorizeAdmin(ctx, request);
    return null;
  }
  return authorizeMonitoring(ctx, request, projectId);
}

export function authorizeAdmin(ctx: ApiContext, request: FastifyRequest): void {
  const presented = bearer(request, "admin key");
  if (!adminKeyMatches(ctx.adminKey, presented)) {
    ctx.metrics.authFailures.inc({ reason: "admin_key" });
    throw new ApiError("unauthorized", "invalid admin key", CHALLENGE);
  }
}

/**
 * Authentication for the two kinds of callers: customers with a monitoring token bound to one
 * project, and the operator (or the CLI) with the admin key. Failures are ApiErrors in
 * Prometheus's envelope; a token used on another project's URL gets the same 403 whether that
 * project exists or not.
 *
 * Limits that another token cannot escape sit here too: requests per project besides per token,
 * and failed authentications per client address (the socket's address: no proxy header is
 * trusted). An address past its failure limit gets 429 for every request needing credentials,
 * correct ones included, until its bucket refills: were a correct guess still answered, a
 * brute-force client would go on guessing through the 429s and learn its hit from the one 200.
 */
import type { FastifyRequest } from "fastify";
import { adminKeyMatches } from "../auth/admin-key.js";
import { clientAddressKey } from "../auth/rate-limit.js";
import { MONITORING_TOKEN_PREFIX, type TokenInfo } from "../auth/tokens.js";
import { type ApiContext, limitersOf } from "./context.js";
import { ApiError } from "./errors.js";

/** What every 401 carries, so clients know to send a bearer token. */
export const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="managed-inference-metrics"' };

function tooManyRequests(message: string, retryAfterSeconds: number): ApiError {
  return new ApiError("too_many_requests", `${message}; retry after ${retryAfterSeconds}s`, {
    "Retry-After": String(retryAfterSeconds),
  });
}

/**
 * Refuses a client address that is past its failed-authentication limit. Checked before the
 * credentials are even looked at, and without counting: the refusal does not lengthen the wait.
 */
export function refuseLimitedAddress(ctx: ApiContext, request: FastifyRequest): void {
  const d = limitersOf(ctx).authFailures.check(clientAddressKey(request.ip));
  if (!d.allowed) {
    ctx.metrics.rateLimited.inc();
    throw tooManyRequests(
      `too many failed authentication attempts from this address (limit ${ctx.limits.authFailuresPerMinute}/min)`,
      d.retryAfterSeconds,
    );
  }
}

/**
 * Counts a failed authentication against the client's address. Only failures a guesser makes
 * count: an unknown token, a wrong admin key, a malformed header. Not missing credentials (a
 * browser's or probe's first request), nor an expired or revoked token or one for another project
 * (whoever sends those already holds a real token; counting them would let one stale Grafana lock
 * out everyone behind the same address).
 */
export function noteAuthFailure(ctx: ApiContext, request: FastifyRequest): void {
  limitersOf(ctx).authFailures.take(clientAddressKey(request.ip));
}

/**
 * The bearer token of a request, `what` naming it in the errors (e.g. "ingest token"). A malformed
 * header counts as a failed authentication; missing credentials do not (a sender not yet set up).
 */
export function bearer(ctx: ApiContext, request: FastifyRequest, what: string): string {
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
    noteAuthFailure(ctx, request);
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
  refuseLimitedAddress(ctx, request);
  return checkMonitoring(ctx, request, projectId, bearer(ctx, request, "monitoring token"));
}

async function checkMonitoring(
  ctx: ApiContext,
  request: FastifyRequest,
  projectId: string,
  presented: string,
): Promise<TokenInfo> {
  const v = await ctx.tokens.verify(presented);
  if (!v.ok) {
    ctx.metrics.authFailures.inc({ reason: v.reason });
    if (v.reason === "unknown") noteAuthFailure(ctx, request);
    const message =
      v.reason === "expired"
        ? `monitoring token expired at ${v.expiredAt?.toISOString()}; create a new one`
        : v.reason === "revoked"
          ? "monitoring token has been revoked"
          : "invalid monitoring token";
    throw new ApiError("unauthorized", message, CHALLENGE);
  }
  // The token's own limit comes first, so a token probing other projects' URLs is limited too.
  const rate = ctx.rateLimiter.take(v.token.id);
  if (!rate.allowed) {
    ctx.metrics.rateLimited.inc();
    throw tooManyRequests(
      `rate limit of ${ctx.limits.rateLimitPerSecond} requests/s per token exceeded`,
      rate.retryAfterSeconds,
    );
  }
  if (v.token.projectId !== projectId) {
    ctx.metrics.authFailures.inc({ reason: "wrong_project" });
    throw new ApiError("forbidden", "this monitoring token does not grant access to the requested project");
  }
  const projectRate = limitersOf(ctx).project.take(projectId);
  if (!projectRate.allowed) {
    // The request is not served: it should not also use up the token's own allowance.
    ctx.rateLimiter.refund(v.token.id);
    ctx.metrics.rateLimited.inc();
    throw tooManyRequests(
      `rate limit of ${ctx.limits.projectRateLimitPerSecond} requests/s for project ${projectId} exceeded (all its tokens together)`,
      projectRate.retryAfterSeconds,
    );
  }
  return v.token;
}

/**
 * Who may manage a project's monitoring tokens: the admin key, or a monitoring token of that
 * project (so the metrics page, signed in with a token, can manage its project's tokens). Returns
 * the token when the caller is one, so what it creates can be held to its own expiry and to the
 * project's minting rate.
 */
export async function authorizeTokenManager(
  ctx: ApiContext,
  request: FastifyRequest,
  projectId: string,
): Promise<TokenInfo | null> {
  refuseLimitedAddress(ctx, request);
  const presented = bearer(ctx, request, "admin key or monitoring token");
  if (!presented.startsWith(MONITORING_TOKEN_PREFIX)) {
    checkAdmin(ctx, request, presented);
    return null;
  }
  return checkMonitoring(ctx, request, projectId, presented);
}

export function authorizeAdmin(ctx: ApiContext, request: FastifyRequest): void {
  refuseLimitedAddress(ctx, request);
  checkAdmin(ctx, request, bearer(ctx, request, "admin key"));
}

function checkAdmin(ctx: ApiContext, request: FastifyRequest, presented: string): void {
  if (!adminKeyMatches(ctx.adminKey, presented)) {
    ctx.metrics.authFailures.inc({ reason: "admin_key" });
    noteAuthFailure(ctx, request);
    throw new ApiError("unauthorized", "invalid admin key", CHALLENGE);
  }
}

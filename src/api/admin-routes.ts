/**
 * The token admin API, authenticated by the admin key:
 *   POST   /v1alpha5/projects/{project_id}/monitoring/tokens      {"name", "expires_at"? | "expires_in"?}
 *   GET    /v1alpha5/projects/{project_id}/monitoring/tokens
 *   DELETE /v1alpha5/projects/{project_id}/monitoring/tokens/{token_id}
 *   POST   /v1alpha5/ingest-tokens      {"name", "project_id"? (default "*": every project), expiry}
 *   GET    /v1alpha5/ingest-tokens[?project_id=…]
 *   DELETE /v1alpha5/ingest-tokens/{token_id}
 * Success bodies are plain JSON resources; errors use the query API's envelope.
 *
 * Creation is limited per project: at most `maxTokensPerProject` live tokens of each kind (the
 * admin key included: an operator who needs more raises the flag or revokes, rather than being
 * let past silently), and monitoring tokens minted by a monitoring token at most
 * `tokenCreatesPerMinute` (the admin key is exempt: provisioning is the operator's business).
 * Both answer 429 with Retry-After. A store whose disk is full answers 503 with Retry-After.
 */
import { z } from "zod";
import { isDiskFull, TokenLimitError } from "../auth/errors.js";
import type { TokenStore } from "../auth/token-store.js";
import { ALL_PROJECTS, type TokenInfo } from "../auth/tokens.js";
import { isValidProjectId } from "../storage/index.js";
import { type ApiContext, limitersOf } from "./context.js";
import { ApiError } from "./errors.js";
import { parseDuration, parseTime } from "./params.js";
import type { CreatedTokenResource, TokenResource } from "./token-resource.js";

const CreateBody = z
  .object({
    name: z.string().trim().min(1, "name must not be empty").max(200, "name is longer than 200 characters"),
    expires_at: z.union([z.string(), z.number()]).nullish(),
    expires_in: z.string().nullish(),
  })
  .strict();

function resource(t: TokenInfo): TokenResource {
  return {
    id: t.id,
    project_id: t.projectId,
    name: t.name,
    prefix: t.prefix,
    created_at: t.createdAt.toISOString(),
    expires_at: t.expiresAt?.toISOString() ?? null,
    last_used_at: t.lastUsedAt?.toISOString() ?? null,
  };
}

function checkProject(projectId: string): void {
  if (!isValidProjectId(projectId)) {
    throw ApiError.badData(
      `invalid project id ${JSON.stringify(projectId)}: use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
}

function expiry(ctx: ApiContext, body: z.infer<typeof CreateBody>): Date | null {
  if (body.expires_at != null && body.expires_in != null) {
    throw ApiError.badData("give either expires_at or expires_in, not both");
  }
  let at: number | null = null;
  try {
    if (body.expires_at != null) at = parseTime(String(body.expires_at));
    if (body.expires_in != null) at = ctx.now() + parseDuration(body.expires_in);
  } catch (err) {
    throw ApiError.badData(`invalid expiry: ${(err as Error).message}`);
  }
  if (at === null) return null;
  if (!(at > ctx.now())) throw ApiError.badData("expiry must be in the future");
  if (at > 8_640_000_000_000_000) throw ApiError.badData("expiry is too far in the future");
  return new Date(at);
}

function parseBody<T extends z.ZodType>(schema: T, rawBody: unknown): z.infer<T> {
  const parsed = schema.safeParse(rawBody ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw ApiError.badData(`invalid request body: ${where}${issue.message}`);
  }
  return parsed.data;
}

/** Seconds a client is asked to wait when the token store's disk is full. */
const DISK_FULL_RETRY_AFTER_SECONDS = 60;

/** Runs a token-store call, answering a full disk with 503 and Retry-After instead of 500. */
async function stored<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isDiskFull(err)) {
      throw new ApiError("unavailable", "the token store is out of disk space; retry later", {
        "Retry-After": String(DISK_FULL_RETRY_AFTER_SECONDS),
      });
    }
    throw err;
  }
}

/** The longest Retry-After a full project is given: nothing frees a place but an expiry or a revocation. */
const MAX_CAP_RETRY_AFTER_SECONDS = 3_600;

async function create(
  ctx: ApiContext,
  store: TokenStore,
  projectId: string,
  body: z.infer<typeof CreateBody>,
  what: string,
): Promise<CreatedTokenResource> {
  const expiresAt = expiry(ctx, body);
  // "*" (all projects) names no project, so it has no project's cap.
  const maxLive = projectId === ALL_PROJECTS ? 0 : ctx.limits.maxTokensPerProject;
  try {
    const created = await stored(() => store.create(projectId, body.name, expiresAt, { maxLive }));
    return { ...resource(created), token: created.token };
  } catch (err) {
    if (!(err instanceof TokenLimitError)) throw err;
    const untilExpiry =
      err.firstExpiry === null
        ? Number.POSITIVE_INFINITY
        : Math.ceil((err.firstExpiry.getTime() - ctx.now()) / 1000);
    const retryAfter = Math.max(1, Math.min(MAX_CAP_RETRY_AFTER_SECONDS, untilExpiry));
    ctx.metrics.rateLimited.inc();
    throw new ApiError(
      "too_many_requests",
      `project ${projectId} already has ${err.maxLive} live ${what}, the most allowed; revoke one first${
        Number.isFinite(untilExpiry) ? ` or retry after ${retryAfter}s, when the first of them expires` : ""
      }`,
      { "Retry-After": String(retryAfter) },
    );
  }
}

export async function createToken(
  ctx: ApiContext,
  projectId: string,
  rawBody: unknown,
  /** The monitoring token making the request, when it is not the admin key. */
  caller: TokenInfo | null = null,
): Promise<CreatedTokenResource> {
  checkProject(projectId);
  const body = parseBody(CreateBody, rawBody);
  const limit = caller?.expiresAt;
  if (limit) {
    // A token cannot mint access that outlives it.
    const wanted = expiry(ctx, body);
    if (wanted === null || wanted > limit) {
      throw ApiError.badData(
        `a token that expires at ${limit.toISOString()} can only create tokens that expire by then; give expires_in or expires_at`,
      );
    }
  }
  if (caller) {
    const rate = limitersOf(ctx).tokenCreates.take(projectId);
    if (!rate.allowed) {
      ctx.metrics.rateLimited.inc();
      throw new ApiError(
        "too_many_requests",
        `at most ${ctx.limits.tokenCreatesPerMinute} monitoring tokens per minute may be created for project ${projectId} with a monitoring token; retry after ${rate.retryAfterSeconds}s`,
        { "Retry-After": String(rate.retryAfterSeconds) },
      );
    }
  }
  return create(ctx, ctx.tokens, projectId, body, "monitoring tokens");
}

const IngestCreateBody = CreateBody.extend({ project_id: z.string().optional() }).strict();

export async function createIngestToken(ctx: ApiContext, rawBody: unknown): Promise<CreatedTokenResource> {
  const body = parseBody(IngestCreateBody, rawBody);
  const projectId = body.project_id ?? ALL_PROJECTS;
  if (projectId !== ALL_PROJECTS) checkProject(projectId);
  return create(ctx, ctx.ingestTokens, projectId, body, "ingest tokens");
}

export async function listIngestTokens(
  ctx: ApiContext,
  projectId: string | undefined,
): Promise<{ tokens: TokenResource[] }> {
  return { tokens: (await stored(() => ctx.ingestTokens.list(projectId || undefined))).map(resource) };
}

export async function revokeIngestToken(ctx: ApiContext, tokenId: string): Promise<void> {
  if (!(await stored(() => ctx.ingestTokens.revokeById(tokenId)))) {
    throw new ApiError("not_found", `no active ingest token ${JSON.stringify(tokenId)}`);
  }
}

export async function listTokens(ctx: ApiContext, projectId: string): Promise<{ tokens: TokenResource[] }> {
  checkProject(projectId);
  return { tokens: (await stored(() => ctx.tokens.list(projectId))).map(resource) };
}

export async function revokeToken(ctx: ApiContext, projectId: string, tokenId: string): Promise<void> {
  checkProject(projectId);
  if (!(await stored(() => ctx.tokens.revoke(projectId, tokenId)))) {
    throw new ApiError("not_found", `project ${projectId} has no active token ${JSON.stringify(tokenId)}`);
  }
}

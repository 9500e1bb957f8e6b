/**
 * The token admin API, authenticated by the admin key:
 *   POST   /v1alpha5/projects/{project_id}/monitoring/tokens      {"name", "expires_at"? | "expires_in"?}
 *   GET    /v1alpha5/projects/{project_id}/monitoring/tokens
 *   DELETE /v1alpha5/projects/{project_id}/monitoring/tokens/{token_id}
 *   POST   /v1alpha5/ingest-tokens      {"name", "project_id"? (default "*": every project), expiry}
 *   GET    /v1alpha5/ingest-tokens[?project_id=…]
 *   DELETE /v1alpha5/ingest-tokens/{token_id}
 * Success bodies are plain JSON resources; errors use the query API's envelope.
 */
import { z } from "zod";
import type { TokenRepository } from "../auth/pg/repository.js";
import { ALL_PROJECTS, type TokenInfo } from "../auth/tokens.js";
import { isValidProjectId } from "./auth.js";
import type { ApiContext } from "./context.js";
import { ApiError } from "./errors.js";
import { parseDuration, parseTime } from "./params.js";

const CreateBody = z
  .object({
    name: z.string().trim().min(1, "name must not be empty").max(200, "name is longer than 200 characters"),
    expires_at: z.union([z.string(), z.number()]).nullish(),
    expires_in: z.string().nullish(),
  })
  .strict();

export interface TokenResource {
  id: string;
  project_id: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

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

async function create(
  ctx: ApiContext,
  store: TokenRepository,
  projectId: string,
  body: z.infer<typeof CreateBody>,
): Promise<TokenResource & { token: string }> {
  const created = await store.create(projectId, body.name, expiry(ctx, body));
  return { ...resource(created), token: created.token };
}

export async function createToken(
  ctx: ApiContext,
  projectId: string,
  rawBody: unknown,
  /** The monitoring token making the request, when it is not the admin key. */
  caller: TokenInfo | null = null,
): Promise<TokenResource & { token: string }> {
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
  return create(ctx, ctx.tokens, projectId, body);
}

const IngestCreateBody = CreateBody.extend({ project_id: z.string().optional() }).strict();

export async function createIngestToken(
  ctx: ApiContext,
  rawBody: unknown,
): Promise<TokenResource & { token: string }> {
  const body = parseBody(IngestCreateBody, rawBody);
  const projectId = body.project_id ?? ALL_PROJECTS;
  if (projectId !== ALL_PROJECTS) checkProject(projectId);
  return create(ctx, ctx.ingestTokens, projectId, body);
}

export async function listIngestTokens(
  ctx: ApiContext,
  projectId: string | undefined,
): Promise<{ tokens: TokenResource[] }> {
  return { tokens: (await ctx.ingestTokens.list(projectId || undefined)).map(resource) };
}

export async function revokeIngestToken(ctx: ApiContext, tokenId: string): Promise<void> {
  if (!(await ctx.ingestTokens.revokeById(tokenId))) {
    throw new ApiError("not_found", `no active ingest token ${JSON.stringify(tokenId)}`);
  }
}

export async function listTokens(ctx: ApiContext, projectId: string): Promise<{ tokens: TokenResource[] }> {
  checkProject(projectId);
  return { tokens: (await ctx.tokens.list(projectId)).map(resource) };
}

export async function revokeToken(ctx: ApiContext, projectId: string, tokenId: string): Promise<void> {
  checkProject(projectId);
  if (!(await ctx.tokens.revoke(projectId, tokenId))) {
    throw new ApiError("not_found", `project ${projectId} has no active token ${JSON.stringify(tokenId)}`);
  }
}

/**
 * The token admin API, authenticated by the admin key:
 *   POST   /v1alpha5/projects/{project_id}/monitoring/tokens      {"name", "expires_at"? | "expires_in"?}
 *   GET    /v1alpha5/projects/{project_id}/monitoring/tokens
 *   DELETE /v1alpha5/projects/{project_id}/monitoring/tokens/{token_id}
 * Success bodies are plain JSON resources; errors use the query API's envelope.
 */
import { z } from "zod";
import type { TokenInfo } from "../auth/tokens.js";
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

export function createToken(
  ctx: ApiContext,
  projectId: string,
  rawBody: unknown,
): TokenResource & { token: string } {
  checkProject(projectId);
  const parsed = CreateBody.safeParse(rawBody ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw ApiError.badData(`invalid request body: ${where}${issue.message}`);
  }
  const created = ctx.tokens.create(projectId, parsed.data.name, expiry(ctx, parsed.data));
  return { ...resource(created), token: created.token };
}

export function listTokens(ctx: ApiContext, projectId: string): { tokens: TokenResource[] } {
  checkProject(projectId);
  return { tokens: ctx.tokens.list(projectId).map(resource) };
}

export function revokeToken(ctx: ApiContext, projectId: string, tokenId: string): void {
  checkProject(projectId);
  if (!ctx.tokens.revoke(projectId, tokenId)) {
    throw new ApiError("not_found", `project ${projectId} has no active token ${JSON.stringify(tokenId)}`);
  }
}

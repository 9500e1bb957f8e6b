/**
 * The scrape config file (`mim serve --scrape-config FILE`), JSON, checked once at start so a typo
 * stops the service with a message naming the file and the field, not a silent gap in the data.
 *
 * ```json
 * {
 *   "interval": "15s",
 *   "timeout": "10s",
 *   "targets": [
 *     { "url": "http://10.0.0.5:8000/metrics", "project_id": "acme", "service_tier": "on_demand" },
 *     {
 *       "name": "llama-70b-pt",
 *       "url": "https://vllm-70b.internal/metrics",
 *       "project_id": "acme",
 *       "service_tier": "pt",
 *       "model_name": "llama-3.1-70b",
 *       "interval": "30s",
 *       "timeout": "5s",
 *       "bearer_token_file": "/etc/mim/vllm-token",
 *       "headers": { "X-Scope": "metrics" }
 *     }
 *   ]
 * }
 * ```
 *
 * Durations are Prometheus's (`500ms`, `15s`, `1m30s`). The top-level `interval` and `timeout`
 * are defaults for every target (15s, and 10s capped at the interval). docs/scraping.md has the
 * rest.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { SERVICE_TIERS, type ServiceTier } from "../../catalog/metrics.js";
import { parseDuration } from "../../promql/duration.js";

export class ScrapeConfigError extends Error {
  override readonly name = "ScrapeConfigError";
}

export interface ScrapeTarget {
  /** For logs and status; defaults to the URL. */
  name: string;
  url: URL;
  project_id: string;
  service_tier: ServiceTier;
  /** Overrides vLLM's `model_name` label when set. */
  model_name: string | undefined;
  intervalMs: number;
  timeoutMs: number;
  bearerToken: string | undefined;
  /** Read at every scrape, so a rotated token is picked up without a restart. */
  bearerTokenFile: string | undefined;
  headers: Readonly<Record<string, string>>;
  /** Largest response body accepted, in bytes. */
  maxBodyBytes: number;
}

export interface ScrapeConfig {
  targets: readonly ScrapeTarget[];
  /** Where it came from, for messages. */
  source: string;
}

export const DEFAULT_INTERVAL_MS = 15_000;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

// Same rule as the query API's project ids, so every scraped series is reachable by a token.
const PROJECT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const duration = z.string().superRefine((s, ctx) => {
  const d = parseDuration(s);
  if (d.error !== undefined)
    ctx.addIssue({ code: "custom", message: `${d.error} (use e.g. 15s, 1m, 500ms)` });
  else if (d.ms <= 0) ctx.addIssue({ code: "custom", message: "must be more than 0s" });
});

const TargetSchema = z
  .object({
    name: z.string().min(1).optional(),
    url: z.string().refine(
      (s) => {
        try {
          const u = new URL(s);
          return (
            (u.protocol === "http:" || u.protocol === "https:") && u.username === "" && u.password === ""
          );
        } catch {
          return false;
        }
      },
      { message: "must be an http:// or https:// URL without user:password (use bearer_token or headers)" },
    ),
    project_id: z.string().regex(PROJECT_ID_RE, {
      message: "must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
    }),
    service_tier: z.enum(SERVICE_TIERS, { message: `must be one of ${SERVICE_TIERS.join(", ")}` }),
    model_name: z.string().min(1).optional(),
    interval: duration.optional(),
    timeout: duration.optional(),
    bearer_token: z.string().min(1).optional(),
    bearer_token_file: z.string().min(1).optional(),
    headers: z
      .record(
        z.string().regex(HEADER_NAME_RE, { message: "not a valid HTTP header name" }),
        z
          .string()
          .refine((v) => !/[\r\n\0]/.test(v), { message: "header values may not contain CR, LF or NUL" }),
      )
      .optional(),
    max_body_bytes: z.number().int().positive().optional(),
  })
  .strict();

const FileSchema = z
  .object({
    interval: duration.optional(),
    timeout: duration.optional(),
    targets: z.array(TargetSchema),
  })
  .strict();

function ms(d: string): number {
  return parseDuration(d).ms;
}

/** Checks config text; every error names the source and the field (`targets[2].service_tier`). */
export function parseScrapeConfig(text: string, source: string): ScrapeConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ScrapeConfigError(`${source}: not valid JSON: ${(err as Error).message}`);
  }
  const parsed = FileSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path
      .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
      .join("");
    throw new ScrapeConfigError(`${source}: ${path || "(top level)"}: ${issue.message}`);
  }
  const file = parsed.data;
  const seen = new Map<string, number>();
  const targets = file.targets.map((t, i): ScrapeTarget => {
    const at = `${source}: targets[${i}]`;
    const intervalMs = ms(t.interval ?? file.interval ?? "15s");
    const explicitTimeout = t.timeout ?? file.timeout;
    const timeoutMs =
      explicitTimeout === undefined ? Math.min(DEFAULT_TIMEOUT_MS, intervalMs) : ms(explicitTimeout);
    if (timeoutMs > intervalMs) {
      throw new ScrapeConfigError(
        `${at}.timeout: ${timeoutMs} ms is longer than the interval (${intervalMs} ms)`,
      );
    }
    const headerNames = Object.keys(t.headers ?? {}).map((h) => h.toLowerCase());
    const auth = [
      t.bearer_token,
      t.bearer_token_file,
      headerNames.includes("authorization") ? "h" : undefined,
    ];
    if (auth.filter((a) => a !== undefined).length > 1) {
      throw new ScrapeConfigError(
        `${at}: use only one of bearer_token, bearer_token_file and an Authorization header`,
      );
    }
    // The same endpoint twice for one project would write every series twice, colliding.
    const key = `${t.url} ${t.project_id}`;
    const previous = seen.get(key);
    if (previous !== undefined) {
      throw new ScrapeConfigError(`${at}: same url and project_id as targets[${previous}]`);
    }
    seen.set(key, i);
    return {
      name: t.name ?? t.url,
      url: new URL(t.url),
      project_id: t.project_id,
      service_tier: t.service_tier,
      model_name: t.model_name,
      intervalMs,
      timeoutMs,
      bearerToken: t.bearer_token,
      bearerTokenFile: t.bearer_token_file,
      headers: t.headers ?? {},
      maxBodyBytes: t.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES,
    };
  });
  return { targets, source };
}

export function loadScrapeConfig(path: string): ScrapeConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ScrapeConfigError(`${path}: ${(err as Error).message}`);
  }
  return parseScrapeConfig(text, path);
}

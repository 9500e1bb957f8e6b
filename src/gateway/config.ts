/**
 * The metering gateway's config file (JSON), checked once at start so a typo stops the gateway
 * with a message naming the file and the field instead of failing on the first request.
 *
 * ```json
 * {
 *   "api_keys": [
 *     { "key": "sk-demo-1", "project_id": "demo" },
 *     { "key_sha256": "<64 hex digits: sha256 of the key>", "project_id": "acme" }
 *   ],
 *   "models": {
 *     "llama-3.1-8b": { "upstream": "http://10.0.0.5:8000/v1", "service_tier": "on_demand" },
 *     "llama-3.1-70b": {
 *       "upstream": "https://pt-pool.internal/v1",
 *       "service_tier": "pt",
 *       "upstream_api_key": "secret",
 *       "timeouts": { "response_ms": 600000 },
 *       "stream_usage": true
 *     }
 *   },
 *   "flush_interval_ms": 15000,
 *   "timeouts": { "response_ms": 300000, "idle_ms": 120000, "total_ms": 900000 },
 *   "max_body_bytes": 33554432,
 *   "instance": "gw-1"
 * }
 * ```
 *
 * - `api_keys`: inference API keys → project. `key` is the plaintext key; `key_sha256` its SHA-256
 *   in hex, so the file need not hold secrets. Exactly one of the two per entry; a key may appear
 *   once. `project_id` follows the query API's rule (1-128 letters, digits, `.`, `_`, `-`).
 * - `models`: the `model` clients send → `upstream` (the OpenAI base URL, including `/v1`; the
 *   gateway appends `/chat/completions`, `/completions`), `service_tier` (`pt` or `on_demand`),
 *   optional `upstream_api_key` (sent as `Authorization: Bearer`; the client's key never is),
 *   optional `timeouts` overriding the global ones, optional `stream_usage` (default true: ask
 *   the upstream for `stream_options.include_usage`; false for servers that reject the field).
 * - `flush_interval_ms`: how often the counters go to the store (default 15000).
 * - `timeouts` (ms): `response_ms` until the upstream's status line and headers (default 300000;
 *   a non-streamed completion sends them only when done), `idle_ms` the longest silence inside a
 *   response body (default 120000), `total_ms` the whole exchange (default 900000).
 * - `max_body_bytes`: largest request body accepted (default 32 MiB; 413 beyond).
 * - `instance`: when set, an `instance` label on every series, so several gateways can write to
 *   one store without their counters colliding.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { SERVICE_TIERS, type ServiceTier } from "../catalog/metrics.js";
import { isValidProjectId } from "../storage/index.js";

export class GatewayConfigError extends Error {
  override readonly name = "GatewayConfigError";
}

export interface Timeouts {
  /** Until the upstream's response headers, in ms. */
  responseMs: number;
  /** Longest gap between two chunks of the upstream's body, in ms. */
  idleMs: number;
  /** The whole exchange, in ms. */
  totalMs: number;
}

export interface ModelRoute {
  name: string;
  /** Base URL, e.g. http://host:8000/v1 (no trailing slash). */
  upstream: URL;
  tier: ServiceTier;
  upstreamApiKey: string | undefined;
  timeouts: Timeouts;
  /** Ask the upstream for stream_options.include_usage on streamed requests. */
  streamUsage: boolean;
}

export interface GatewayConfig {
  /** SHA-256 (hex) of each API key → project id. */
  keyHashes: ReadonlyMap<string, string>;
  models: ReadonlyMap<string, ModelRoute>;
  flushIntervalMs: number;
  maxBodyBytes: number;
  /** Value of the `instance` label, or undefined for none. */
  instance: string | undefined;
  /** Where the config came from, for messages. */
  source: string;
}

export const DEFAULT_FLUSH_INTERVAL_MS = 15_000;
export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = {
  responseMs: 300_000,
  idleMs: 120_000,
  totalMs: 900_000,
};
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

const positiveMs = z.number().int().positive().max(86_400_000);

const TimeoutsSchema = z.strictObject({
  response_ms: positiveMs.optional(),
  idle_ms: positiveMs.optional(),
  total_ms: positiveMs.optional(),
});

const ProjectId = z.string().refine(isValidProjectId, {
  message: 'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit',
});

const ApiKeySchema = z
  .strictObject({
    key: z.string().min(1).optional(),
    key_sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, "must be the SHA-256 of the key as 64 hex digits")
      .optional(),
    project_id: ProjectId,
  })
  .refine((k) => (k.key === undefined) !== (k.key_sha256 === undefined), {
    message: 'give exactly one of "key" and "key_sha256"',
  });

const UpstreamUrl = z.string().refine(
  (s) => {
    try {
      const u = new URL(s);
      return (u.protocol === "http:" || u.protocol === "https:") && u.search === "" && u.hash === "";
    } catch {
      return false;
    }
  },
  { message: "must be an http:// or https:// base URL without query or fragment, e.g. http://host:8000/v1" },
);

const ModelSchema = z.strictObject({
  upstream: UpstreamUrl,
  service_tier: z.enum(SERVICE_TIERS),
  upstream_api_key: z.string().min(1).optional(),
  timeouts: TimeoutsSchema.optional(),
  stream_usage: z.boolean().optional(),
});

const FileSchema = z.strictObject({
  api_keys: z.array(ApiKeySchema).min(1, "list at least one API key"),
  models: z
    .record(z.string().min(1, "model names must not be empty"), ModelSchema)
    .refine((m) => Object.keys(m).length > 0, { message: "configure at least one model" }),
  flush_interval_ms: z.number().int().min(100).max(3_600_000).optional(),
  timeouts: TimeoutsSchema.optional(),
  max_body_bytes: z.number().int().positive().optional(),
  instance: z.string().min(1).optional(),
});

type TimeoutsInput = z.infer<typeof TimeoutsSchema>;

function mergeTimeouts(base: Timeouts, over: TimeoutsInput | undefined): Timeouts {
  return {
    responseMs: over?.response_ms ?? base.responseMs,
    idleMs: over?.idle_ms ?? base.idleMs,
    totalMs: over?.total_ms ?? base.totalMs,
  };
}

export function sha256Hex(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out || "(top level)";
}

/** Checks an already-parsed JSON document; `source` names it in errors. */
export function parseGatewayConfig(doc: unknown, source: string): GatewayConfig {
  const parsed = FileSchema.safeParse(doc);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${fieldPath(i.path)}: ${i.message}`);
    throw new GatewayConfigError(`gateway config ${source}:\n${lines.join("\n")}`);
  }
  const f = parsed.data;
  const keyHashes = new Map<string, string>();
  f.api_keys.forEach((k, i) => {
    const hash = k.key !== undefined ? sha256Hex(k.key) : (k.key_sha256 as string).toLowerCase();
    if (keyHashes.has(hash)) {
      throw new GatewayConfigError(
        `gateway config ${source}:\n  api_keys[${i}]: the same key is listed twice (a key maps to one project)`,
      );
    }
    keyHashes.set(hash, k.project_id);
  });
  const timeouts = mergeTimeouts(DEFAULT_TIMEOUTS, f.timeouts);
  const models = new Map<string, ModelRoute>();
  for (const [name, m] of Object.entries(f.models)) {
    const upstream = new URL(m.upstream);
    // Keep the base path without its trailing slash so "/chat/completions" can be appended.
    upstream.pathname = upstream.pathname.replace(/\/+$/, "");
    models.set(name, {
      name,
      upstream,
      tier: m.service_tier,
      upstreamApiKey: m.upstream_api_key,
      timeouts: mergeTimeouts(timeouts, m.timeouts),
      streamUsage: m.stream_usage ?? true,
    });
  }
  return {
    keyHashes,
    models,
    flushIntervalMs: f.flush_interval_ms ?? DEFAULT_FLUSH_INTERVAL_MS,
    maxBodyBytes: f.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES,
    instance: f.instance,
    source,
  };
}

/** Reads and checks a config file; every error names the file (and the field). */
export function loadGatewayConfig(path: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new GatewayConfigError(`gateway config ${path}: cannot read: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new GatewayConfigError(`gateway config ${path}: not valid JSON: ${(err as Error).message}`);
  }
  return parseGatewayConfig(doc, path);
}

/**
 * Options of the remote-write sender, their defaults and checks. Defaults follow Prometheus's
 * queue manager where it has one (2,000 samples per request, per-series sharding, exponential
 * backoff with jitter), with a longer backoff cap (30 s) because an engine that has been down for a
 * minute gains nothing from being hammered every 5 s by every shard of every replica.
 */

export type SyncMode = "normal" | "full";

/**
 * Tenant-per-project mode, for multi-tenant engines: the tenant of a series is the value of one of
 * its labels (our `project_id`), and every request carries the series of one tenant only, named in
 * a header (Grafana Mimir / Cortex: `X-Scope-OrgID`; Thanos Receive: `THANOS-TENANT`), in the URL
 * (a `{tenant}` placeholder in `url`, e.g. VictoriaMetrics cluster's
 * `http://vminsert:8480/insert/{tenant}/prometheus/api/v1/write`), or both.
 *
 * Tenant ids follow Mimir's rules: 1 to 150 characters of `[a-zA-Z0-9!-_.*'()]`, not `.` or `..`.
 * A series without the label, or whose value is not a valid id, belongs to no tenant: its samples
 * are dropped at commit (counted in `failedSamples` and logged), never sent to a default tenant.
 */
export interface RemoteWriteTenantOptions {
  /** The label whose value is the tenant id, e.g. "project_id". */
  label: string;
  /** The header that carries the tenant id, e.g. "X-Scope-OrgID". */
  header?: string;
  /**
   * How many tenants' parts of one shard's request are on the wire at once (default 8), each
   * retried on its own: a tenant the engine throttles (429) or refuses for a while (5xx) does not
   * delay the other tenants' parts of the same request. Per shard: up to `shards` × this many
   * requests at once. The shard's next request still waits for every part of this one.
   */
  concurrency?: number;
}

export interface RemoteWriteStorageOptions {
  /**
   * The engine's remote-write endpoint, e.g. http://vminsert:8480/insert/0/prometheus/api/v1/write.
   * With `tenant`, a `{tenant}` placeholder in its path or query is replaced by each request's
   * tenant id (URL-encoded).
   */
  url: string;
  /** Directory for the queue (`remote-write-queue.sqlite` and its WAL); created if missing. */
  dir: string;
  /** Sent as `Authorization: Bearer …`. */
  bearerToken?: string;
  /** Sent as `Authorization: Basic …`. */
  basicAuth?: { username: string; password: string };
  /** Extra request headers, e.g. a fixed `X-Scope-OrgID` for Mimir/Cortex (see `tenant` for one per project). */
  headers?: Readonly<Record<string, string>>;
  /** Tenant per value of this label: each request carries one tenant's series only. */
  tenant?: RemoteWriteTenantOptions;
  /**
   * Concurrent senders (default 4). A series always goes through the same shard, so its samples
   * arrive in order; shards are independent, so one slow series does not hold up the others. The
   * count is a property of a non-empty queue: a different value applies once the queue has drained.
   */
  shards?: number;
  /** Samples per WriteRequest (default 2,000, Prometheus's `max_samples_per_send`). */
  maxSamplesPerRequest?: number;
  /**
   * How long a shard waits for a full request before sending what it has, in ms (default 1,000;
   * Prometheus's `batch_send_deadline` is 5 s). Closing sends at once.
   */
  batchDeadlineMs?: number;
  /** Bound on the queue's payload in bytes (default 1 GiB; 24 bytes per sample plus labels per series). */
  maxQueueBytes?: number;
  /** Bound on queued samples (default 0 = only the byte bound applies). */
  maxQueueSamples?: number;
  /** First retry delay in ms (default 100); doubles per attempt, with jitter. */
  minBackoffMs?: number;
  /** Longest retry delay in ms (default 30,000). */
  maxBackoffMs?: number;
  /** The longest `Retry-After` obeyed, in ms (default 300,000); longer ones are cut to this. */
  maxRetryAfterMs?: number;
  /** One HTTP attempt may take this long, in ms (default 30,000), then it counts as a network error. */
  requestTimeoutMs?: number;
  /** What `close()` gives the shards to deliver what is queued, in ms (default 5,000). */
  closeGraceMs?: number;
  /**
   * "normal" (default): a commit survives a crash of the process; a power loss may lose the commits
   * since SQLite's last WAL sync. "full": every commit is fsynced before it returns.
   */
  sync?: SyncMode;
  /** A series unused this long (ms, default 10 min) and no longer queued is forgotten (memory, disk). */
  seriesIdleMs?: number;
  /** Period of the background clean-up of forgotten series, in ms (default 60,000; 0 = none). */
  maintenanceIntervalMs?: number;
  /** Receives one line per notable event: outage start and end, dropped batches, recovery. */
  log?: (message: string) => void;
  /** Wall clock in ms. */
  now?: () => number;
}

export interface ResolvedTenantOptions {
  label: string;
  /** The header carrying the tenant id, or null. */
  header: string | null;
  /** The url split at its `{tenant}` placeholders (already in URL form), or null: no placeholder. */
  urlParts: readonly string[] | null;
  /** Parts of one shard's request on the wire at once. */
  concurrency: number;
}

export type ResolvedOptions = Required<
  Omit<RemoteWriteStorageOptions, "bearerToken" | "basicAuth" | "tenant">
> & {
  /** All request headers, authorization included (without a tenant's header). */
  requestHeaders: Record<string, string>;
  /** Null: no tenant mode, every request goes to `url` with `requestHeaders`. */
  tenant: ResolvedTenantOptions | null;
};

/** The placeholder for the tenant id in the url. */
export const TENANT_PLACEHOLDER = "{tenant}";
/** Stands for the placeholder while the url is parsed (`{` and `}` would be percent-encoded). */
const PLACEHOLDER_TOKEN = "__mim_tenant_placeholder__";

const POSITIVE_INTEGERS = ["shards", "maxSamplesPerRequest", "maxQueueBytes"] as const;
const NON_NEGATIVE = [
  "batchDeadlineMs",
  "maxQueueSamples",
  "minBackoffMs",
  "maxBackoffMs",
  "maxRetryAfterMs",
  "closeGraceMs",
  "seriesIdleMs",
  "maintenanceIntervalMs",
] as const;

export function resolveOptions(o: RemoteWriteStorageOptions): ResolvedOptions {
  let url: URL;
  const templated = typeof o.url === "string" && o.url.includes(TENANT_PLACEHOLDER);
  try {
    url = new URL(templated ? o.url.replaceAll(TENANT_PLACEHOLDER, PLACEHOLDER_TOKEN) : o.url);
  } catch {
    throw new RangeError(`remote-write url ${JSON.stringify(o.url)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`remote-write url ${JSON.stringify(o.url)} must be http or https`);
  }
  if (!o.dir) throw new RangeError("remote-write queue needs a directory (option dir)");
  const resolved: ResolvedOptions = {
    url: templated ? url.href.replaceAll(PLACEHOLDER_TOKEN, TENANT_PLACEHOLDER) : url.href,
    dir: o.dir,
    headers: o.headers ?? {},
    shards: o.shards ?? 4,
    maxSamplesPerRequest: o.maxSamplesPerRequest ?? 2_000,
    batchDeadlineMs: o.batchDeadlineMs ?? 1_000,
    maxQueueBytes: o.maxQueueBytes ?? 1024 ** 3,
    maxQueueSamples: o.maxQueueSamples ?? 0,
    minBackoffMs: o.minBackoffMs ?? 100,
    maxBackoffMs: o.maxBackoffMs ?? 30_000,
    maxRetryAfterMs: o.maxRetryAfterMs ?? 300_000,
    requestTimeoutMs: o.requestTimeoutMs ?? 30_000,
    closeGraceMs: o.closeGraceMs ?? 5_000,
    sync: o.sync ?? "normal",
    seriesIdleMs: o.seriesIdleMs ?? 10 * 60_000,
    maintenanceIntervalMs: o.maintenanceIntervalMs ?? 60_000,
    log: o.log ?? (() => {}),
    now: o.now ?? Date.now,
    requestHeaders: {},
    tenant: null,
  };
  for (const key of POSITIVE_INTEGERS) {
    const v = resolved[key];
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new RangeError(`option ${key} must be a positive integer, got ${v}`);
    }
  }
  for (const key of NON_NEGATIVE) {
    const v = resolved[key];
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`option ${key} must be ≥ 0, got ${v}`);
  }
  if (!(resolved.requestTimeoutMs > 0)) {
    throw new RangeError(`option requestTimeoutMs must be positive, got ${resolved.requestTimeoutMs}`);
  }
  if (resolved.sync !== "normal" && resolved.sync !== "full") {
    throw new RangeError(`option sync must be "normal" or "full", got ${JSON.stringify(resolved.sync)}`);
  }
  resolved.requestHeaders = requestHeaders(o);
  resolved.tenant = resolveTenant(o, url, templated, resolved.requestHeaders);
  return resolved;
}

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function resolveTenant(
  o: RemoteWriteStorageOptions,
  url: URL,
  templated: boolean,
  fixedHeaders: Record<string, string>,
): ResolvedTenantOptions | null {
  const t = o.tenant;
  if (t === undefined) {
    if (templated) {
      throw new RangeError(
        `remote-write url ${JSON.stringify(o.url)} has a ${TENANT_PLACEHOLDER} placeholder but option tenant is not set`,
      );
    }
    return null;
  }
  if (typeof t.label !== "string" || t.label === "") {
    throw new RangeError("option tenant.label must name the label that holds the tenant id");
  }
  let header: string | null = null;
  if (t.header !== undefined) {
    if (typeof t.header !== "string" || !HEADER_NAME.test(t.header)) {
      throw new RangeError(`option tenant.header ${JSON.stringify(t.header)} is not a header name`);
    }
    const lower = t.header.toLowerCase();
    if (Object.keys(fixedHeaders).some((k) => k.toLowerCase() === lower)) {
      throw new RangeError(
        `header ${t.header} cannot carry the tenant: it is set for every request (option headers, authorization, or by the sender)`,
      );
    }
    header = t.header;
  }
  let urlParts: string[] | null = null;
  if (templated) {
    // Only where a request's target can differ per tenant: the path or the query.
    const elsewhere = [url.username, url.password, url.host, url.hash].some((p) =>
      p.includes(PLACEHOLDER_TOKEN),
    );
    if (elsewhere || !(url.pathname + url.search).includes(PLACEHOLDER_TOKEN)) {
      throw new RangeError(
        `remote-write url ${JSON.stringify(o.url)}: the ${TENANT_PLACEHOLDER} placeholder may only be in the path or the query`,
      );
    }
    urlParts = url.href.split(PLACEHOLDER_TOKEN);
  }
  const concurrency = t.concurrency ?? 8;
  if (!Number.isSafeInteger(concurrency) || concurrency <= 0) {
    throw new RangeError(`option tenant.concurrency must be a positive integer, got ${concurrency}`);
  }
  if (header === null && urlParts === null) {
    throw new RangeError(
      `option tenant needs tenant.header or a ${TENANT_PLACEHOLDER} placeholder in the url, or the tenant would reach the engine nowhere`,
    );
  }
  return { label: t.label, header, urlParts, concurrency };
}

/** The fixed headers of every request. Remote-write 1.0 requires the first three. */
function requestHeaders(o: RemoteWriteStorageOptions): Record<string, string> {
  const extra = o.headers ?? {};
  const lower = new Set(Object.keys(extra).map((k) => k.toLowerCase()));
  for (const reserved of ["content-encoding", "content-type", "x-prometheus-remote-write-version"]) {
    if (lower.has(reserved)) throw new RangeError(`header ${reserved} is set by the remote-write sender`);
  }
  const auth = [o.bearerToken !== undefined, o.basicAuth !== undefined, lower.has("authorization")];
  if (auth.filter(Boolean).length > 1) {
    throw new RangeError("give at most one of bearerToken, basicAuth and an Authorization header");
  }
  const headers: Record<string, string> = {
    ...extra,
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
  };
  if (!lower.has("user-agent")) headers["User-Agent"] = "managed-inference-metrics-remote-write/0.1";
  if (o.bearerToken !== undefined) headers.Authorization = `Bearer ${o.bearerToken}`;
  if (o.basicAuth !== undefined) {
    const { username, password } = o.basicAuth;
    headers.Authorization = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  }
  return headers;
}

/** The URL without credentials or query, for messages and logs (a query may carry a key). */
export function displayUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname.replaceAll("%7Btenant%7D", TENANT_PLACEHOLDER)}`;
}

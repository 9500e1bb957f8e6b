/**
 * Options of the remote-write sender, their defaults and checks. Defaults follow Prometheus's
 * queue manager where it has one (2,000 samples per request, per-series sharding, exponential
 * backoff with jitter), with a longer backoff cap (30 s) because an engine that has been down for a
 * minute gains nothing from being hammered every 5 s by every shard of every replica.
 */

export type SyncMode = "normal" | "full";

export interface RemoteWriteStorageOptions {
  /** The engine's remote-write endpoint, e.g. http://vminsert:8480/insert/0/prometheus/api/v1/write. */
  url: string;
  /** Directory for the queue (`remote-write-queue.sqlite` and its WAL); created if missing. */
  dir: string;
  /** Sent as `Authorization: Bearer …`. */
  bearerToken?: string;
  /** Sent as `Authorization: Basic …`. */
  basicAuth?: { username: string; password: string };
  /** Extra request headers, e.g. `X-Scope-OrgID` for Mimir/Cortex. */
  headers?: Readonly<Record<string, string>>;
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

export type ResolvedOptions = Required<Omit<RemoteWriteStorageOptions, "bearerToken" | "basicAuth">> & {
  /** All request headers, authorization included. */
  requestHeaders: Record<string, string>;
};

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
  try {
    url = new URL(o.url);
  } catch {
    throw new RangeError(`remote-write url ${JSON.stringify(o.url)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`remote-write url ${JSON.stringify(o.url)} must be http or https`);
  }
  if (!o.dir) throw new RangeError("remote-write queue needs a directory (option dir)");
  const resolved: ResolvedOptions = {
    url: url.href,
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
  return resolved;
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
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/**
 * What the sender reports about itself (`RemoteWriteStorage.status()`), for self-metrics, the
 * health endpoint and operators: queue depth and age, delivery counters, the last error.
 */

export interface StatusCounters {
  /** Samples the engine acknowledged (2xx). At-least-once: a resent request counts again. */
  sentSamples: number;
  /** WriteRequests acknowledged; in tenant mode each tenant's part of a shard's request is one. */
  sentRequests: number;
  /**
   * Samples dropped: refused for good by the engine (4xx other than 429; counted in
   * `failedRequests` too), or that could not be sent at all (in tenant mode a series without a
   * valid tenant id, dropped at commit; labels missing from the queue).
   */
  failedSamples: number;
  failedRequests: number;
  /** Attempts that will be retried (5xx, 429, network errors, timeouts). */
  retries: number;
  lastError: { message: string; at: number } | null;
  /** When the engine last acknowledged a request (ms). */
  lastSuccessAt: number | null;
  /** Start of the current run of failed attempts (ms); null while the engine answers. */
  unreachableSince: number | null;
}

export interface RemoteWriteStatus extends StatusCounters {
  /** The engine's URL without credentials or query. */
  url: string;
  shards: number;
  queuedSamples: number;
  /** What counts against maxQueueBytes: 24 bytes per queued sample plus the labels of queued series. */
  queuedBytes: number;
  maxQueueBytes: number;
  /** 0: no bound on samples. */
  maxQueueSamples: number;
  /**
   * The smallest sample timestamp (ms) at the heads of the shards' queues: how far behind the
   * engine is. Null when the queue is empty (or closed).
   */
  oldestQueuedTimestamp: number | null;
  /** When the oldest queued batch was committed (ms). */
  oldestEnqueuedAt: number | null;
  /** Series known in memory. */
  series: number;
  closed: boolean;
  /** Tenant mode only: outcomes per tenant id seen since start. */
  tenants?: Record<string, TenantStatus>;
}

/** Per tenant: what its requests did (the samples of series without a tenant are in no entry). */
export interface TenantStatus {
  sentSamples: number;
  /** Refused for good by the engine. */
  failedSamples: number;
  retries: number;
}

export function emptyStatus(): StatusCounters {
  return {
    sentSamples: 0,
    sentRequests: 0,
    failedSamples: 0,
    failedRequests: 0,
    retries: 0,
    lastError: null,
    lastSuccessAt: null,
    unreachableSince: null,
  };
}

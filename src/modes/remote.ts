/**
 * Remote storage mode: samples go by remote-write to a Prometheus-compatible engine
 * (VictoriaMetrics, Mimir / Cortex, Thanos Receive, Prometheus) through an on-disk queue, and
 * queries to its Prometheus API with every selector rewritten for the caller's project.
 */
import type { SelfMetrics } from "../metrics/self-metrics.js";
import { EngineClient } from "../remote/read/client.js";
import { RemoteWriteStorage, type RemoteWriteStorageOptions, type SyncMode } from "../remote/sender/index.js";
import { PROJECT_LABEL } from "../storage/index.js";
import { RemoteBackend } from "./remote-backend.js";
import type { SampleStorage } from "./storage.js";

export interface RemoteStorageConfig {
  /** The engine's remote-write endpoint, e.g. http://vminsert:8480/insert/0/prometheus/api/v1/write. */
  writeUrl: string;
  /** Base of the engine's Prometheus API (`<url>/api/v1/query`), e.g. http://vmselect:8481/select/0/prometheus. */
  queryUrl: string;
  /** Sent to the engine as `Authorization: Bearer …` on both paths. */
  bearerToken?: string;
  /** Extra headers to the engine on both paths. */
  headers?: Readonly<Record<string, string>>;
  /**
   * Tenant per project: the project id travels in this header (`X-Scope-OrgID` for Mimir/Cortex),
   * and/or replaces `{tenant}` in both URLs (VictoriaMetrics cluster account ids, which must then
   * be numeric project ids).
   */
  tenantHeader?: string;
  /** Concurrent remote-write senders (default 4). */
  shards?: number;
  /** Bound on the on-disk queue (default 1 GiB). */
  maxQueueBytes?: number;
  /** Largest answer taken from the engine, in bytes (default 64 MiB). */
  maxResponseBytes?: number;
}

/** Whether the engine separates projects as tenants; a half-configured tenant mode is an error. */
export function isTenantPerProject(r: RemoteStorageConfig): boolean {
  const inWrite = r.writeUrl.includes("{tenant}");
  const inQuery = r.queryUrl.includes("{tenant}");
  if (r.tenantHeader === undefined && inWrite !== inQuery) {
    throw new Error(
      `{tenant} is in the remote ${inWrite ? "write" : "query"} URL only: put it in both (VictoriaMetrics cluster: /insert/{tenant}/… and /select/{tenant}/…), or use --remote-tenant-header`,
    );
  }
  return r.tenantHeader !== undefined || inWrite;
}

export interface RemoteSamplesOptions {
  remote: RemoteStorageConfig;
  /** Holds the remote-write queue. */
  dataDir: string;
  sync?: SyncMode;
  /** The queue's timing, where a caller (a test) needs other than the defaults. */
  queueTiming?: Pick<
    RemoteWriteStorageOptions,
    "batchDeadlineMs" | "closeGraceMs" | "minBackoffMs" | "maxBackoffMs"
  >;
  /** The service's query timeout, sent to the engine when a request gives none (ms). */
  queryTimeoutMs: number;
  log?: (message: string) => void;
}

export interface RemoteSamples extends SampleStorage {
  readonly queue: RemoteWriteStorage;
}

/** Concurrent queries an engine is asked at most, in all and per project, without operator limits. */
const REMOTE_QUERY_SLOTS = { total: 16, perProject: 4 };

export function openRemoteSamples(o: RemoteSamplesOptions): RemoteSamples {
  const r = o.remote;
  const tenantPerProject = isTenantPerProject(r);
  const client = new EngineClient({
    url: r.queryUrl,
    bearerToken: r.bearerToken,
    headers: r.headers,
    tenantHeader: r.tenantHeader,
    timeoutMs: o.queryTimeoutMs + 10_000,
    maxResponseBytes: r.maxResponseBytes,
  });
  const queue = new RemoteWriteStorage({
    url: r.writeUrl,
    dir: o.dataDir,
    bearerToken: r.bearerToken,
    headers: r.headers,
    ...(tenantPerProject ? { tenant: { label: PROJECT_LABEL, header: r.tenantHeader } } : {}),
    shards: r.shards,
    maxQueueBytes: r.maxQueueBytes,
    sync: o.sync,
    log: o.log,
    ...o.queueTiming,
  });
  const backend = new RemoteBackend(client, o.queryTimeoutMs);
  return {
    mode: "remote",
    queue,
    appendable: queue,
    queries: backend,
    ruleQuery: (expr, t, signal) => backend.ruleQuery(expr, t, signal),
    querySlots: REMOTE_QUERY_SLOTS,
    watch(metrics: SelfMetrics) {
      metrics.watchRemoteWrite(() => queue.status());
    },
    close: () => queue.close(),
  };
}

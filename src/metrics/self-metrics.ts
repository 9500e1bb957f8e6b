/**
 * The service's own metrics, served on /metrics for the operator's Prometheus to scrape: HTTP,
 * queries and ingest (counted by the API), and what each storage mode registers of its own (the
 * query pool's workers, or the remote-write queue) through watchQueryPool / watchRemoteWrite.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { FairAdmission } from "../exec/admission.js";
import type { QueryPool } from "../exec/query-pool.js";

/**
 * What the remote-write queue reports, as read here (src/remote/sender/status.ts has the whole of
 * it): declared by its reader so the service's metrics need not know the sender.
 */
export interface ForwardingQueueStatus {
  queuedSamples: number;
  queuedBytes: number;
  maxQueueBytes: number;
  /** Smallest queued sample timestamp (ms); null when the queue is empty. */
  oldestQueuedTimestamp: number | null;
  /** Since when (ms) every attempt has failed; null while the engine answers. */
  unreachableSince: number | null;
  sentSamples: number;
  failedSamples: number;
  retries: number;
}

export class SelfMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "mim_http_requests_total",
    help: "HTTP requests by route pattern, method and status code.",
    labelNames: ["route", "method", "code"] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: "mim_http_request_duration_seconds",
    help: "HTTP request latency by route pattern.",
    labelNames: ["route"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly queryDuration = new Histogram({
    name: "mim_query_duration_seconds",
    help: "PromQL evaluation time by query kind (instant or range), errors included.",
    labelNames: ["kind"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly activeQueries = new Gauge({
    name: "mim_active_queries",
    help: "PromQL queries being evaluated now.",
    registers: [this.registry],
  });
  readonly querySamples = new Counter({
    name: "mim_query_samples_read_total",
    help: "Samples read from storage by PromQL queries.",
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: "mim_auth_failures_total",
    help: "Requests refused by authentication or authorization, by reason.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: "mim_rate_limited_requests_total",
    help: "Requests refused by a rate limit: per token, per project, failed authentications per address, token minting, the live-token cap.",
    registers: [this.registry],
  });

  readonly samplesIngested = new Counter({
    name: "mim_samples_ingested_total",
    help: "Samples stored, by source (remote_write, gateway, scrape, rules).",
    labelNames: ["source"] as const,
    registers: [this.registry],
  });
  readonly samplesRejected = new Counter({
    name: "mim_samples_rejected_total",
    help: "Samples refused (invalid labels, wrong project, out of order, native histograms), by source.",
    labelNames: ["source"] as const,
    registers: [this.registry],
  });
  readonly ingestRefused = new Counter({
    name: "mim_ingest_refused_samples_total",
    help: "Remote-write samples refused by a tenant ingest limit, by reason (too_far_in_future, label_name_too_long, label_value_too_long, too_many_labels, series_limit).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly writesRefused = new Counter({
    name: "mim_remote_write_refused_total",
    help: "Remote-write requests answered 503 so the sender retries, by reason (rate: the token's sample budget; disk_full; storage: any other store failure).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: "mim_" });
  }

  /** Admission: queries waiting for a slot (those running are mim_active_queries). */
  watchAdmission(admission: FairAdmission): void {
    this.readGauge(
      "mim_queries_waiting",
      "Queries waiting for admission (their project's concurrency limit or a free worker), over all projects.",
      () => admission.queued,
    );
  }

  /** The embedded engine's query workers: their number, use and the queries they had to end. */
  watchQueryPool(pool: QueryPool): void {
    this.readGauge("mim_query_workers", "Query worker threads.", () => pool.workers);
    this.readGauge("mim_query_workers_busy", "Query worker threads running a query.", () => pool.busy);
    new Counter({
      name: "mim_query_worker_ended_total",
      help: "Queries a worker thread was terminated for, by reason (deadline: no engine check reached in time; canceled; out_of_memory: over the per-query heap budget).",
      labelNames: ["reason"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ reason: "deadline" }, pool.stats.killedPastDeadline);
        this.inc({ reason: "canceled" }, pool.stats.killedCanceled);
        this.inc({ reason: "out_of_memory" }, pool.stats.outOfMemory);
      },
    });
    this.readTotal(
      "mim_query_worker_queries_total",
      "Queries started on a worker thread.",
      () => pool.stats.started,
    );
    this.readTotal(
      "mim_query_worker_demoted_total",
      "Queries that ran long enough to have their worker thread's priority lowered.",
      () => pool.stats.demoted,
    );
    this.readTotal(
      "mim_query_worker_replaced_total",
      "Worker threads replaced after one was terminated or retired.",
      () => pool.stats.replaced,
    );
  }

  private readGauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** A counter whose total is kept elsewhere (reset when the process restarts, as counters are). */
  private readTotal(name: string, help: string, read: () => number): void {
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  /**
   * Remote storage mode: the forwarding queue's state, read at each scrape. The totals come from
   * the sender's own counters (reset when the process restarts, as counters are).
   */
  watchRemoteWrite(status: () => ForwardingQueueStatus, now: () => number = Date.now): void {
    const gauge = (name: string, help: string, read: (s: ForwardingQueueStatus) => number) =>
      this.readGauge(name, help, () => read(status()));
    const total = (name: string, help: string, read: (s: ForwardingQueueStatus) => number) =>
      this.readTotal(name, help, () => read(status()));
    gauge(
      "mim_remote_storage_queued_samples",
      "Samples waiting in the on-disk queue to the engine.",
      (s) => s.queuedSamples,
    );
    gauge("mim_remote_storage_queue_bytes", "Bytes counted against the queue's bound.", (s) => s.queuedBytes);
    gauge(
      "mim_remote_storage_queue_max_bytes",
      "The queue's bound; commits fail (503) beyond it.",
      (s) => s.maxQueueBytes,
    );
    gauge(
      "mim_remote_storage_lag_seconds",
      "Age of the oldest sample still queued (0 when the queue is empty): how far behind the engine is.",
      (s) => (s.oldestQueuedTimestamp === null ? 0 : Math.max(0, (now() - s.oldestQueuedTimestamp) / 1000)),
    );
    gauge(
      "mim_remote_storage_unreachable_seconds",
      "How long the engine has been failing every attempt (0 while it answers).",
      (s) => (s.unreachableSince === null ? 0 : (now() - s.unreachableSince) / 1000),
    );
    total("mim_remote_storage_sent_samples_total", "Samples the engine acknowledged.", (s) => s.sentSamples);
    total(
      "mim_remote_storage_failed_samples_total",
      "Samples dropped because the engine refused them for good (4xx), or that belong to no tenant.",
      (s) => s.failedSamples,
    );
    total(
      "mim_remote_storage_retries_total",
      "Remote-write attempts to be retried (5xx, 429, network).",
      (s) => s.retries,
    );
  }
}

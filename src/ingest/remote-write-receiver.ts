/**
 * Turns one remote-write request into stored samples. Batch semantics (what senders can rely on):
 *  - a body that does not decompress or decode is refused whole: nothing of it is stored;
 *  - otherwise every acceptable sample is stored and committed together, and the rest are counted
 *    with the first reason: series without project_id, outside the token's project, product series
 *    without model_name/service_tier, invalid labels, and samples the store refuses (out of order,
 *    duplicate timestamp with another value, older than retention);
 *  - with limits (src/ingest/limits.ts): series breaking a label bound, new series past the
 *    project's active-series cap, and samples too far in the future are refused the same way,
 *    counted by reason;
 *  - native histograms are not supported and are counted as rejected.
 * The caller answers 204 when nothing was rejected, else 400 with the counts (senders do not retry
 * a 400, and retrying would not help).
 */
import { PROJECT_LABEL } from "../catalog/metrics.js";
import { formatDurationMs } from "../config/duration.js";
import {
  type Appendable,
  getLabel,
  type Label,
  type Labels,
  labelsHash,
  normalizeLabels,
  SampleError,
  type SeriesRef,
} from "../storage/index.js";
import { ACTIVE_SERIES_IDLE_MS, type ActiveSeries } from "./active-series.js";
import { clipLabels, type IngestLimits, type IngestRefusal, refuseSeriesShape } from "./limits.js";
import type { LabelSpan } from "./remote-write/decode.js";
import { decodeRemoteWrite, type RemoteWriteOptions } from "./remote-write/index.js";
import { type CachedSeries, seriesCacheFor } from "./series-cache.js";
import { rejectSeries, type WriteScope } from "./validate.js";

/** The tenant bounds a request is held to. */
export interface IngestGuard {
  limits: IngestLimits;
  activeSeries: ActiveSeries;
  /** The server's clock, ms. */
  now: number;
}

export interface WriteOutcome {
  series: number;
  /** Samples stored. */
  accepted: number;
  /** Samples (and native histogram samples) not stored. */
  rejected: number;
  /** The first reason a sample or series was refused. */
  firstError?: string;
  /** Samples the store dropped because a concurrent batch wrote newer ones first. */
  outOfOrder: number;
  /** Of `rejected`, those a limit refused, by reason. */
  refused: Partial<Record<IngestRefusal, number>>;
}

export function receiveRemoteWrite(
  body: Uint8Array,
  storage: Appendable,
  scope: WriteScope,
  options: RemoteWriteOptions = {},
  guard?: IngestGuard,
): WriteOutcome {
  const app = storage.appender();
  let labels: Labels | null = null;
  /** The limit that refused the current series, if one did. */
  let refusedBy: IngestRefusal | null = null;
  let ref: SeriesRef = 0;
  /** labelsHash of the current series' labels: the guard's key, and handed to the store. */
  let hash: number | undefined = 0;
  /** The cache entry of the current series, to keep its newest ref. */
  let cached: CachedSeries | null = null;
  const cache = seriesCacheFor(storage, scope, guard?.limits ?? null);
  let rejected = 0;
  let firstError: string | undefined;
  const refused: Partial<Record<IngestRefusal, number>> = {};
  const countRefused = (reason: IngestRefusal, n: number) => {
    refused[reason] = (refused[reason] ?? 0) + n;
  };
  const reject = (n: number, reason: string) => {
    rejected += n;
    firstError ??= reason;
  };
  const maxFuture = guard?.limits.maxFutureMs ?? 0;
  const newestAllowed = maxFuture > 0 && guard ? guard.now + maxFuture : Number.POSITIVE_INFINITY;
  try {
    const result = decodeRemoteWrite(
      body,
      {
        series(raw: Label[], span?: LabelSpan) {
          ref = 0;
          refusedBy = null;
          cached = span ? (cache.get(span) ?? null) : null;
          if (cached !== null) {
            // Accepted before under this scope and these limits: only the active-series cap,
            // which depends on the moment, is asked again. The raw labels go to the store with no
            // hash, so a ref that no longer names the series (retention) is looked up afresh.
            labels = raw;
            hash = undefined;
            ref = cached.ref;
            if (guard && !guard.activeSeries.admit(cached.project, cached.hash, guard.now)) {
              firstError ??= `series ${clipLabels(raw)} would exceed project ${JSON.stringify(cached.project)}'s limit of ${guard.limits.maxSeriesPerProject} active series (--ingest-max-series-per-project); series written in the last ${formatDurationMs(ACTIVE_SERIES_IDLE_MS)} count`;
              refusedBy = "series_limit";
              labels = null;
            }
            return;
          }
          try {
            labels = normalizeLabels(raw);
          } catch (err) {
            labels = null;
            firstError ??= (err as Error).message;
            return;
          }
          // Label bounds first, so no later message quotes an oversized value.
          const shape = guard ? refuseSeriesShape(labels, guard.limits) : null;
          if (shape !== null) {
            firstError ??= shape.message;
            refusedBy = shape.reason;
            labels = null;
            return;
          }
          const why = rejectSeries(labels, scope);
          if (why !== null) {
            firstError ??= why;
            labels = null;
            return;
          }
          const h = labelsHash(labels);
          hash = h;
          const project = getLabel(labels, PROJECT_LABEL);
          if (span) cached = cache.add(span, h, project, 0);
          if (guard && !guard.activeSeries.admit(project, h, guard.now)) {
            firstError ??= `series ${clipLabels(labels)} would exceed project ${JSON.stringify(project)}'s limit of ${guard.limits.maxSeriesPerProject} active series (--ingest-max-series-per-project); series written in the last ${formatDurationMs(ACTIVE_SERIES_IDLE_MS)} count`;
            refusedBy = "series_limit";
            labels = null;
          }
        },
        samples(ts: Float64Array, vs: Float64Array, count: number) {
          if (labels === null) {
            rejected += count;
            if (refusedBy !== null) countRefused(refusedBy, count);
            return;
          }
          for (let i = 0; i < count; i++) {
            if (ts[i] > newestAllowed) {
              countRefused("too_far_in_future", 1);
              reject(
                1,
                `sample at ${instant(ts[i])} of ${clipLabels(labels)} is ${formatDurationMs(Math.round(ts[i] - (guard?.now ?? 0)))} ahead of the server's clock; the limit is ${formatDurationMs(maxFuture)} (--ingest-max-future)`,
              );
              continue;
            }
            try {
              ref = app.append(ref, labels, ts[i], vs[i], hash);
            } catch (err) {
              if (!(err instanceof SampleError)) throw err;
              reject(1, err.message);
            }
          }
          if (cached !== null && ref > 0) cached.ref = ref;
        },
      },
      options,
    );
    if (result.histograms > 0) {
      reject(
        result.histograms,
        `${result.histograms} native histogram samples in ${result.histogramSeries} series dropped: native histograms are not supported`,
      );
    }
    const committed = app.commit();
    return {
      series: result.series,
      accepted: committed.samples,
      rejected: rejected + committed.outOfOrder,
      firstError: firstError ?? (committed.outOfOrder > 0 ? "samples out of order" : undefined),
      outOfOrder: committed.outOfOrder,
      refused,
    };
  } catch (err) {
    app.rollback();
    throw err;
  }
}

/** A timestamp for a message: ISO when Date can hold it. */
function instant(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms`;
}

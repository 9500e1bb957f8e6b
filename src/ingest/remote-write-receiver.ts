/**
 * Turns one remote-write request into stored samples. Batch semantics (what senders can rely on):
 *  - a body that does not decompress or decode is refused whole: nothing of it is stored;
 *  - otherwise every acceptable sample is stored and committed together, and the rest are counted
 *    with the first reason: series without project_id, outside the token's project, product series
 *    without model_name/service_tier, invalid labels, and samples the store refuses (out of order,
 *    duplicate timestamp with another value, older than retention);
 *  - native histograms are not supported and are counted as rejected.
 * The caller answers 204 when nothing was rejected, else 400 with the counts (senders do not retry
 * a 400, and retrying would not help).
 */
import {
  type Appendable,
  type Label,
  type Labels,
  normalizeLabels,
  SampleError,
  type SeriesRef,
} from "../storage/index.js";
import { decodeRemoteWrite, type RemoteWriteOptions } from "./remote-write/index.js";
import { rejectSeries, type WriteScope } from "./validate.js";

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
}

export function receiveRemoteWrite(
  body: Uint8Array,
  storage: Appendable,
  scope: WriteScope,
  options: RemoteWriteOptions = {},
): WriteOutcome {
  const app = storage.appender();
  let labels: Labels | null = null;
  let ref: SeriesRef = 0;
  let rejected = 0;
  let firstError: string | undefined;
  const reject = (n: number, reason: string) => {
    rejected += n;
    firstError ??= reason;
  };
  try {
    const result = decodeRemoteWrite(
      body,
      {
        series(raw: Label[]) {
          ref = 0;
          try {
            labels = normalizeLabels(raw);
          } catch (err) {
            labels = null;
            firstError ??= (err as Error).message;
            return;
          }
          const why = rejectSeries(labels, scope);
          if (why !== null) {
            firstError ??= why;
            labels = null;
          }
        },
        samples(ts: Float64Array, vs: Float64Array, count: number) {
          if (labels === null) {
            rejected += count;
            return;
          }
          for (let i = 0; i < count; i++) {
            try {
              ref = app.append(ref, labels, ts[i], vs[i]);
            } catch (err) {
              if (!(err instanceof SampleError)) throw err;
              reject(1, err.message);
            }
          }
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
    };
  } catch (err) {
    app.rollback();
    throw err;
  }
}

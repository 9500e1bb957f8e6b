/**
 * Collects one batch for the remote-write queue. It checks what the embedded store would refuse
 * on its own (invalid labels, timestamps that are not integer milliseconds within ±2^51, values
 * that are not numbers) and nothing that needs the series' history: out-of-order and duplicate
 * samples and retention are the remote engine's to judge, after the commit has been acknowledged
 * (it refuses them with a 400, which the shipper counts as failed). So `commit()` never reports
 * out-of-order samples. Likewise in tenant mode a series without a valid tenant id is accepted
 * here and its samples are dropped (and counted) by the storage at commit, not refused.
 */
import {
  type Appender,
  type CommitResult,
  checkSample,
  InvalidLabelsError,
  InvalidSampleLabelsError,
  type Labels,
  normalizeLabels,
  type SeriesRef,
} from "../../storage/index.js";
import type { SeriesEntry, SeriesRegistry } from "./series.js";

/** What the appender needs from the storage. */
export interface AppendTarget {
  readonly registry: SeriesRegistry;
  /** Queues the batch durably, all or nothing; throws StorageError (closed, queue full, I/O). */
  enqueue(entries: readonly SeriesEntry[], ts: Float64Array, vs: Float64Array, count: number): void;
  now(): number;
}

const INITIAL_CAPACITY = 256;

export class RemoteWriteAppender implements Appender {
  private entries: SeriesEntry[] = [];
  private ts = new Float64Array(INITIAL_CAPACITY);
  private vs = new Float64Array(INITIAL_CAPACITY);
  private count = 0;
  private done = false;
  /**
   * The clock, read at the batch's first append: a series' last use only has to be right to the
   * minute (the sweep forgets series idle for minutes, and revives those a batch still holds at
   * commit), so one read a batch will do, not one a sample.
   */
  private at = Number.NaN;

  constructor(private readonly target: AppendTarget) {}

  append(ref: SeriesRef, labels: Labels, t: number, v: number): SeriesRef {
    if (this.done) throw new Error("appender already committed or rolled back");
    let e = ref > 0 ? this.target.registry.byRef(ref) : undefined;
    if (e === undefined) {
      try {
        e = this.target.registry.getOrCreate(normalizeLabels(labels));
      } catch (err) {
        if (err instanceof InvalidLabelsError) {
          throw new InvalidSampleLabelsError(`invalid series: ${err.message}`);
        }
        throw err;
      }
    }
    checkSample(labels, t, v);
    const n = this.count;
    if (n === this.ts.length) this.grow();
    this.entries.push(e);
    this.ts[n] = t;
    this.vs[n] = v;
    this.count = n + 1;
    if (Number.isNaN(this.at)) this.at = this.target.now();
    e.lastUsed = this.at;
    return e.id;
  }

  commit(): CommitResult {
    if (this.done) throw new Error("appender already committed or rolled back");
    this.done = true;
    const n = this.count;
    try {
      if (n > 0) this.target.enqueue(this.entries, this.ts, this.vs, n);
    } finally {
      this.release();
    }
    return { samples: n, outOfOrder: 0 };
  }

  rollback(): void {
    if (this.done) return;
    this.done = true;
    this.release();
  }

  private release(): void {
    this.entries = [];
    this.count = 0;
  }

  private grow(): void {
    const ts = new Float64Array(this.ts.length * 2);
    ts.set(this.ts);
    const vs = new Float64Array(this.vs.length * 2);
    vs.set(this.vs);
    this.ts = ts;
    this.vs = vs;
  }
}

/**
 * The storage interface every layer above the store uses. Kept small on purpose, like Prometheus's
 * storage/interface.go: an appender for writes, a querier over a time range for reads, and
 * pull-style iterators so the hot path allocates nothing per sample.
 */
import type { Labels } from "./labels.js";
import type { Matcher } from "./matcher.js";

/**
 * Identifies a series inside one store. 0 means "unknown": the appender then looks the series up
 * by its labels. Callers that append to the same series repeatedly keep the returned ref.
 */
export type SeriesRef = number;

export interface Appender {
  /**
   * Adds one sample to the batch and returns the series' ref. Throws a `SampleError` naming the
   * sample when it is rejected (invalid labels or timestamp, out of order, duplicate timestamp with
   * a different value, older than retention); a rejected sample leaves the rest of the batch intact.
   * Timestamps are integer milliseconds.
   *
   * `hash`, optional: a caller that has already normalised `labels` (`normalizeLabels`) and hashed
   * them (`labelsHash`) for its own use passes the hash, and the store neither normalises nor hashes
   * them again. Pass it only for labels exactly so normalised: like a ref, the store trusts it.
   * Stores that key series otherwise may ignore it.
   */
  append(ref: SeriesRef, labels: Labels, t: number, v: number, hash?: number): SeriesRef;
  /**
   * Makes the accepted samples durable and visible, all of them or none (then it throws
   * `StorageError`). The only samples left out are those another batch made out of order by
   * committing newer samples of the same series first; the result counts them.
   */
  commit(): CommitResult;
  /** Discards the batch. */
  rollback(): void;
}

export interface CommitResult {
  /** Samples stored. */
  samples: number;
  /** Samples dropped because another batch committed newer samples of their series first. */
  outOfOrder: number;
}

export interface Appendable {
  appender(): Appender;
}

/** Iterates one series' samples in increasing time order. */
export interface SampleIterator {
  /** Advances to the next sample; false when exhausted (then check `err()`). */
  next(): boolean;
  /** Advances to the first sample with timestamp ≥ t, staying put if already there; false if none. */
  seek(t: number): boolean;
  atT(): number;
  atV(): number;
  err(): Error | null;
}

export interface Series {
  readonly labels: Labels;
  iterator(): SampleIterator;
}

export interface SeriesSet {
  next(): boolean;
  at(): Series;
  err(): Error | null;
  /** Non-fatal problems met while reading (e.g. a damaged chunk that was skipped). */
  warnings(): readonly string[];
}

export interface SelectHints {
  /** Query range in ms; the querier's own range is used when absent. */
  start?: number;
  end?: number;
  /** Query step in ms, 0 for instant queries. */
  step?: number;
  /** The function the selection feeds, e.g. "rate", or "series" for metadata-only selects. */
  func?: string;
}

/** Reads over a fixed time range [mint, maxt], both inclusive, in ms. */
export interface Querier {
  /** Series matching all matchers, sorted by labels when `sortSeries` (Prometheus's order). */
  select(sortSeries: boolean, hints: SelectHints | undefined, ...matchers: Matcher[]): SeriesSet;
  /** Sorted distinct values of `name` among series with data in range that match all matchers. */
  labelValues(name: string, ...matchers: Matcher[]): string[];
  /** Sorted distinct label names among series with data in range that match all matchers. */
  labelNames(...matchers: Matcher[]): string[];
  close(): void;
}

export interface Queryable {
  querier(mint: number, maxt: number): Querier;
}

export interface Storage extends Appendable, Queryable {
  close(): void;
}

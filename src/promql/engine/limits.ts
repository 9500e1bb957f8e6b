import { QueryCanceledError, QueryTimeoutError, TooManySamplesError } from "../errors.js";

/** What cancellation needs of an AbortSignal; a worker thread reads it from shared memory instead. */
export type CancelSignal = Pick<AbortSignal, "aborted">;

/** Cancellation, deadline and the sample budget of one query, checked as evaluation goes. */
export class QueryLimits {
  private samples = 0;
  private peak = 0;

  constructor(
    private readonly maxSamples: number,
    private readonly deadline: number,
    private readonly signal: CancelSignal | undefined,
  ) {}

  check(phase = "expression evaluation"): void {
    if (this.signal?.aborted) throw new QueryCanceledError(`query was canceled in ${phase}`);
    if (Date.now() > this.deadline) throw new QueryTimeoutError(`query timed out in ${phase}`);
  }

  /** Accounts for n samples held in memory; throws past the budget. */
  hold(n: number): void {
    this.samples += n;
    if (this.samples > this.peak) this.peak = this.samples;
    if (this.samples > this.maxSamples) {
      throw new TooManySamplesError(
        "query processing would load too many samples into memory in query execution",
      );
    }
  }

  /**
   * Checks that n more samples would fit without holding them: a range function's window is
   * in memory only while its step is computed, as in Prometheus's rangeEval.
   */
  checkTransient(n: number): void {
    if (this.samples + n > this.maxSamples) {
      throw new TooManySamplesError(
        "query processing would load too many samples into memory in query execution",
      );
    }
    if (this.samples + n > this.peak) this.peak = this.samples + n;
  }

  release(n: number): void {
    this.samples -= n;
  }

  peakSamples(): number {
    return this.peak;
  }
}

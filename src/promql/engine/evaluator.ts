/**
 * Evaluates an expression for every step of a query at once (Prometheus's rangeEval, but series
 * at a time): selectors read each series once and fill per-step typed arrays; operators and
 * functions then work on those arrays.
 */
import { isStaleNaN, type Labels, type Matcher, type Queryable } from "../../storage/index.js";
import {
  type AtModifier,
  assertNever,
  type Expr,
  type MatrixSelector,
  type SubqueryExpr,
  type VectorSelector,
} from "../ast.js";
import { ExecutionError, QueryStorageError } from "../errors.js";
import { evalAggregate } from "./aggregate.js";
import type { Annotations } from "./annotations.js";
import { evalBinary } from "./binary.js";
import { evalCall } from "./call.js";
import { dropMetricName, keyOf } from "./labels-util.js";
import type { QueryLimits } from "./limits.js";
import {
  type EvalValue,
  newStepSeries,
  type RangeSeries,
  type StepSeries,
  type Steps,
  stepTime,
} from "./types.js";

export interface EvalContext {
  readonly queryable: Queryable;
  readonly lookbackMs: number;
  readonly subqueryStepMs: number;
  readonly delayedNameRemoval: boolean;
  /** The top-level query's start and end, for `@ start()` / `@ end()`. */
  readonly queryStart: number;
  readonly queryEnd: number;
  readonly limits: QueryLimits;
  readonly annotations: Annotations;
  /** Samples read from storage so far. */
  readonly stats: { samplesRead: number };
}

export class Evaluator {
  constructor(
    readonly ctx: EvalContext,
    readonly steps: Steps,
  ) {}

  eval(e: Expr): EvalValue {
    this.ctx.limits.check();
    switch (e.type) {
      case "NumberLiteral":
        return { kind: "scalar", values: new Float64Array(this.steps.count).fill(e.val) };
      case "StringLiteral":
        return { kind: "string", value: e.val };
      case "ParenExpr":
        return this.eval(e.expr);
      case "UnaryExpr": {
        const v = this.eval(e.expr);
        if (e.op === "+") return v;
        if (v.kind === "scalar") return { kind: "scalar", values: v.values.map((x) => -x) };
        if (v.kind !== "vector") throw new ExecutionError(`unary minus on ${v.kind}`);
        for (const s of v.series) {
          for (let i = 0; i < s.values.length; i++) s.values[i] = -s.values[i];
          this.dropName(s);
        }
        return v;
      }
      case "VectorSelector":
        return { kind: "vector", series: this.selectVector(e, false) };
      case "MatrixSelector":
        return this.selectMatrix(e);
      case "SubqueryExpr":
        return this.evalSubquery(e);
      case "BinaryExpr":
        return evalBinary(this, e);
      case "AggregateExpr":
        return evalAggregate(this, e);
      case "Call":
        return evalCall(this, e);
      default:
        return assertNever(e);
    }
  }

  /** Marks a series' name for removal (delayed) or removes it now. */
  dropName(s: StepSeries | RangeSeries): void {
    if (this.ctx.delayedNameRemoval) s.dropName = true;
    else s.metric = dropMetricName(s.metric);
  }

  /** The time each step reads at, after `@` and `offset`. */
  refTimes(at: AtModifier | undefined, offset: number): Float64Array {
    const n = this.steps.count;
    const out = new Float64Array(n);
    const fixed = this.atTime(at);
    for (let i = 0; i < n; i++) out[i] = (fixed ?? stepTime(this.steps, i)) - offset;
    return out;
  }

  atTime(at: AtModifier | undefined): number | undefined {
    if (!at) return undefined;
    switch (at.kind) {
      case "time":
        return at.ms;
      case "start":
        return this.ctx.queryStart;
      case "end":
        return this.ctx.queryEnd;
    }
  }

  private select(matchers: readonly Matcher[], mint: number, maxt: number, func?: string) {
    try {
      const q = this.ctx.queryable.querier(mint, maxt);
      // Sorted like Prometheus's storage returns them, so limitk and ties in topk pick the same series.
      const set = q.select(true, { start: mint, end: maxt, func }, ...matchers);
      const out = [];
      while (set.next()) out.push(set.at());
      if (set.err()) throw set.err();
      for (const w of set.warnings()) this.ctx.annotations.warn(w);
      return out;
    } catch (err) {
      if (err instanceof ExecutionError) throw err;
      throw new QueryStorageError((err as Error).message);
    }
  }

  /**
   * An instant-vector selector at every step: the newest sample in (ref − lookback, ref], unless
   * it is a stale marker. With `timestamps`, the value is the sample's own time in seconds (for
   * the timestamp() function).
   */
  selectVector(e: VectorSelector, timestamps: boolean): StepSeries[] {
    const refs = this.refTimes(e.at, e.offset);
    const n = refs.length;
    const [lo, hi] = span(refs);
    const lookback = this.ctx.lookbackMs;
    const out: StepSeries[] = [];
    let done = 0;
    for (const series of this.select(e.matchers, lo - lookback + 1, hi)) {
      // A selection can be large: honour cancellation and the deadline as it goes.
      if ((++done & 255) === 0) this.ctx.limits.check();
      const it = series.iterator();
      const s = newStepSeries(series.labels, n);
      let have = it.next();
      let read = have ? 1 : 0;
      let lastT = Number.NEGATIVE_INFINITY;
      let lastV = 0;
      let found = 0;
      for (let i = 0; i < n; i++) {
        const ref = refs[i];
        if (i > 0 && ref < refs[i - 1]) {
          // Only `@` can make times go backwards; it makes them constant, so reuse step 0.
          s.values[i] = s.values[0];
          s.present[i] = s.present[0];
          found += s.present[i];
          continue;
        }
        while (have && it.atT() <= ref) {
          lastT = it.atT();
          lastV = it.atV();
          have = it.next();
          if (have) read++;
        }
        if (lastT > ref - lookback && !isStaleNaN(lastV)) {
          s.values[i] = timestamps ? lastT / 1000 : lastV;
          s.present[i] = 1;
          found++;
        }
      }
      if (it.err()) throw new QueryStorageError(it.err()!.message);
      this.ctx.stats.samplesRead += read;
      if (found > 0) out.push(s);
    }
    this.ctx.limits.hold(out.length * n);
    return out;
  }

  /** A range selector: raw samples (stale markers dropped) covering every step's window. */
  selectMatrix(e: MatrixSelector): EvalValue {
    const series: RangeSeries[] = [];
    const { range, windowEnds } = this.streamMatrix(e, (metric, ts, vs, k) => {
      this.ctx.limits.hold(k);
      series.push({ metric, ts: ts.slice(0, k), vs: vs.slice(0, k), dropName: false });
    });
    return { kind: "matrix", series, range, windowEnds };
  }

  /**
   * Reads a range selector one series at a time into reused buffers, for functions that consume
   * each series at once: memory holds one series' samples, not the whole selection. The callback
   * must not keep the arrays.
   */
  streamMatrix(
    e: MatrixSelector,
    each: (metric: Labels, ts: Float64Array, vs: Float64Array, count: number) => void,
  ): { range: number; windowEnds: Float64Array } {
    const sel = e.vectorSelector;
    const { windowEnds: ends } = this.prepareMatrix(e);
    const [lo, hi] = span(ends);
    let done = 0;
    for (const s of this.select(sel.matchers, lo - e.range + 1, hi)) {
      if ((++done & 255) === 0) this.ctx.limits.check();
      const it = s.iterator();
      let k = 0;
      while (it.next()) {
        const v = it.atV();
        if (isStaleNaN(v)) continue;
        if (k === this.bufTs.length) this.growBuffers();
        this.bufTs[k] = it.atT();
        this.bufVs[k] = v;
        k++;
      }
      if (it.err()) throw new QueryStorageError(it.err()!.message);
      this.ctx.stats.samplesRead += k;
      if (k > 0) each(s.labels, this.bufTs, this.bufVs, k);
    }
    return { range: e.range, windowEnds: ends };
  }

  /** Where each step's window of a range selector ends (after `@` and `offset`), and its length. */
  prepareMatrix(e: MatrixSelector): { range: number; windowEnds: Float64Array } {
    return { range: e.range, windowEnds: this.refTimes(e.vectorSelector.at, e.vectorSelector.offset) };
  }

  private bufTs = new Float64Array(1024);
  private bufVs = new Float64Array(1024);

  private growBuffers(): void {
    const ts = new Float64Array(this.bufTs.length * 2);
    ts.set(this.bufTs);
    const vs = new Float64Array(this.bufVs.length * 2);
    vs.set(this.bufVs);
    this.bufTs = ts;
    this.bufVs = vs;
  }

  /**
   * A subquery: the inner expression evaluated at multiples of its step inside every window, as
   * Prometheus aligns them (absolute multiples of the step), returned as raw samples per series.
   */
  evalSubquery(e: SubqueryExpr): EvalValue {
    const step = e.step > 0 ? e.step : this.ctx.subqueryStepMs;
    const ends = this.refTimes(e.at, e.offset);
    const [lo, hi] = span(ends);
    const from = lo - e.range;
    let start = Math.floor(from / step) * step;
    if (start <= from) start += step;
    const count = start > hi ? 0 : Math.floor((hi - start) / step) + 1;
    if (count === 0) return { kind: "matrix", series: [], range: e.range, windowEnds: ends };
    // Every inner step holds at least one value: refuse before allocating what the budget forbids.
    this.ctx.limits.checkTransient(count);
    const inner = new Evaluator(this.ctx, { start, end: start + (count - 1) * step, step, count });
    const v = inner.eval(e.expr);
    const series: RangeSeries[] = [];
    const toRange = (
      metric: StepSeries["metric"],
      values: Float64Array,
      present: Uint8Array | null,
      dropName: boolean,
    ) => {
      let k = 0;
      for (let i = 0; i < count; i++) if (!present || present[i]) k++;
      if (k === 0) return;
      const ts = new Float64Array(k);
      const vs = new Float64Array(k);
      let j = 0;
      for (let i = 0; i < count; i++) {
        if (present && !present[i]) continue;
        ts[j] = start + i * step;
        vs[j] = values[i];
        j++;
      }
      series.push({ metric, ts, vs, dropName });
    };
    if (v.kind === "scalar") toRange([], v.values, null, false);
    else if (v.kind === "vector") {
      for (const s of inner.finishNames(v.series)) toRange(s.metric, s.values, s.present, false);
    } else
      throw new ExecutionError(
        `subquery is only allowed on instant vector, got ${v.kind === "matrix" ? "range vector" : v.kind}`,
      );
    return { kind: "matrix", series, range: e.range, windowEnds: ends };
  }

  /** Applies delayed name removal and rejects label sets that collide afterwards. */
  finishNames(series: StepSeries[]): StepSeries[] {
    let changed = false;
    for (const s of series) {
      if (s.dropName) {
        s.metric = dropMetricName(s.metric);
        s.dropName = false;
        changed = true;
      }
    }
    if (changed) checkDuplicates(series, this.steps.count);
    return series;
  }
}

/** Smallest and largest of the step times. */
function span(times: Float64Array): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < times.length; i++) {
    if (times[i] < lo) lo = times[i];
    if (times[i] > hi) hi = times[i];
  }
  return [lo, hi];
}

/** Prometheus refuses results where two series share a label set at one step. */
export function checkDuplicates(
  series: readonly StepSeries[],
  steps: number,
  labelsOf: (s: StepSeries) => Labels = (s) => s.metric,
): void {
  const seen = new Map<string, StepSeries[]>();
  for (const s of series) {
    const key = keyOf(labelsOf(s));
    const list = seen.get(key);
    if (!list) {
      seen.set(key, [s]);
      continue;
    }
    for (const other of list) {
      for (let i = 0; i < steps; i++) {
        if (other.present[i] && s.present[i]) {
          throw new ExecutionError("vector cannot contain metrics with the same labelset");
        }
      }
    }
    list.push(s);
  }
}

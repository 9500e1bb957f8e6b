/** Runs one parsed query: sets up the evaluator, checks the result type, builds the result value. */
import type { Queryable } from "../../storage/index.js";
import { type Expr, exprType } from "../ast.js";
import { InvalidQueryError } from "../errors.js";
import type { MatrixSeries, QueryResult, QueryValue, VectorSample } from "../value.js";
import { Annotations } from "./annotations.js";
import { checkDuplicates, type EvalContext, Evaluator } from "./evaluator.js";
import { type CancelSignal, QueryLimits } from "./limits.js";
import type { Steps } from "./types.js";

export interface RunOptions {
  lookbackMs: number;
  maxSamples: number;
  timeoutMs: number;
  subqueryStepMs: number;
  delayedNameRemoval: boolean;
  signal?: CancelSignal;
}

export function runQuery(
  queryable: Queryable,
  expr: Expr,
  steps: Steps,
  instant: boolean,
  o: RunOptions,
): QueryResult {
  const annotations = new Annotations();
  const limits = new QueryLimits(o.maxSamples, Date.now() + o.timeoutMs, o.signal);
  const ctx: EvalContext = {
    queryable,
    lookbackMs: o.lookbackMs,
    subqueryStepMs: o.subqueryStepMs,
    delayedNameRemoval: o.delayedNameRemoval,
    queryStart: steps.start,
    queryEnd: steps.end,
    limits,
    annotations,
    stats: { samplesRead: 0 },
  };
  const type = exprType(expr);
  if (!instant && type !== "scalar" && type !== "vector") {
    throw new InvalidQueryError(
      `invalid expression type "${type === "matrix" ? "range vector" : type}" for range query, must be Scalar or instant Vector`,
    );
  }
  const ev = new Evaluator(ctx, steps);
  const v = ev.eval(expr);
  const value = toQueryValue(ev, v, steps, instant);
  return {
    value,
    warnings: [...annotations.warnings],
    infos: [...annotations.infos],
    samplesRead: ctx.stats.samplesRead,
  };
}

function toQueryValue(
  ev: Evaluator,
  v: ReturnType<Evaluator["eval"]>,
  steps: Steps,
  instant: boolean,
): QueryValue {
  const n = steps.count;
  switch (v.kind) {
    case "string":
      return { type: "string", t: steps.start, v: v.value };
    case "scalar":
      if (instant) return { type: "scalar", t: steps.start, v: v.values[0] };
      return {
        type: "matrix",
        series: [
          {
            metric: [],
            ts: Float64Array.from({ length: n }, (_, i) => steps.start + i * steps.step),
            vs: v.values,
          },
        ],
      };
    case "vector": {
      const series = ev.finishNames(v.series);
      checkDuplicates(series, n);
      if (instant) {
        const samples: VectorSample[] = [];
        for (const s of series)
          if (s.present[0]) samples.push({ metric: s.metric, t: steps.start, v: s.values[0] });
        return { type: "vector", samples };
      }
      const out: MatrixSeries[] = [];
      for (const s of series) {
        let k = 0;
        for (let i = 0; i < n; i++) k += s.present[i];
        if (k === 0) continue;
        const ts = new Float64Array(k);
        const vs = new Float64Array(k);
        let j = 0;
        for (let i = 0; i < n; i++) {
          if (!s.present[i]) continue;
          ts[j] = steps.start + i * steps.step;
          vs[j] = s.values[i];
          j++;
        }
        out.push({ metric: s.metric, ts, vs });
      }
      out.sort((a, b) => compareMetric(a.metric, b.metric));
      return { type: "matrix", series: out };
    }
    case "matrix": {
      // A range vector as an instant query's result: each series' samples in the window.
      const end = v.windowEnds[0];
      const out: MatrixSeries[] = [];
      for (const s of v.series) {
        let lo = 0;
        while (lo < s.ts.length && s.ts[lo] <= end - v.range) lo++;
        let hi = lo;
        while (hi < s.ts.length && s.ts[hi] <= end) hi++;
        if (hi > lo) out.push({ metric: s.metric, ts: s.ts.slice(lo, hi), vs: s.vs.slice(lo, hi) });
      }
      return { type: "matrix", series: out };
    }
  }
}

function compareMetric(a: MatrixSeries["metric"], b: MatrixSeries["metric"]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i].name !== b[i].name) return a[i].name < b[i].name ? -1 : 1;
    if (a[i].value !== b[i].value) return a[i].value < b[i].value ? -1 : 1;
  }
  return a.length - b.length;
}

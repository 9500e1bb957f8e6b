/**
 * Function calls: the entry of function-calls.ts applied to the call's arguments. Range functions
 * slide a window over each series with two indices (streaming series when the argument is a plain
 * range selector); element-wise functions rewrite values in place.
 */
import { getLabel, type Labels, METRIC_NAME } from "../../storage/index.js";
import type { Call } from "../ast.js";
import { ExecutionError } from "../errors.js";
import type { Evaluator } from "./evaluator.js";
import { type ElementwiseCall, functionCall, type RangeCall } from "./function-calls.js";
import { scalarArg, unwrap, vectorArg } from "./functions/args.js";
import { findMarks, rewindWindow, type Window } from "./functions/range.js";
import { type EvalValue, newStepSeries, type StepSeries, stepTime } from "./types.js";

export function evalCall(ev: Evaluator, call: Call): EvalValue {
  const impl = functionCall(call.func.name);
  switch (impl.kind) {
    case "range":
      return evalRangeFunction(ev, call, impl);
    case "elementwise":
      return evalElementwise(ev, call, impl);
    case "evaluated":
      return impl.eval(ev, call);
    case "unsupported":
      throw new ExecutionError(`function "${call.func.name}" is not supported yet`);
  }
}

function evalElementwise(ev: Evaluator, call: Call, impl: ElementwiseCall): EvalValue {
  const n = ev.steps.count;
  let input: StepSeries[];
  if (impl.defaultsToTime && call.args.length === 0) {
    input = [newStepSeries([], n)];
    for (let i = 0; i < n; i++) {
      input[0].values[i] = stepTime(ev.steps, i) / 1000;
      input[0].present[i] = 1;
    }
  } else input = vectorArg(ev, call.args[0]);
  const extra = call.args.slice(1).map((a) => scalarArg(ev, a));
  const args: number[] = new Array(extra.length).fill(0);
  for (const s of input) {
    for (let i = 0; i < n; i++) {
      if (!s.present[i]) continue;
      for (let k = 0; k < extra.length; k++) args[k] = extra[k][i];
      s.values[i] = impl.fn(s.values[i], args);
    }
    ev.dropName(s);
  }
  return { kind: "vector", series: input };
}

/** Whether a call is a range function over a plain range selector (so it can stream series). */
export function isStreamableRangeCall(call: Call): boolean {
  const impl = functionCall(call.func.name);
  return impl.kind === "range" && unwrap(call.args[impl.matrixArg]).type === "MatrixSelector";
}

/**
 * Evaluates a streamable range-function call, handing each output series to `sink` as soon as it
 * is computed, in a reused buffer: the caller folds it in and must not keep it.
 */
export function streamRangeCall(ev: Evaluator, call: Call, sink: (s: StepSeries) => void): void {
  const impl = functionCall(call.func.name);
  if (impl.kind !== "range") throw new ExecutionError(`${call.func.name} is not a range function`);
  evalRangeFunction(ev, call, impl, sink);
}

function evalRangeFunction(
  ev: Evaluator,
  call: Call,
  impl: RangeCall,
  sink?: (s: StepSeries) => void,
): EvalValue {
  const n = ev.steps.count;
  const fn = impl.fn;
  const matrixIndex = impl.matrixArg;
  const scalars: Float64Array[] = [];
  call.args.forEach((a, k) => {
    if (k !== matrixIndex) scalars.push(scalarArg(ev, a));
  });
  impl.checkArgs?.(ev, scalars);
  const args: number[] = new Array(scalars.length).fill(0);
  const out: StepSeries[] = [];
  let windowEnds: Float64Array = new Float64Array(0);
  const w: Window = {
    end: 0,
    range: 0,
    stepT: 0,
    args,
    marks: new Int32Array(0),
    markCount: 0,
    markCursor: 0,
    queue: new Int32Array(0),
    queueHead: 0,
    queueTail: 0,
    queued: 0,
  };
  /** All steps of one series: slide the window over its samples with two indices. */
  const scratch = sink ? newStepSeries([], n) : null;
  const apply = (metric: Labels, ts: Float64Array, vs: Float64Array, k: number, dropName: boolean) => {
    let o: StepSeries;
    if (scratch) {
      o = scratch;
      o.metric = metric;
      o.dropName = dropName;
      o.present.fill(0);
    } else o = newStepSeries(metric, n, dropName);
    rewindWindow(w);
    if (impl.marks) findMarks(impl.marks, vs, k, w);
    let lo = 0;
    let hi = 0;
    let any = false;
    let work = 0;
    for (let i = 0; i < n; i++) {
      const end = windowEnds[i];
      if (i > 0 && end < windowEnds[i - 1]) {
        lo = 0;
        hi = 0;
        rewindWindow(w);
      }
      while (hi < k && ts[hi] <= end) hi++;
      while (lo < hi && ts[lo] <= end - w.range) lo++;
      if (hi === lo) continue;
      ev.ctx.limits.checkTransient(hi - lo);
      // Wide windows over many steps are where a query spends its time: watch the deadline.
      work += hi - lo;
      if (work > 65_536) {
        work = 0;
        ev.ctx.limits.check();
      }
      w.end = end;
      w.stepT = stepTime(ev.steps, i);
      for (let a = 0; a < scalars.length; a++) args[a] = scalars[a][i];
      const v = fn(ts, vs, lo, hi, w);
      if (v === undefined) continue;
      o.values[i] = v;
      o.present[i] = 1;
      any = true;
    }
    if (!any) return;
    if (impl.counter) {
      const metricName = getLabel(metric, METRIC_NAME);
      if (metricName && !/_(total|sum|count|bucket)$/.test(metricName)) {
        ev.ctx.annotations.info(
          `metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${JSON.stringify(metricName)}`,
        );
      }
    }
    if (!impl.keepsName) ev.dropName(o);
    if (sink) {
      sink(o);
      return;
    }
    ev.ctx.limits.hold(n);
    out.push(o);
  };
  const arg = unwrap(call.args[matrixIndex]);
  if (arg.type === "MatrixSelector") {
    // Stream: one series' samples in memory at a time.
    const prepared = ev.prepareMatrix(arg);
    windowEnds = prepared.windowEnds;
    w.range = prepared.range;
    ev.streamMatrix(arg, (metric, ts, vs, k) => apply(metric, ts, vs, k, false));
  } else {
    const m = ev.eval(call.args[matrixIndex]);
    if (m.kind !== "matrix")
      throw new ExecutionError(`expected range vector argument to ${call.func.name}, got ${m.kind}`);
    windowEnds = m.windowEnds;
    w.range = m.range;
    for (const s of m.series) apply(s.metric, s.ts, s.vs, s.ts.length, s.dropName);
  }
  return { kind: "vector", series: out };
}

/**
 * rate(), increase(), resets() and changes() find a series' resets (or changes) once and visit
 * only those inside each window: checked bit for bit against the per-window scan Prometheus does, on random counters
 * with resets, NaNs and irregular spacing, as plain selectors and under subqueries (whose windows
 * rewind).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { newEngine } from "../../src/promql/engine.js";
import type { QueryValue } from "../../src/promql/value.js";
import { labelsFromObject } from "../../src/storage/index.js";
import { openScratchTsdb } from "../../src/tsdb/scratch.js";

/** Prometheus's extrapolatedRate for a counter, scanning every sample of the window. */
function reference(
  ts: number[],
  vs: number[],
  end: number,
  range: number,
  isRate: boolean,
): number | undefined {
  const idx: number[] = [];
  for (let i = 0; i < ts.length; i++) if (ts[i] > end - range && ts[i] <= end) idx.push(i);
  if (idx.length < 2) return undefined;
  const lo = idx[0];
  const hi = idx[idx.length - 1] + 1;
  let result = vs[hi - 1] - vs[lo];
  let last = vs[lo];
  for (let i = lo; i < hi; i++) {
    if (vs[i] < last) result += last;
    last = vs[i];
  }
  const firstT = ts[lo];
  const lastT = ts[hi - 1];
  let toStart = (firstT - (end - range)) / 1000;
  let toEnd = (end - lastT) / 1000;
  const sampled = (lastT - firstT) / 1000;
  const avg = sampled / (hi - lo - 1);
  let extrapolateTo = sampled;
  if (toStart >= avg * 1.1) toStart = avg / 2;
  if (result > 0 && vs[lo] >= 0) {
    const toZero = sampled * (vs[lo] / result);
    if (toZero < toStart) toStart = toZero;
  }
  extrapolateTo += toStart;
  if (toEnd >= avg * 1.1) toEnd = avg / 2;
  extrapolateTo += toEnd;
  let factor = extrapolateTo / sampled;
  if (isRate) factor /= range / 1000;
  return result * factor;
}

/** resets(): how many samples of the window are below the one before them. */
function referenceResets(ts: number[], vs: number[], end: number, range: number): number | undefined {
  let n = 0;
  let any = false;
  for (let i = 0; i < ts.length; i++) {
    if (!(ts[i] > end - range && ts[i] <= end)) continue;
    if (any && vs[i] < vs[i - 1]) n++;
    any = true;
  }
  return any ? n : undefined;
}

/** changes(): how many samples of the window differ from the one before them (NaN equals NaN). */
function referenceChanges(ts: number[], vs: number[], end: number, range: number): number | undefined {
  let n = 0;
  let any = false;
  for (let i = 0; i < ts.length; i++) {
    if (!(ts[i] > end - range && ts[i] <= end)) continue;
    if (any && vs[i] !== vs[i - 1] && !(Number.isNaN(vs[i]) && Number.isNaN(vs[i - 1]))) n++;
    any = true;
  }
  return any ? n : undefined;
}

/** min_over_time / max_over_time as Prometheus scans the window. */
function referenceExtreme(
  ts: number[],
  vs: number[],
  end: number,
  range: number,
  max: boolean,
): number | undefined {
  let m: number | undefined;
  for (let i = 0; i < ts.length; i++) {
    if (!(ts[i] > end - range && ts[i] <= end)) continue;
    if (m === undefined || Number.isNaN(m) || (max ? vs[i] > m : vs[i] < m)) m = vs[i];
  }
  return m;
}

const counter = fc.array(
  fc.record({
    gap: fc.integer({ min: 1, max: 40 }),
    step: fc.oneof(
      { weight: 8, arbitrary: fc.double({ min: 0, max: 1e6, noNaN: true }) },
      { weight: 2, arbitrary: fc.constant(0) }, // unchanged
      { weight: 2, arbitrary: fc.constant(-1) }, // a reset: back to a small value
      { weight: 1, arbitrary: fc.constant(Number.NaN) },
    ),
  }),
  { minLength: 2, maxLength: 200 },
);

function pointsOf(value: QueryValue): Map<number, number> {
  const out = new Map<number, number>();
  if (value.type !== "matrix") throw new Error(`expected a matrix, got ${value.type}`);
  for (const s of value.series) for (let i = 0; i < s.ts.length; i++) out.set(s.ts[i], s.vs[i]);
  return out;
}

test("rate, increase, resets and changes equal the per-window scan bit for bit", () => {
  const engine = newEngine();
  fc.assert(
    fc.property(counter, fc.integer({ min: 30, max: 900 }), fc.boolean(), (points, rangeS, isRate) => {
      const ts: number[] = [];
      const vs: number[] = [];
      let t = 0;
      let v = 0;
      for (const p of points) {
        t += p.gap * 1000;
        v = Number.isNaN(p.step)
          ? Number.NaN
          : p.step < 0
            ? Math.abs(v) % 7
            : (Number.isNaN(v) ? 0 : v) + p.step;
        ts.push(t);
        vs.push(v);
      }
      const store = openScratchTsdb();
      try {
        const app = store.appender();
        const labels = labelsFromObject({ __name__: "c_total" });
        let ref = 0;
        for (let i = 0; i < ts.length; i++) ref = app.append(ref, labels, ts[i], vs[i]);
        app.commit();
        const fn = isRate ? "rate" : "increase";
        const step = 7_000;
        const res = engine.rangeQuery(store, `${fn}(c_total[${rangeS}s])`, 0, t + 60_000, step);
        const got = pointsOf(res.value);
        for (let at = 0; at <= t + 60_000; at += step) {
          const want = reference(ts, vs, at, rangeS * 1000, isRate);
          const have = got.get(at);
          if (want === undefined) assert.equal(have, undefined, `no value expected at ${at}`);
          else assert.ok(Object.is(have, want), `${fn} at ${at}: ${have} !== ${want}`);
        }
        const counted = pointsOf(
          engine.rangeQuery(store, `resets(c_total[${rangeS}s])`, 0, t + 60_000, step).value,
        );
        for (let at = 0; at <= t + 60_000; at += step) {
          assert.equal(counted.get(at), referenceResets(ts, vs, at, rangeS * 1000), `resets at ${at}`);
        }
        const changed = pointsOf(
          engine.rangeQuery(store, `changes(c_total[${rangeS}s])`, 0, t + 60_000, step).value,
        );
        for (let at = 0; at <= t + 60_000; at += step) {
          assert.equal(changed.get(at), referenceChanges(ts, vs, at, rangeS * 1000), `changes at ${at}`);
        }
        for (const fnName of ["min_over_time", "max_over_time"]) {
          const got = pointsOf(
            engine.rangeQuery(store, `${fnName}(c_total[${rangeS}s])`, 0, t + 60_000, step).value,
          );
          for (let at = 0; at <= t + 60_000; at += step) {
            const want = referenceExtreme(ts, vs, at, rangeS * 1000, fnName === "max_over_time");
            const have = got.get(at);
            assert.ok(
              Object.is(have, want) || (want !== undefined && Number.isNaN(want) && Number.isNaN(have ?? 0)),
              `${fnName} at ${at}: ${have} !== ${want}`,
            );
          }
        }
        // Over a subquery, a range query's windows rewind from one step to the next (each step
        // has its own inner samples): every step must equal the same query evaluated alone.
        for (const expr of [`${fn}(c_total[${rangeS}s:5s])`, `max_over_time(c_total[${rangeS}s:5s])`]) {
          const ranged = pointsOf(engine.rangeQuery(store, expr, 0, t + 60_000, step * 3).value);
          for (const [at, value] of ranged) {
            const alone = engine.instantQuery(store, expr, at).value;
            const single = alone.type === "vector" ? alone.samples[0]?.v : undefined;
            assert.ok(Object.is(single, value), `${expr} at ${at}: range ${value}, instant ${single}`);
          }
        }
      } finally {
        store.close();
      }
    }),
    { numRuns: 150 },
  );
});

test("min_over_time and max_over_time keep the first of equal extremes, as the scan does (0 and -0)", () => {
  const engine = newEngine();
  const store = openScratchTsdb();
  try {
    const app = store.appender();
    const values = [-0, 0, 5, 0, -0, Number.NaN, Number.NaN];
    for (const [i, v] of values.entries())
      app.append(0, labelsFromObject({ __name__: "z" }), (i + 1) * 10_000, v);
    app.commit();
    const at = (q: string, t: number) => {
      const v = engine.instantQuery(store, q, t).value;
      return v.type === "vector" ? v.samples[0]?.v : undefined;
    };
    assert.ok(Object.is(at("min_over_time(z[25s])", 20_000), -0), "[-0, 0]: the first");
    assert.ok(Object.is(at("max_over_time(z[25s])", 20_000), -0), "[-0, 0]: the first");
    assert.ok(Object.is(at("min_over_time(z[25s])", 50_000), 0), "[0, -0]: the first");
    assert.ok(Number.isNaN(at("max_over_time(z[15s])", 70_000) ?? 0), "only NaNs: NaN");
    assert.ok(
      Object.is(at("max_over_time(z[35s])", 70_000), 0),
      "[0, -0, NaN, NaN]: NaNs lose, the first zero wins",
    );
  } finally {
    store.close();
  }
});

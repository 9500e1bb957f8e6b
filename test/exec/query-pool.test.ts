/**
 * The query pool: answers equal to the in-process engine's over a real store (memory chunks,
 * persisted chunks, many pages), isolation of what a worker can read, and limits that hold in
 * wall time — a query that never reaches the engine's own checks is ended at its deadline, a
 * cancelled one is ended, one over its heap budget dies alone — with the pool usable afterwards.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { QueryPool } from "../../src/exec/query-pool.js";
import { newEngine } from "../../src/promql/engine.js";
import { ParseError, QueryCanceledError, QueryTimeoutError } from "../../src/promql/errors.js";
import type { QueryResult } from "../../src/promql/value.js";
import { labelsFromObject, scopeToProject } from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { tempDir } from "../tsdb/helpers.js";

const HOUR = 3_600_000;
/**
 * ~2.5 s in one range function over a subquery's 124 M points: the evaluator checks its limits
 * between nodes, not inside that loop, so only the pool can stop it on time.
 */
const SLOW = "sum_over_time(sum_over_time(vector(1)[1d:1s])[1d:1m])";
const END = 30 * HOUR;

function canonical(r: QueryResult): unknown {
  const v = r.value;
  if (v.type === "matrix")
    return v.series.map((s) => ({ m: s.metric, ts: [...s.ts], vs: [...s.vs].map(String) }));
  if (v.type === "vector") return v.samples.map((s) => ({ m: s.metric, t: s.t, v: String(s.v) }));
  return { t: v.t, v: String(v.v) };
}

describe("query pool", () => {
  let db: Tsdb;
  let cleanup: () => void;
  let pool: QueryPool;
  const engine = newEngine();

  before(() => {
    const t = tempDir("mim-pool-");
    cleanup = t.cleanup;
    // A one-hour memory window: most of the 30 h lives in persisted chunks, read through SQLite.
    db = Tsdb.open({ dir: t.dir, maintenanceIntervalMs: 0, memoryWindowMs: HOUR });
    for (let t0 = 0; t0 <= END; t0 += HOUR) {
      const app = db.appender();
      for (let t = t0; t < t0 + HOUR && t <= END; t += 60_000) {
        for (const project of ["a", "b"]) {
          for (let m = 0; m < 60; m++) {
            const labels = labelsFromObject({
              __name__: "requests_total",
              project_id: project,
              model_name: `model-${m}`,
              service_tier: m % 2 ? "pt" : "on_demand",
            });
            app.append(0, labels, t, (t / 60_000) * (m + 1) + (project === "b" ? 1e6 : 0));
          }
        }
      }
      app.commit();
      db.checkpoint();
    }
    pool = new QueryPool({ workers: 2, graceMs: 200 });
  });

  after(async () => {
    await pool.close();
    db.close();
    cleanup();
  });

  const queries = [
    "sum by (service_tier) (rate(requests_total[5m]))",
    "requests_total",
    'topk(3, increase(requests_total{model_name=~"model-1.*"}[1h]))',
    "count(requests_total)",
    "max_over_time(requests_total[30m:5m])",
  ];

  it("answers as the in-process engine does, over memory and persisted chunks", async () => {
    const a = scopeToProject(db, "a");
    for (const q of queries) {
      const job = {
        kind: "range" as const,
        query: q,
        start: 0,
        end: END,
        step: 300_000,
        deadline: Date.now() + 60_000,
      };
      const got = await pool.run(job, a);
      const want = engine.rangeQuery(a, q, 0, END, 300_000);
      assert.deepEqual(canonical(got), canonical(want), q);
      assert.equal(got.samplesRead, want.samplesRead, q);
      const instant = await pool.run({ ...job, kind: "instant", start: END, end: END, step: 0 }, a);
      assert.deepEqual(canonical(instant), canonical(engine.instantQuery(a, q, END)), q);
    }
  });

  it("reads only through the queryable it was given", async () => {
    const got = await pool.run(
      {
        kind: "instant",
        query: 'count({project_id=~".+"})',
        start: END,
        end: END,
        step: 0,
        deadline: Date.now() + 30_000,
      },
      scopeToProject(db, "b"),
    );
    assert.deepEqual(canonical(got), [{ m: [], t: END, v: "60" }]);
  });

  it("gives the engine's errors their classes back", async () => {
    await assert.rejects(
      pool.run(
        { kind: "instant", query: "sum(", start: 0, end: 0, step: 0, deadline: Date.now() + 5000 },
        db,
      ),
      (e) => e instanceof ParseError && e.toString().startsWith("1:5: parse error"),
    );
  });

  it("times out in the queue without running when every worker is busy", async () => {
    // The busy queries end by cancellation, not by a deadline: how fast SLOW runs on this machine
    // must not decide whether the workers are still busy when the queued query's deadline passes.
    const ac = new AbortController();
    const deadline = Date.now() + 60_000;
    const running = [0, 1].map(() =>
      pool
        .run({ kind: "instant", query: SLOW, start: END, end: END, step: 0, deadline, signal: ac.signal }, db)
        .catch((e) => e),
    );
    const queued = await pool
      .run({ kind: "instant", query: "1", start: 0, end: 0, step: 0, deadline: Date.now() + 300 }, db)
      .catch((e) => e);
    ac.abort();
    assert.ok(queued instanceof QueryTimeoutError, String(queued));
    assert.match(queued.message, /query queue/);
    for (const r of await Promise.all(running)) assert.ok(r instanceof QueryCanceledError, String(r));
  });

  it("ends a query at its deadline even when it never reaches a check, and keeps serving", async () => {
    const started = Date.now();
    const q = SLOW;
    const err = await pool
      .run({ kind: "instant", query: q, start: END, end: END, step: 0, deadline: started + 500 }, db)
      .catch((e) => e);
    const took = Date.now() - started;
    assert.ok(err instanceof QueryTimeoutError, String(err));
    assert.ok(took >= 500, `answered after ${took} ms, before its deadline`);
    // Generous bound (10× the expected): the deadline plus the grace, on a loaded machine.
    assert.ok(took < 5000, `answered after ${took} ms`);
    const after = await pool.run(
      { kind: "instant", query: "1+1", start: 0, end: 0, step: 0, deadline: Date.now() + 10_000 },
      db,
    );
    assert.deepEqual(canonical(after), { t: 0, v: "2" });
  });

  it("ends a cancelled query", async () => {
    const ac = new AbortController();
    const p = pool.run(
      {
        kind: "instant",
        query: SLOW,
        start: END,
        end: END,
        step: 0,
        deadline: Date.now() + 60_000,
        signal: ac.signal,
      },
      db,
    );
    const started = Date.now();
    setTimeout(() => ac.abort(), 100);
    const err = await p.catch((e) => e);
    assert.ok(err instanceof QueryCanceledError, String(err));
    assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
  });

  it("lowers a long query's worker priority while it runs, and restores it after", async (t) => {
    if (process.platform !== "linux") return t.skip("thread priorities are read from /proc");
    /** Nice values of this process's threads (field 19 of /proc/self/task/<tid>/stat). */
    const nices = () =>
      readdirSync("/proc/self/task").map((tid) => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, "latin1");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
      });
    // A fresh pool: its workers may still be starting when the query arrives.
    const fresh = new QueryPool({ workers: 1, graceMs: 200 });
    t.after(() => fresh.close());
    const ac = new AbortController();
    const run = fresh
      .run(
        {
          kind: "instant",
          query: "sum_over_time(sum_over_time(vector(1)[2d:1s])[1d:1m])",
          start: END,
          end: END,
          step: 0,
          deadline: Date.now() + 60_000,
          signal: ac.signal,
        },
        db,
      )
      .catch((e) => e);
    await new Promise((r) => setTimeout(r, 800));
    assert.ok(nices().includes(10), `thread nice values: ${nices()}`);
    assert.equal(fresh.stats.demoted, 1);
    ac.abort();
    const ended = await run;
    assert.ok(ended instanceof QueryCanceledError, String(ended));
    // Restored (root may raise it back) or the worker retired and replaced: no thread stays low.
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!nices().includes(10), `thread nice values after: ${nices()}`);
  });
});

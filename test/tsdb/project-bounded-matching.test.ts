/**
 * A tenant's selection carries `project_id="<p>"` (project-scope.ts); every other matcher of it
 * must only ever be evaluated against label values that occur in p's own series — never against
 * another project's values, whatever the other projects hold. Proven by counting: the matchers
 * here record every value they are asked about.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  labelsFromObject,
  labelsToObject,
  Matcher,
  type MatchType,
  type Querier,
  scopeToProject,
} from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { tempDir } from "./helpers.js";

const cleanups: Array<() => void> = [];
after(() => {
  for (const c of cleanups) c();
});

const HOUR = 3_600_000;
const ALL = [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY] as const;
const A_MODELS = ["alpha", "bravo", "bxxxxxxxxx"];
const B_MODELS = Array.from({ length: 10_000 }, (_, i) => `b${"x".repeat(i % 9)}-${i}x`);

/** A Matcher that records every value it is evaluated against. */
class CountingMatcher extends Matcher {
  readonly seen: string[] = [];
  override matches(s: string): boolean {
    this.seen.push(s);
    return super.matches(s);
  }
}

function series(project: string, model: string) {
  return labelsFromObject({ __name__: "tokens_total", project_id: project, model_name: model });
}

function fill(db: Tsdb, t: number, projects: Array<[string, readonly string[]]>): void {
  const app = db.appender();
  for (const [project, models] of projects) for (const m of models) app.append(0, series(project, m), t, 1);
  app.commit();
}

/** The tenant-facing matchers worth probing: regexes, negations, and ones that match "". */
const PROBES: Array<[MatchType, string]> = [
  ["=~", "b(.*){8}x"],
  ["!~", "b(.*){8}x"],
  ["!=", "alpha"],
  ["=~", "|alpha"],
  ["=~", ""],
  ["!~", ".+"],
  ["=", ""],
];

/**
 * Runs every probe through project A's scoped querier (select, labelValues, labelNames) and checks
 * that each matcher saw only A's values (or ""), and that the results are those of a brute-force
 * filter over A's series.
 */
function assertBoundedToA(q: Querier, aModels: readonly string[]): void {
  const allowed = new Set([...aModels, ""]);
  for (const [type, value] of PROBES) {
    const m = new CountingMatcher(type, "model_name", value);
    const set = q.select(true, undefined, Matcher.eq("__name__", "tokens_total"), m);
    const got: string[] = [];
    while (set.next()) {
      const l = labelsToObject(set.at().labels);
      assert.equal(l.project_id, "A");
      got.push(l.model_name);
    }
    const strange = m.seen.filter((v) => !allowed.has(v));
    assert.deepEqual(strange, [], `${m}: evaluated against values outside project A`);
    assert.ok(
      m.seen.length <= aModels.length + 1,
      `${m}: ${m.seen.length} evaluations for ${aModels.length} values`,
    );
    const plain = new Matcher(type, "model_name", value);
    assert.deepEqual(got, aModels.filter((v) => plain.matches(v)).sort(), `${m}: result`);

    const lv = new CountingMatcher(type, "model_name", value);
    assert.deepEqual(q.labelValues("model_name", lv), aModels.filter((v) => plain.matches(v)).sort());
    assert.deepEqual(
      lv.seen.filter((v) => !allowed.has(v)),
      [],
      `${lv}: labelValues`,
    );
    const ln = new CountingMatcher(type, "model_name", value);
    q.labelNames(ln);
    assert.deepEqual(
      ln.seen.filter((v) => !allowed.has(v)),
      [],
      `${ln}: labelNames`,
    );
  }
  assert.deepEqual(q.labelValues("model_name"), [...aModels].sort());
  assert.deepEqual(q.labelValues("project_id"), ["A"]);
}

function fresh(options: Partial<Parameters<typeof Tsdb.open>[0]> = {}) {
  const { dir, cleanup } = tempDir("mim-tsdb-bounded-");
  cleanups.push(cleanup);
  const opts = { dir, maintenanceIntervalMs: 0, ...options };
  return { db: Tsdb.open(opts), opts };
}

describe("a project's matchers see only its own label values", () => {
  it("in-memory (head) series", () => {
    const { db } = fresh();
    fill(db, 1000, [
      ["A", A_MODELS],
      ["B", B_MODELS],
    ]);
    assertBoundedToA(scopeToProject(db, "A").querier(...ALL), A_MODELS);
    // Unscoped (operator) selections still see everything, as before.
    const all = new CountingMatcher("=~", "model_name", "b(.*){8}x");
    const set = db.querier(...ALL).select(false, undefined, all);
    let n = 0;
    while (set.next()) n++;
    // Every value once, plus the matchesEmpty() probe with "".
    assert.equal(all.seen.length, new Set([...A_MODELS, ...B_MODELS]).size + 1);
    assert.equal(n, [...A_MODELS, ...B_MODELS].filter((v) => /^b(.*){8}x$/.test(v)).length);
    db.close();
  });

  it("persisted series, and after a restart rebuilds the index from SQLite", () => {
    const { db, opts } = fresh({ memoryWindowMs: 60_000, blockDurationMs: HOUR });
    for (let t = 0; t <= 2 * HOUR; t += 10 * 60_000) {
      fill(db, t, [
        ["A", A_MODELS],
        ["B", B_MODELS],
      ]);
      db.maintain();
    }
    db.checkpoint();
    db.maintain();
    assert.ok(db.stats().blocks.length >= 2, "chunks were written to block tables");
    assertBoundedToA(scopeToProject(db, "A").querier(0, HOUR), A_MODELS);
    db.close();
    const again = Tsdb.open(opts);
    assertBoundedToA(scopeToProject(again, "A").querier(...ALL), A_MODELS);
    again.close();
  });

  it("series deleted by retention are not looked at either", () => {
    let now = 0;
    const { db } = fresh({ retentionMs: 2 * HOUR, blockDurationMs: HOUR / 2, now: () => now });
    const aGone = ["bgone-xxxxxxxx", "old"];
    fill(db, 0, [
      ["A", aGone],
      ["B", B_MODELS],
    ]);
    for (let t = 0; t <= 6 * HOUR; t += 30 * 60_000) {
      now = t;
      fill(db, t, [
        ["A", A_MODELS],
        ["B", B_MODELS.slice(0, 100)],
      ]);
      db.maintain();
    }
    db.maintain();
    assertBoundedToA(scopeToProject(db, "A").querier(...ALL), A_MODELS);
    const m = new CountingMatcher("=~", "model_name", ".*gone.*");
    const set = db.querier(...ALL).select(false, undefined, m);
    assert.equal(set.next(), false, "the expired series are gone");
    assert.equal(m.seen.length, new Set([...A_MODELS, ...B_MODELS.slice(0, 100)]).size + 1);
    assert.ok(!m.seen.some((v) => aGone.includes(v)), "expired values are not in the index");
    db.close();
  });

  it("a project that does not exist evaluates nothing", () => {
    const { db } = fresh();
    fill(db, 1000, [["B", B_MODELS]]);
    const m = new CountingMatcher("=~", "model_name", "b(.*){8}x");
    const set = scopeToProject(db, "nope")
      .querier(...ALL)
      .select(false, undefined, m);
    assert.equal(set.next(), false);
    assert.deepEqual(m.seen, []);
    db.close();
  });
});

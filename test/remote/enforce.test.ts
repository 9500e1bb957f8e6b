/**
 * Query rewriting for remote mode (src/remote/enforce.ts), checked four ways:
 *
 *  - tables: what each kind of node and each kind of `project_id` matcher becomes, and the test
 *    cases of prom-label-proxy's enforcer restated as facts (input, what that proxy does, what we do);
 *  - the attacks of test/api/isolation.test.ts as query text: the rewritten query, run UNSCOPED by
 *    our engine over a store holding several projects, must answer what the original query answers
 *    in the embedded mode (the same engine over scopeToProject), and show none of the other
 *    projects' secrets. The one difference, absent()'s output labels, is pinned down exactly;
 *  - `match[]` look-ups compared the same way (select, label names, label values);
 *  - properties over random queries from a small grammar: the rewrite parses, prints stably, is
 *    idempotent, enforces every selector, and (absent() left out) answers as the embedded mode.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { toApiError } from "../../src/api/errors.js";
import { newEngine } from "../../src/promql/engine.js";
import { ParseError } from "../../src/promql/errors.js";
import { parseExpr, parseMetricSelector } from "../../src/promql/parser/index.js";
import { formatExpr } from "../../src/promql/printer.js";
import type { QueryResult, QueryValue } from "../../src/promql/value.js";
import {
  DENY_LABEL,
  enforceMatchers,
  enforceProject,
  InfoNotSupportedError,
} from "../../src/remote/enforce.js";
import { semanticKey } from "../../src/remote/enforce-verify.js";
import { RemoteEnforcementError } from "../../src/remote/enforce-walk.js";
import {
  type Labels,
  labelsFromObject,
  labelsToObject,
  type Matcher,
  type Queryable,
  scopeToProject,
} from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import {
  A,
  B,
  C,
  IN,
  ISOLATION_QUERIES,
  ISOLATION_SELECTORS,
  REQ,
  T,
  type Target,
  U,
} from "../api/isolation-attacks.js";
import { tempDir } from "../tsdb/helpers.js";

// ---------------------------------------------------------------------------------------------
// Projects and data, after test/api/isolation.test.ts
const DENY = `${DENY_LABEL}!="",${DENY_LABEL}=~""`;

/** Query time in s; samples once a minute over the hour before it. */
const TIMES = Array.from({ length: 61 }, (_, i) => (T - 3600 + 60 * i) * 1000);

const DATA: Array<{ labels: Record<string, string>; value: (i: number) => number }> = [
  {
    labels: { __name__: REQ, project_id: A, model_name: "model-a", a_only_label: "a-value" },
    value: (i) => i,
  },
  { labels: { __name__: IN, project_id: A, model_name: "model-a" }, value: (i) => 10 * i },
  {
    labels: { __name__: REQ, project_id: B.P, model_name: "model-a", a_only_label: "a-value" },
    value: () => 424242,
  },
  { labels: { __name__: REQ, project_id: B.P, model_name: B.M, [B.L]: B.V }, value: () => 987654 },
  { labels: { __name__: B.N, project_id: B.P, model_name: B.M }, value: () => 987654 },
  { labels: { __name__: REQ, project_id: C.P, model_name: C.M, [C.L]: C.V }, value: () => 777777 },
  { labels: { __name__: C.N, project_id: C.P, model_name: C.M }, value: () => 777777 },
  { labels: { __name__: REQ, project_id: U.P, model_name: U.M, [U.L]: U.V }, value: () => 333333 },
  { labels: { __name__: U.N, project_id: U.P, model_name: U.M }, value: () => 333333 },
  // No project at all (the store keeps them; ingest would refuse them).
  { labels: { __name__: "orphan_metric", model_name: "orphan-secret" }, value: () => 111111 },
  { labels: { __name__: REQ, model_name: "orphan-secret-2" }, value: () => 111111 },
];

const NEEDLES = [
  ...[B, C, U].flatMap((t) => [t.P, t.M, t.L, t.V, t.N]),
  "orphan_metric",
  "orphan-secret",
  '"424242',
  '"987654',
  '"777777',
  '"333333',
  '"111111',
];

// ---------------------------------------------------------------------------------------------
// Helpers

/** Every selector of a parsed query, found by walking all properties (not by node type). */
function selectors(root: unknown): Array<{ matchers: readonly Matcher[] }> {
  const out: Array<{ matchers: readonly Matcher[] }> = [];
  const visit = (x: unknown) => {
    if (x === null || typeof x !== "object") return;
    if ((x as { type?: string }).type === "VectorSelector") out.push(x as { matchers: Matcher[] });
    for (const v of Object.values(x)) visit(v);
  };
  visit(root);
  return out;
}

/** The project_id matchers of every selector of `text`, as strings. */
function projectMatchers(text: string): string[][] {
  return selectors(parseExpr(text)).map((s) =>
    s.matchers.filter((m) => m.name === "project_id").map((m) => `${m.type}${m.value}`),
  );
}

function assertEnforcedText(text: string, project = A): void {
  const found = projectMatchers(text);
  for (const ms of found) assert.deepEqual(ms, [`=${project}`], text);
}

const num = (v: number) => (Object.is(v, -0) ? "-0" : String(v));

function canon(v: QueryValue, dropProject = false): unknown {
  const labels = (l: Labels) => {
    const o = labelsToObject(l);
    if (dropProject) delete o.project_id;
    return o;
  };
  switch (v.type) {
    case "scalar":
      return ["scalar", v.t, num(v.v)];
    case "string":
      return ["string", v.t, v.v];
    case "vector":
      return ["vector", v.samples.map((s) => [labels(s.metric), s.t, num(s.v)])];
    case "matrix":
      return ["matrix", v.series.map((s) => [labels(s.metric), [...s.ts], [...s.vs].map(num)])];
  }
}

interface Outcome {
  text: string;
  value?: QueryValue;
}

/** A result or an error the way the API would answer it (errorType and message). */
function outcome(run: () => QueryResult): Outcome {
  try {
    const r = run();
    return {
      text: JSON.stringify([canon(r.value), r.warnings, r.infos]),
      value: r.value,
    };
  } catch (err) {
    const e = toApiError(err);
    return { text: `error ${e.type}: ${e.message}` };
  }
}

const engine = newEngine();

type Mode = "instant" | "range";

function evaluate(db: Queryable, q: string, mode: Mode): QueryResult {
  return mode === "instant"
    ? engine.instantQuery(db, q, T * 1000)
    : engine.rangeQuery(db, q, (T - 1800) * 1000, T * 1000, 60_000);
}

/** The embedded answer and the remote one (the rewritten query over the whole store). */
function bothModes(db: Tsdb, q: string, mode: Mode): { embedded: Outcome; remote: Outcome } {
  const embedded = outcome(() => evaluate(scopeToProject(db, A), q, mode));
  const remote = outcome(() => evaluate(db, enforceProject(q, A), mode));
  return { embedded, remote };
}

/** absent(<selector>) and absent_over_time(<selector>[…]) label their output from the selector. */
const ABSENT_OF_SELECTOR = /^absent(_over_time)?\((?![^)]*\[[^\]]*:)/;

// ---------------------------------------------------------------------------------------------
// The attacks of test/api/isolation.test.ts, as query text

const QUERIES: ReadonlyArray<(t: Target) => string> = [
  ...ISOLATION_QUERIES,
  // Beyond isolation.test.ts: a selector in an aggregation's parameter (prom-label-proxy does not
  // enforce it), duplicate and quoted project_id matchers, ignoring() with group_left.
  (t) => `topk(scalar(count(${t.N})), ${REQ})`,
  (t) => `quantile(scalar(sum({project_id="${t.P}"})) / 1e6, {__name__=~".+"})`,
  (t) => `{"project_id"="${t.P}","project_id"="${A}"}`,
  (t) => `{project_id="${A}","project_id"=~"${t.P}|${A}"}`,
  () => `${IN} / ignoring() group_left ${REQ}`,
  // Two series of A on the left share one signature: only group_left makes this valid.
  () =>
    `label_replace({__name__=~".+"}, "a_only_label", "", "", "") / ignoring() group_left sum by (project_id, model_name) ({__name__=~".+"})`,
];

/** The selectors of isolation.test.ts aimed at a target, for match[], and a few more. */
const SELECTORS: ReadonlyArray<(t: Target) => string> = [
  ...ISOLATION_SELECTORS,
  () => `${REQ} offset 5m`,
  () => `{project_id!=""}`,
];

// ---------------------------------------------------------------------------------------------

describe("remote mode: enforceProject rewrites", () => {
  const cases: Array<[string, string]> = [
    ["up", 'up{project_id="A"}'],
    ['up{job="x"}', 'up{job="x",project_id="A"}'],
    ["rate(x[5m])", 'rate(x{project_id="A"}[5m])'],
    ["x[5m:1m] offset 1m", 'x{project_id="A"}[5m:1m] offset 1m'],
    ["max_over_time((a + b)[10m:])", 'max_over_time((a{project_id="A"} + b{project_id="A"})[10m:])'],
    ["x @ start() offset 5m", 'x{project_id="A"} @ start() offset 5m'],
    ["rate(x[5m] @ end())", 'rate(x{project_id="A"}[5m] @ end())'],
    ["x @ 100 offset -1m", 'x{project_id="A"} @ 100.000 offset -1m'],
    ["sum by (m) (rate(x[1m]))", 'sum by (m) (rate(x{project_id="A"}[1m]))'],
    ["topk(scalar(count(b)), a)", 'topk(scalar(count(b{project_id="A"})), a{project_id="A"})'],
    ['count_values("v", a)', 'count_values("v", a{project_id="A"})'],
    ["-(a) + 1", '-(a{project_id="A"}) + 1'],
    ["a and on (x) b unless c", 'a{project_id="A"} and on (x) b{project_id="A"} unless c{project_id="A"}'],
    [
      'label_replace(a, "project_id", "B", "", "")',
      'label_replace(a{project_id="A"}, "project_id", "B", "", "")',
    ],
    ["vector(1)", "vector(1)"],
    ["1 + 2", "1 + 2"],
    ['"text"', '"text"'],
    ["time() - timestamp(up)", 'time() - timestamp(up{project_id="A"})'],
    ['{__name__=~".+"}', '{__name__=~".+",project_id="A"}'],
    ['{"my.metric"}', '{__name__="my.metric",project_id="A"}'],
    ['{"a.b"="c"}', '{"a.b"="c",project_id="A"}'],
    ["rate(x[1m+2m])", 'rate(x{project_id="A"}[1m + 2m])'],
    // The printer would drop `ignoring()` and with it group_left; __name__ keeps the meaning.
    [
      "a * ignoring() group_left(x) b",
      'a{project_id="A"} * ignoring (__name__) group_left (x) b{project_id="A"}',
    ],
    [
      "a * ignoring() group_right b",
      'a{project_id="A"} * ignoring (__name__) group_right () b{project_id="A"}',
    ],
    ["a * ignoring() b", 'a{project_id="A"} * b{project_id="A"}'],
  ];
  for (const [q, want] of cases) {
    it(q, () => assert.equal(enforceProject(q, "A"), want));
  }

  it("escapes an odd project id and reads it back exactly", () => {
    for (const id of ['we"ird\\id', "ünï-cödé", "a\nb", "`x`", '}{,project_id="B"']) {
      const out = enforceProject('up or {project_id="x"}', id);
      assertEnforcedText(out, id);
    }
  });

  it('refuses an empty project id (project_id="" would select series of no project)', () => {
    assert.throws(() => enforceProject("up", ""), TypeError);
    assert.throws(() => enforceMatchers([], ""), TypeError);
  });
});

describe("remote mode: project_id matchers", () => {
  // Consistent with A: all dropped for the equality. Inconsistent: the selector selects nothing.
  const consistent = [
    '{project_id="A"}',
    '{project_id=~"A|B"}',
    '{project_id=~".+"}',
    '{project_id=~"(?i)a"}',
    'x{project_id!="B"}',
    'x{project_id!~"B.*"}',
    '{project_id=~"A",project_id=~".+"}',
    '{"project_id"="A"}',
    '{project_id="\\x41"}',
  ];
  const inconsistent = [
    '{project_id="B"}',
    '{project_id=~"B.*",x="y"}',
    '{project_id!="A",x="y"}',
    '{project_id="",x="y"}',
    '{project_id=~"A.+"}',
    '{project_id!~"A|B",x="y"}',
    '{project_id="A",project_id="B"}',
    '{"project_id"="B"}',
    '{project_id="a"}',
  ];
  for (const q of consistent) {
    it(`${q} becomes the equality`, () => {
      const out = enforceProject(q, "A");
      assert.ok(!out.includes(DENY_LABEL), out);
      assertEnforcedText(out, "A");
    });
  }
  for (const q of inconsistent) {
    it(`${q} selects nothing`, () => {
      const out = enforceProject(q, "A");
      assert.ok(out.includes(DENY), out);
      assertEnforcedText(out, "A");
    });
  }

  it("keeps the selector's other matchers (absent() still sees them)", () => {
    assert.equal(
      enforceProject('absent(x{project_id="B",model="m"})', "A"),
      `absent(x{${DENY},model="m",project_id="A"})`,
    );
  });

  it("is idempotent on denied selectors too", () => {
    const once = enforceProject('x{project_id="B"}', "A");
    assert.equal(enforceProject(once, "A"), once);
  });
});

describe("remote mode: prom-label-proxy's enforcer cases, restated", () => {
  // Facts from prometheus-community/prom-label-proxy (injectproxy/enforce.go, enforce_test.go,
  // README, issues #162 and #233), with its enforced label played by project_id = "NS".
  interface Fact {
    what: string;
    query: string;
    /** What prom-label-proxy does, in words. */
    proxy: string;
    ours: string;
  }
  const facts: Fact[] = [
    {
      what: "function arguments get the label",
      query: 'round(metric1{label="baz"},3)',
      proxy: 'round(metric1{label="baz",project_id="NS"}, 3)',
      ours: 'round(metric1{label="baz",project_id="NS"}, 3)',
    },
    {
      what: "aggregations get the label",
      query: 'sum by (pod) (metric1{label="baz"})',
      proxy: 'sum by (pod) (metric1{label="baz",project_id="NS"})',
      ours: 'sum by (pod) (metric1{label="baz",project_id="NS"})',
    },
    {
      what: "both sides of a binary operator get it",
      query: 'metric1{} + sum by (pod) (metric2{label="baz"})',
      proxy: 'metric1{project_id="NS"} + sum by (pod) (metric2{label="baz",project_id="NS"})',
      ours: 'metric1{project_id="NS"} + sum by (pod) (metric2{label="baz",project_id="NS"})',
    },
    {
      what: "vector matching is kept",
      query: 'metric1{} + on(pod,namespace) sum by (pod) (metric2{label="baz"})',
      proxy:
        'metric1{project_id="NS"} + on (pod, namespace) sum by (pod) (metric2{label="baz",project_id="NS"})',
      ours: 'metric1{project_id="NS"} + on (pod, namespace) sum by (pod) (metric2{label="baz",project_id="NS"})',
    },
    {
      what: "a matcher with the enforced value is kept as the equality",
      query: 'round(metric1{label="baz",project_id="NS"},3)',
      proxy: 'round(metric1{label="baz",project_id="NS"}, 3)',
      ours: 'round(metric1{label="baz",project_id="NS"}, 3)',
    },
    {
      what: "a matcher with another value",
      query: 'round(metric1{label="baz",project_id="bar"},3)',
      proxy:
        "silently replaced by the enforced equality (answers with the caller's own series); with -error-on-replace an error",
      ours: `round(metric1{${DENY},label="baz",project_id="NS"}, 3)`,
    },
    {
      what: "README: a regex not matching the enforced value",
      query: 'http_requests_total{project_id=~"a.*"}',
      proxy: 'replaced: http_requests_total{project_id="NS"}',
      ours: `http_requests_total{${DENY},project_id="NS"}`,
    },
    {
      what: "-error-on-replace since v0.11: != another value does not conflict",
      query: 'up{project_id!="other"}',
      proxy: 'up{project_id="NS"}',
      ours: 'up{project_id="NS"}',
    },
    {
      what: "-error-on-replace since v0.11: a regex matching the value does not conflict",
      query: 'up{project_id=~"NS|other"}',
      proxy: 'up{project_id="NS"}',
      ours: 'up{project_id="NS"}',
    },
    {
      what: "-error-on-replace since v0.11: !~ matching the value conflicts",
      query: 'up{project_id!~"N.*"}',
      proxy: "error: conflicting label matcher",
      ours: `up{${DENY},project_id="NS"}`,
    },
    {
      what: "a selector in an aggregation's parameter",
      query: "topk(scalar(count(other_metric)), metric1)",
      proxy: "EnforceNode walks only AggregateExpr.Expr: other_metric is forwarded without the label",
      ours: 'topk(scalar(count(other_metric{project_id="NS"})), metric1{project_id="NS"})',
    },
  ];
  for (const f of facts) {
    it(`${f.what}: ${f.query}`, () => assert.equal(enforceProject(f.query, "NS"), f.ours, f.proxy));
  }

  it("issue #162: match[] follows the same rule as queries (the proxy appended there instead)", () => {
    assert.deepEqual(enforceMatchers(['{a="1", project_id="1"}', '{a="1", project_id="NS"}'], "NS"), [
      `{${DENY},a="1",project_id="NS"}`,
      '{a="1",project_id="NS"}',
    ]);
  });
});

describe("remote mode: malformed and refused queries", () => {
  const malformed = [
    "",
    "sum(",
    '{project_id="proj-bravo"',
    "sum(b_only_metric) by",
    "rate(x)",
    "x[5m",
    "{}",
    '{project_id=~".*"}',
    '{project_id!="B"}',
    'x{a=~"("}',
    "1 +",
    "x @ foo()",
    'x{__name__="y"}',
    "unknown_fn(x)",
  ];
  for (const q of malformed) {
    it(`passes the parser's error through: ${JSON.stringify(q)}`, () => {
      let want: ParseError | undefined;
      try {
        parseExpr(q);
      } catch (err) {
        want = err as ParseError;
      }
      assert.ok(want instanceof ParseError, `${q} should not parse`);
      assert.throws(
        () => enforceProject(q, A),
        (err: unknown) => err instanceof ParseError && err.toString() === want.toString(),
      );
      // So the API answers as for any parse error: 400 bad_data.
      assert.equal(toApiError(want).status, 400);
    });
  }

  it("refuses info() with the embedded engine's error", () => {
    for (const q of [`info(${REQ})`, 'info(up, {k8s_cluster_name=~".+"})', "sum(info(up))"]) {
      assert.throws(() => enforceProject(q, A), InfoNotSupportedError);
    }
    const e = toApiError(new InfoNotSupportedError());
    assert.deepEqual([e.type, e.message], ["execution", 'function "info" is not supported yet']);
  });

  it("a print that would change the meaning is caught, and is a 400, not a different query", () => {
    // The printer drops `ignoring()` with its group_left; the round-trip check sees it.
    const e = parseExpr("a * ignoring() group_left b");
    assert.notEqual(semanticKey(parseExpr(formatExpr(e))), semanticKey(e));
    assert.equal(toApiError(new RemoteEnforcementError("x")).status, 400);
  });
});

describe("remote mode: match[] for /series, /labels, /label/<name>/values", () => {
  it("no match[]: the project's own selector", () => {
    assert.deepEqual(enforceMatchers([], A), [`{project_id="${A}"}`]);
  });

  it("each selector by the query rule; offset and @ left out (only matchers count there)", () => {
    assert.deepEqual(enforceMatchers(['{project_id=~".+"}', "up offset 5m", 'up{project_id="B"} @ 10'], A), [
      `{project_id="${A}"}`,
      `up{project_id="${A}"}`,
      `up{${DENY},project_id="${A}"}`,
    ]);
  });

  it("malformed selectors throw the parser's error", () => {
    for (const s of ['{project_id="B"', "rate(x[5m])", "x[5m]", "", "sum(x)"]) {
      assert.throws(() => enforceMatchers([s], A), ParseError, s);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Against the engine: remote rewriting versus the embedded scoping

describe("remote mode answers as the embedded mode (same engine, same data)", () => {
  let db: Tsdb;
  let cleanup: () => void;

  before(() => {
    const t = tempDir("mim-enforce-");
    cleanup = t.cleanup;
    db = Tsdb.open({ dir: t.dir, maintenanceIntervalMs: 0 });
    const app = db.appender();
    for (const s of DATA) {
      const labels = labelsFromObject(s.labels);
      for (const [i, t] of TIMES.entries()) app.append(0, labels, t, s.value(i));
    }
    app.commit();
  });
  after(() => {
    db.close();
    cleanup();
  });

  it("every attack: the same answer, no secret, every selector enforced", (t) => {
    const differences: string[] = [];
    const failures: string[] = [];
    for (const target of [B, C, U]) {
      for (const make of QUERIES) {
        const q = make(target);
        let rewritten: string | undefined;
        try {
          rewritten = enforceProject(q, A);
          assertEnforcedText(rewritten);
        } catch (err) {
          if (!(err instanceof ParseError || err instanceof InfoNotSupportedError)) throw err;
        }
        for (const mode of ["instant", "range"] as const) {
          const { embedded, remote } = bothModes(db, q, mode);
          const leaked = NEEDLES.filter((n) => !q.includes(n) && remote.text.includes(n));
          if (leaked.length > 0) failures.push(`LEAK ${leaked} in ${mode} ${q} -> ${remote.text}`);
          if (embedded.text === remote.text) continue;
          // The one known difference: absent()'s labels come from the rewritten selector.
          const sameButProject =
            embedded.value &&
            remote.value &&
            JSON.stringify(canon(embedded.value, true)) === JSON.stringify(canon(remote.value, true));
          if (ABSENT_OF_SELECTOR.test(q) && sameButProject) differences.push(`${mode} ${q}`);
          else failures.push(`${mode} ${q}\n  embedded: ${embedded.text}\n  remote:   ${remote.text}`);
        }
      }
    }
    assert.deepEqual(failures, []);
    // absent(<selector>) differs in every form the attacks use, and only there.
    const absentAttacks = [B, C, U].flatMap((t) =>
      QUERIES.map((f) => f(t)).filter((q) => ABSENT_OF_SELECTOR.test(q)),
    );
    assert.equal(differences.length, absentAttacks.length * 2, differences.join("\n"));
    t.diagnostic(`${QUERIES.length * 3 * 2} attack runs; ${differences.length} differ, all absent() labels`);
  });

  it("absent(): the remote answer names the caller's project where the embedded one names the selector's", () => {
    const cases: Array<[string, Record<string, string>, Record<string, string>]> = [
      [`absent(${REQ}{project_id="${B.P}"})`, { project_id: B.P }, { project_id: A }],
      [`absent(${B.N})`, {}, { project_id: A }],
      [`absent(nope{project_id=~"${A}|x"})`, {}, { project_id: A }],
      [`absent(nope{project_id="${A}"})`, { project_id: A }, { project_id: A }],
      [
        `absent_over_time({model_name="${B.M}"}[1d])`,
        { model_name: B.M },
        { model_name: B.M, project_id: A },
      ],
      // Over a subquery absent_over_time has no labels to take: both modes agree.
      [`absent_over_time(${REQ}{project_id="${B.P}"}[1h:1m])`, {}, {}],
    ];
    for (const [q, embeddedLabels, remoteLabels] of cases) {
      const { embedded, remote } = bothModes(db, q, "instant");
      const labels = (o: Outcome) =>
        o.value?.type === "vector" ? o.value.samples.map((s) => labelsToObject(s.metric)) : o.text;
      assert.deepEqual(labels(embedded), [embeddedLabels], q);
      assert.deepEqual(labels(remote), [remoteLabels], q);
    }
  });

  it("match[]: series, label names and label values agree with the embedded look-ups", () => {
    const [mint, maxt] = [0, (T + 60) * 1000];
    const scoped = scopeToProject(db, A).querier(mint, maxt);
    const whole = db.querier(mint, maxt);
    const seriesOf = (set: ReturnType<typeof whole.select>) => {
      const out: string[] = [];
      while (set.next()) out.push(JSON.stringify(labelsToObject(set.at().labels)));
      return out;
    };
    const failures: string[] = [];
    for (const target of [B, C, U]) {
      for (const make of SELECTORS) {
        const s = make(target);
        let original: readonly Matcher[];
        try {
          original = parseMetricSelector(s).matchers;
        } catch {
          assert.throws(() => enforceMatchers([s], A), ParseError);
          continue;
        }
        // The API refuses these in both modes before any look-up (matchParams).
        if (original.every((m) => m.matchesEmpty())) continue;
        const [text] = enforceMatchers([s], A);
        const enforced = parseMetricSelector(text!).matchers;
        const got = [
          seriesOf(whole.select(true, undefined, ...enforced)),
          whole.labelNames(...enforced),
          ...["model_name", "project_id", "__name__", target.L].map((n) => whole.labelValues(n, ...enforced)),
        ];
        const want = [
          seriesOf(scoped.select(true, undefined, ...original)),
          scoped.labelNames(...original),
          ...["model_name", "project_id", "__name__", target.L].map((n) =>
            scoped.labelValues(n, ...original),
          ),
        ];
        if (JSON.stringify(got) !== JSON.stringify(want))
          failures.push(`${s}: ${JSON.stringify([got, want])}`);
        const leaked = NEEDLES.filter((n) => !s.includes(n) && JSON.stringify(got).includes(n));
        if (leaked.length > 0) failures.push(`LEAK ${leaked} for match[]=${s}`);
      }
    }
    // No match[]: /labels and /label/<name>/values over the project's own selector.
    const own = parseMetricSelector(enforceMatchers([], A)[0]!).matchers;
    assert.deepEqual(whole.labelNames(...own), scoped.labelNames());
    for (const n of ["model_name", "project_id", "__name__", B.L]) {
      assert.deepEqual(whole.labelValues(n, ...own), scoped.labelValues(n));
    }
    assert.deepEqual(failures, []);
  });

  // -------------------------------------------------------------------------------------------
  // Properties over random queries

  it("random queries: parse, print stably, idempotent, every selector enforced", () => {
    fc.assert(
      fc.property(queryArb(true), (q) => {
        let out: string;
        try {
          out = enforceProject(q, A);
        } catch (err) {
          if (err instanceof ParseError || err instanceof InfoNotSupportedError) return;
          throw err;
        }
        assertEnforcedText(out);
        assert.equal(formatExpr(parseExpr(out)), out);
        assert.equal(enforceProject(out, A), out);
      }),
      { seed: 0x5eed_0007, numRuns: 2000 },
    );
  });

  it("random queries without absent(): the same answers in both modes", (t) => {
    let compared = 0;
    let withData = 0;
    fc.assert(
      fc.property(queryArb(false), fc.constantFrom<Mode>("instant", "range"), (q, mode) => {
        const { embedded, remote } = bothModes(db, q, mode);
        if (!embedded.text.startsWith("error")) compared++;
        const v = embedded.value;
        if ((v?.type === "vector" && v.samples.length > 0) || (v?.type === "matrix" && v.series.length > 0))
          withData++;
        assert.equal(remote.text, embedded.text, q);
      }),
      { seed: 0x5eed_0008, numRuns: 600 },
    );
    // Most random queries must be valid and many must find data, or the comparison says little.
    t.diagnostic(`${compared} of 600 random queries evaluated without error, ${withData} with data`);
    assert.ok(compared > 300 && withData > 150, `${compared} queries evaluated, ${withData} with data`);
  });
});

// ---------------------------------------------------------------------------------------------
// A small PromQL grammar around project_id

function queryArb(withAbsent: boolean): fc.Arbitrary<string> {
  const projectValue = fc.constantFrom(
    A,
    B.P,
    C.P,
    U.P,
    "",
    ".+",
    ".*",
    "proj-.*",
    "(?i)PROJ-ALPHA",
    `${A}|${B.P}`,
    `${A}.+`,
  );
  const projectMatcher = fc
    .tuple(
      fc.constantFrom("project_id", '"project_id"'),
      fc.constantFrom("=", "!=", "=~", "!~"),
      projectValue,
    )
    .map(([n, op, v]) => `${n}${op}${JSON.stringify(v)}`);
  const otherMatcher = fc.constantFrom(
    'model_name=~".+"',
    'model_name="model-a"',
    `model_name="${B.M}"`,
    `${B.L}=~".+"`,
    'a_only_label!=""',
  );
  const selector = fc
    .tuple(
      fc.constantFrom("", REQ, IN, B.N, "nonexistent"),
      fc.array(fc.oneof(projectMatcher, otherMatcher), { maxLength: 3 }),
    )
    .map(([name, ms]) => `${name}{${(name ? ms : ['__name__=~".+"', ...ms]).join(",")}}`);
  const modifier = fc.constantFrom(
    "",
    "",
    " offset 5m",
    " offset -2m",
    " @ start()",
    " @ end()",
    ` @ ${T - 600}`,
  );
  const range = fc
    .tuple(selector, fc.constantFrom("5m", "10m", "1h"), modifier)
    .map(([s, r, m]) => `${s}[${r}]${m}`);
  const matching = fc.constantFrom(
    "",
    " on (model_name)",
    " ignoring (project_id)",
    " on ()",
    " ignoring ()",
  );
  const grouping = fc.constantFrom("", " by (model_name)", " by (project_id)", " without (project_id)");

  return fc.letrec<{ vec: string }>((tie) => {
    const v = tie("vec");
    const leaf = fc.tuple(selector, modifier).map(([s, m]) => s + m);
    const branches: fc.Arbitrary<string>[] = [
      leaf,
      range.map((r) => `rate(${r})`),
      range.map((r) => `count_over_time(${r})`),
      fc
        .tuple(v, fc.constantFrom("10m:1m", "30m:5m", "5m:"), modifier)
        .map(([e, r, m]) => `max_over_time((${e})[${r}]${m})`),
      fc
        .tuple(fc.constantFrom("sum", "count", "max", "group"), grouping, v)
        .map(([op, g, e]) => `${op}${g} (${e})`),
      fc
        .tuple(fc.constantFrom("topk", "bottomk", "limitk"), v, v)
        .map(([op, k, e]) => `${op}(scalar(count(${k})), ${e})`),
      v.map((e) => `quantile(0.5, ${e})`),
      v.map((e) => `count_values("project_id", ${e})`),
      fc
        .tuple(v, fc.constantFrom("+", "/", ">", "== bool", "and", "or", "unless"), matching, v)
        .map(([l, op, m, r]) => `${l} ${op}${m} ${r}`),
      fc
        .tuple(v, fc.constantFrom(" ignoring () group_left", " on (model_name) group_left (project_id)"), v)
        .map(([l, m, r]) => `${l} *${m} ${r}`),
      v.map((e) => `label_replace(${e}, "project_id", "${B.P}", "", "")`),
      v.map((e) => `(${e})`),
      v.map((e) => `-${e}`),
      v.map((e) => `${e} > 5`),
      fc.constant("vector(1)"),
      v.map((e) => `timestamp(${e})`),
      v.map((e) => `sort_desc(${e})`),
    ];
    if (withAbsent) {
      branches.push(
        v.map((e) => `absent(${e})`),
        range.map((r) => `absent_over_time(${r})`),
      );
    }
    return { vec: fc.oneof({ maxDepth: 3, depthIdentifier: "vec" }, ...branches) };
  }).vec;
}

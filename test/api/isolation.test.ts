/**
 * The security contract of the query API: no query text can read, or even learn of, another
 * project's series, label names or label values, and a monitoring token only ever opens the
 * project it is bound to.
 *
 * Project A (the attacker) holds a token for itself. Projects B, C (whose id has A's as a prefix)
 * and an upper-cased twin of A hold series with distinctive names and values, and some series
 * carry no project at all. Every attack runs on A's URL with A's token and is checked two ways:
 *
 *  - needles: no secret of another project (ids, model names, label names and values, metric
 *    names, sample values) appears anywhere in the raw response body, unless the request itself
 *    contained that text (an echo of the caller's own query is not a leak);
 *  - differential: the same attack aimed at a "ghost" project that never existed (names of the
 *    same length, sorting the same way) gets a byte-identical answer once the ghost names are
 *    mapped back, so the response cannot depend on whether the target has data.
 *
 * Positive controls (A sees its own data; B's token sees B's data) make sure the test can fail.
 *
 * The whole suite runs three times: on the embedded store, and in remote storage mode on a real
 * Prometheus 2.42 and a real VictoriaMetrics 1.79 started on loopback (the data goes through the
 * remote-write queue, every query through the rewriting in src/remote/enforce.ts). The remote runs
 * fail in CI when an engine is missing and are skipped elsewhere.
 */
import assert from "node:assert/strict";
import type http from "node:http";
import { after, before, describe, it } from "node:test";
import { type EngineHandle, type EngineKind, engineSkip, startEngineOfKind } from "../support/engines.js";
import { ADMIN_KEY, type SampleSeries, startRouteService, type TestService } from "./harness.js";
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
} from "./isolation-attacks.js";

// ---------------------------------------------------------------------------------------------
// Data
/** Query time (s) and the samples: one a minute over the hour before it. */
const STEPS = 61;
const sampleTimes = Array.from({ length: STEPS }, (_, i) => (T - 3600 + 60 * i) * 1000);
const samples = (f: (i: number) => number) => sampleTimes.map((t, i) => [t, f(i)] as const);

/** Never-used counterparts: same lengths, same first characters, so results sort the same way. */
const GHOSTS = new Map<Target, Target>([
  [B, { P: "proj-bghst", M: "secret-model-q", L: "b_ghst_label", V: "b-ghost0-value", N: "b_ghst_metric" }],
  [C, { P: "proj-alpha-9", M: "secret-model-r", L: "c_ghst_label", V: "c-ghost0-value", N: "c_ghst_metric" }],
  [U, { P: "PROJ-GHOST", M: "secret-model-v", L: "u_ghst_label", V: "u-ghost0-value", N: "u_ghst_metric" }],
]);

/** Catalog metrics only other projects have (so /metadata must not list them for A). */
const B_CATALOG = "crusoe_inference_output_token_count";
const C_CATALOG = "crusoe_inference_first_token_latency";

const DATA: SampleSeries[] = [
  // A: two series.
  {
    labels: { __name__: REQ, project_id: A, model_name: "model-a", a_only_label: "a-value" },
    samples: samples((i) => i),
  },
  { labels: { __name__: IN, project_id: A, model_name: "model-a" }, samples: samples((i) => 10 * i) },
  // B: a twin of A's series differing only in project_id (a "shadow"), and B-only names.
  {
    labels: { __name__: REQ, project_id: B.P, model_name: "model-a", a_only_label: "a-value" },
    samples: samples(() => 424242),
  },
  {
    labels: { __name__: REQ, project_id: B.P, model_name: B.M, [B.L]: B.V },
    samples: samples(() => 987654),
  },
  { labels: { __name__: B.N, project_id: B.P, model_name: B.M }, samples: samples(() => 987654) },
  { labels: { __name__: B_CATALOG, project_id: B.P, model_name: B.M }, samples: samples(() => 987654) },
  // C: id has A's as a prefix.
  {
    labels: { __name__: REQ, project_id: C.P, model_name: C.M, [C.L]: C.V },
    samples: samples(() => 777777),
  },
  { labels: { __name__: C.N, project_id: C.P, model_name: C.M }, samples: samples(() => 777777) },
  { labels: { __name__: C_CATALOG, project_id: C.P, model_name: C.M }, samples: samples(() => 777777) },
  // U: A's id in upper case.
  {
    labels: { __name__: REQ, project_id: U.P, model_name: U.M, [U.L]: U.V },
    samples: samples(() => 333333),
  },
  { labels: { __name__: U.N, project_id: U.P, model_name: U.M }, samples: samples(() => 333333) },
  // Series with no project at all must be invisible to everyone.
  { labels: { __name__: "orphan_metric", model_name: "orphan-secret" }, samples: samples(() => 111111) },
  { labels: { __name__: REQ, model_name: "orphan-secret-2" }, samples: samples(() => 111111) },
  {
    labels: { __name__: REQ, project_id: "", model_name: "orphan-secret-3" },
    samples: samples(() => 111111),
  },
];

/** Text that must never reach A unless A's own request contained it. */
const NEEDLES = [
  ...[B, C, U].flatMap((t) => [t.P, t.M, t.L, t.V, t.N]),
  B_CATALOG,
  C_CATALOG,
  "orphan_metric",
  "orphan-secret",
  // Sample values as the JSON codec writes them (constant, so no rate or sum hides them).
  '"424242',
  '"987654',
  '"777777',
  '"333333',
  '"111111',
];

// ---------------------------------------------------------------------------------------------
// HTTP: raw requests (fetch would normalise "..", "%2e" and the like before they reach the
// server), in-process through the harness: the routes are the subject, not the socket

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface Req {
  method?: string;
  /** The raw request target, sent as is. */
  path: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string;
}

async function send(s: TestService, r: Req): Promise<Res> {
  const res = await s.raw({ method: r.method ?? "GET", path: r.path, headers: r.headers, body: r.body });
  return { status: res.status, headers: res.headers, body: res.body.toString() };
}

const prefix = (projectId: string) => `/v1alpha5/projects/${projectId}/metrics/timeseries`;
const qs = (params: ReadonlyArray<readonly [string, string]>) =>
  new URLSearchParams(params.map(([k, v]): [string, string] => [k, v])).toString();
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const FORM = { "content-type": "application/x-www-form-urlencoded" };

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll("+", " "));
  } catch {
    return s;
  }
}

/** Everything the caller said, decoded, for telling an echo from a leak. */
const requestText = (r: Req) => `${r.path}\n${decode(r.path)}\n${r.body ?? ""}\n${decode(r.body ?? "")}`;

/** Secrets in the body that the request did not contain. */
function leaks(r: Req, res: Res): string[] {
  const text = requestText(r);
  return NEEDLES.filter((n) => !text.includes(n) && res.body.includes(n));
}

function describeFailure(what: string, r: Req, res: Res): string {
  return `${what}\n  ${r.method ?? "GET"} ${decode(r.path)}${r.body ? `\n  body: ${decode(r.body)}` : ""}\n  -> ${res.status} ${res.body.slice(0, 600)}`;
}

function unghost(text: string, real: Target, ghost: Target): string {
  let out = text;
  for (const k of ["P", "M", "L", "V", "N"] as const) out = out.replaceAll(ghost[k], real[k]);
  return out;
}

interface Envelope {
  status: string;
  data?: unknown;
  errorType?: string;
  error?: string;
}

function parse(res: Res): Envelope {
  return JSON.parse(res.body) as Envelope;
}

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

function vector(res: Res): VectorSample[] {
  assert.equal(res.status, 200, res.body);
  const env = parse(res) as { data: { resultType: string; result: VectorSample[] } };
  assert.equal(env.data.resultType, "vector", res.body);
  return env.data.result;
}

// ---------------------------------------------------------------------------------------------
// The attacks

const QUERIES = ISOLATION_QUERIES;

/** Each query as it reaches every query endpoint. */
function queryRequests(projectId: string, token: string, q: string): Req[] {
  const h = bearer(token);
  const range: [string, string][] = [
    ["query", q],
    ["start", String(T - 1800)],
    ["end", String(T)],
    ["step", "60"],
  ];
  return [
    {
      path: `${prefix(projectId)}/api/v1/query?${qs([
        ["query", q],
        ["time", String(T)],
      ])}`,
      headers: h,
    },
    {
      method: "POST",
      path: `${prefix(projectId)}/api/v1/query`,
      headers: { ...h, ...FORM },
      body: qs([
        ["query", q],
        ["time", String(T)],
      ]),
    },
    { path: `${prefix(projectId)}/api/v1/query_range?${qs(range)}`, headers: h },
    {
      path: `${prefix(projectId)}?${qs([
        ["query", q],
        ["time", String(T)],
      ])}`,
      headers: h,
    },
    { method: "POST", path: prefix(projectId), headers: { ...h, ...FORM }, body: qs(range) },
  ];
}

const SELECTORS = ISOLATION_SELECTORS;

/** U__ escaping of a label name in a URL path, as Prometheus clients write it. */
const escapeName = (name: string) => `U__${name.replaceAll("_", "__")}`;

/** The look-up endpoints, aimed at a target. */
function lookupRequests(projectId: string, token: string, t: Target): Req[] {
  const h = bearer(token);
  const p = prefix(projectId);
  const out: Req[] = [];
  for (const sel of SELECTORS.map((f) => f(t))) {
    out.push(
      { path: `${p}/api/v1/series?${qs([["match[]", sel]])}`, headers: h },
      {
        path: `${p}/api/v1/series?${qs([
          ["match[]", sel],
          ["match[]", '{__name__=~".+"}'],
          ["start", "0"],
          ["end", "2000000000"],
        ])}`,
        headers: h,
      },
      {
        method: "POST",
        path: `${p}/api/v1/series`,
        headers: { ...h, ...FORM },
        body: qs([["match[]", sel]]),
      },
      { path: `${p}/api/v1/labels?${qs([["match[]", sel]])}`, headers: h },
      {
        method: "POST",
        path: `${p}/api/v1/labels`,
        headers: { ...h, ...FORM },
        body: qs([["match[]", sel]]),
      },
    );
    for (const name of ["model_name", "project_id", "__name__", t.L]) {
      out.push({ path: `${p}/api/v1/label/${name}/values?${qs([["match[]", sel]])}`, headers: h });
    }
  }
  for (const name of [t.L, escapeName(t.L), "model_name", "project_id", "__name__", "a_only_label"]) {
    out.push({ path: `${p}/api/v1/label/${name}/values`, headers: h });
  }
  out.push(
    { path: `${p}/api/v1/labels`, headers: h },
    { path: `${p}/api/v1/labels?start=0&end=2000000000&limit=1000`, headers: h },
    { path: `${p}/api/v1/metadata`, headers: h },
    { path: `${p}/api/v1/metadata?${qs([["metric", t.N]])}`, headers: h },
    { path: `${p}/api/v1/metadata?${qs([["metric", B_CATALOG]])}`, headers: h },
    { path: `${p}/api/v1/metadata?${qs([["metric", C_CATALOG]])}`, headers: h },
    { path: `${p}/api/v1/query_exemplars?${qs([["query", `{project_id="${t.P}"}`]])}`, headers: h },
    { path: `${p}/api/v1/format_query?${qs([["query", `${t.N}{project_id="${t.P}"}`]])}`, headers: h },
    { path: `${p}/api/v1/status/buildinfo`, headers: h },
    { path: `${p}/api/v1/rules`, headers: h },
    { path: `${p}/api/v1/alerts`, headers: h },
  );
  return out;
}

// ---------------------------------------------------------------------------------------------

const MODES: ReadonlyArray<{ name: string; engine?: EngineKind }> = [
  { name: "embedded" },
  { name: "remote, Prometheus", engine: "prometheus" },
  { name: "remote, VictoriaMetrics", engine: "victoria-metrics" },
];

for (const mode of MODES) {
  describe(`project isolation (${mode.name})`, {
    skip: mode.engine ? engineSkip(mode.engine) : false,
  }, () => {
    let s: TestService;
    let engine: EngineHandle | undefined;
    let tokA: string;
    let tokB: string;

    before(async () => {
      if (mode.engine) engine = await startEngineOfKind(mode.engine);
      s = await startRouteService({ remote: engine });
      s.load(DATA);
      await s.settle();
      tokA = s.token(A);
      tokB = s.token(B.P);
    });

    after(async () => {
      await s.close();
      await engine?.close();
    });

    /** Runs real and ghost variants of each request; returns a description of every failure. */
    async function differential(make: (t: Target) => Req[], targets: readonly Target[]): Promise<string[]> {
      const failures: string[] = [];
      for (const target of targets) {
        const ghost = GHOSTS.get(target);
        assert.ok(ghost);
        const real = make(target);
        const ghosts = make(ghost);
        assert.equal(real.length, ghosts.length);
        for (let i = 0; i < real.length; i++) {
          const res = await send(s, real[i]);
          if (res.status >= 500 || ![200, 400, 422].includes(res.status)) {
            failures.push(describeFailure(`unexpected status ${res.status}`, real[i], res));
          }
          const leaked = leaks(real[i], res);
          if (leaked.length > 0) failures.push(describeFailure(`LEAK of ${leaked.join(", ")}`, real[i], res));
          if (ghosts[i].path === real[i].path && ghosts[i].body === real[i].body) continue;
          const g = await send(s, ghosts[i]);
          const gBody = unghost(g.body, target, ghost);
          if (g.status !== res.status || gBody !== res.body) {
            failures.push(
              describeFailure(
                `answer depends on whether ${target.P} has data (ghost answered ${g.status} ${gBody.slice(0, 300)})`,
                real[i],
                res,
              ),
            );
          }
        }
      }
      return failures;
    }

    it("positive controls: A sees exactly its own data, B's token sees B's", async () => {
      const h = bearer(tokA);
      const q = (query: string) =>
        send(s, {
          path: `${prefix(A)}/api/v1/query?${qs([
            ["query", query],
            ["time", String(T)],
          ])}`,
          headers: h,
        });

      const all = vector(await q('{__name__=~".+"}'));
      assert.deepEqual(
        all.map((x) => [x.metric, x.value[1]]),
        [
          [{ __name__: IN, model_name: "model-a", project_id: A }, "600"],
          [{ __name__: REQ, a_only_label: "a-value", model_name: "model-a", project_id: A }, "60"],
        ],
      );
      assert.deepEqual(
        vector(await q('count by (project_id) ({__name__=~".+"})')).map((x) => [x.metric, x.value[1]]),
        [[{ project_id: A }, "2"]],
      );
      assert.deepEqual(
        vector(await q(`sum without (project_id) (${REQ})`)).map((x) => x.value[1]),
        ["60"],
      );
      assert.deepEqual(vector(await q('count({__name__=~".+"} > 100000)')), []);
      assert.deepEqual(vector(await q(`absent(${REQ})`)), []);
      // absent() builds its output from the selector's equality matchers. Embedded, B's selector
      // sees nothing and keeps the caller's text; remote, the rewritten selector carries the
      // caller's own id instead (src/remote/enforce.ts). Neither says anything about B.
      assert.deepEqual(
        vector(await q(`absent(${REQ}{project_id="${B.P}"})`)).map((x) => x.metric),
        [{ project_id: mode.engine ? A : B.P }],
      );

      const range = await send(s, {
        path: `${prefix(A)}/api/v1/query_range?${qs([
          ["query", REQ],
          ["start", String(T - 120)],
          ["end", String(T)],
          ["step", "60"],
        ])}`,
        headers: h,
      });
      assert.equal(range.status, 200, range.body);
      assert.deepEqual(parse(range).data, {
        resultType: "matrix",
        result: [
          {
            metric: { __name__: REQ, a_only_label: "a-value", model_name: "model-a", project_id: A },
            values: [
              [T - 120, "58"],
              [T - 60, "59"],
              [T, "60"],
            ],
          },
        ],
      });

      const get = async (path: string) => {
        const res = await send(s, { path: `${prefix(A)}${path}`, headers: h });
        assert.equal(res.status, 200, res.body);
        return parse(res).data;
      };
      assert.deepEqual(await get("/api/v1/labels"), ["__name__", "a_only_label", "model_name", "project_id"]);
      assert.deepEqual(await get("/api/v1/label/project_id/values"), [A]);
      assert.deepEqual(await get("/api/v1/label/model_name/values"), ["model-a"]);
      assert.deepEqual(await get("/api/v1/label/__name__/values"), [IN, REQ]);
      assert.deepEqual(await get(`/api/v1/label/${B.L}/values`), []);
      assert.deepEqual(await get(`/api/v1/series?${qs([["match[]", '{__name__=~".+"}']])}`), [
        { __name__: IN, model_name: "model-a", project_id: A },
        { __name__: REQ, a_only_label: "a-value", model_name: "model-a", project_id: A },
      ]);
      assert.deepEqual(Object.keys((await get("/api/v1/metadata")) as object).sort(), [IN, REQ]);

      // B's data is really there for B: the needles are not vacuous.
      const hb = bearer(tokB);
      const b = await send(s, { path: `${prefix(B.P)}/api/v1/label/model_name/values`, headers: hb });
      assert.equal(b.status, 200, b.body);
      assert.deepEqual(parse(b).data, ["model-a", B.M]);
      const bl = await send(s, { path: `${prefix(B.P)}/api/v1/labels`, headers: hb });
      assert.ok(bl.body.includes(B.L), bl.body);
      const bm = await send(s, { path: `${prefix(B.P)}/api/v1/metadata`, headers: hb });
      assert.ok(bm.body.includes(B_CATALOG), bm.body);
      const bq = await send(s, {
        path: `${prefix(B.P)}/api/v1/query?${qs([
          ["query", B.N],
          ["time", String(T)],
        ])}`,
        headers: hb,
      });
      assert.ok(bq.body.includes('"987654"') && bq.body.includes(B.M), bq.body);
      // And the needle check itself catches a leak when one is planted.
      assert.deepEqual(leaks({ path: "/x" }, bq), [B.P, B.M, B.N, '"987654']);
    });

    it("PromQL attacks (instant, range, base path, POST) reveal nothing of B, C or PROJ-ALPHA", async () => {
      const failures = await differential(
        (t) => QUERIES.flatMap((q) => queryRequests(A, tokA, q(t))),
        [B, C, U],
      );
      assert.deepEqual(failures, []);
    });

    it("/series, /labels, /label/<name>/values, /metadata and friends reveal nothing of B, C or PROJ-ALPHA", async () => {
      const failures = await differential((t) => lookupRequests(A, tokA, t), [B, C, U]);
      assert.deepEqual(failures, []);
    });

    it("duplicated and stray parameters in the URL and POST form bodies stay in A", async () => {
      const h = bearer(tokA);
      const p = prefix(A);
      const reqs: Req[] = [
        {
          method: "POST",
          path: `${p}/api/v1/query?${qs([
            ["query", REQ],
            ["time", String(T)],
          ])}`,
          headers: { ...h, ...FORM },
          body: qs([
            ["query", '{__name__=~".+"}'],
            ["query", `{project_id="${B.P}"}`],
            ["time", String(T)],
          ]),
        },
        {
          method: "POST",
          path: `${p}/api/v1/query?${qs([
            ["query", '{__name__=~".+"}'],
            ["query", `{project_id="${B.P}"}`],
          ])}`,
          headers: { ...h, ...FORM },
          body: qs([["time", String(T)]]),
        },
        {
          path: `${p}/api/v1/query?${qs([
            ["query", '{__name__=~".+"}'],
            ["time", String(T)],
            ["project_id", B.P],
            ["projectId", B.P],
            ["project", B.P],
          ])}`,
          headers: h,
        },
        {
          method: "POST",
          path: `${p}/api/v1/query`,
          headers: { ...h, "content-type": "APPLICATION/X-WWW-FORM-URLENCODED; charset=UTF-8" },
          body: qs([
            ["query", '{__name__=~".+"}'],
            ["time", String(T)],
            ["projectId", B.P],
          ]),
        },
        {
          method: "POST",
          path: `${p}/api/v1/query?${qs([
            ["query", '{__name__=~".+"}'],
            ["time", String(T)],
          ])}`,
          headers: { ...h, "content-type": "application/json" },
          body: JSON.stringify({ query: `{project_id="${B.P}"}`, projectId: B.P, project_id: B.P }),
        },
        {
          method: "POST",
          path: `${p}/api/v1/series`,
          headers: { ...h, ...FORM },
          body: qs([
            ["match[]", `{project_id="${B.P}"}`],
            ["match[]", '{__name__=~".+"}'],
            ["match[]", `{project_id=~".+"}`],
          ]),
        },
        {
          method: "POST",
          path: `${p}/api/v1/labels?${qs([["match[]", '{project_id!=""}']])}`,
          headers: { ...h, ...FORM },
          body: qs([["match[]", `{project_id="${B.P}"}`]]),
        },
        {
          path: `${p}/api/v1/label/model_name/values?${qs([
            ["match[]", '{project_id=~".+"}'],
            ["match[]", `{project_id="${B.P}"}`],
            ["match[]", `{${B.L}=~".+"}`],
          ])}`,
          headers: h,
        },
        {
          method: "POST",
          path: `${p}/api/v1/query_range`,
          headers: { ...h, ...FORM },
          body: qs([
            ["query", '{project_id=~".+"}'],
            ["query", `{project_id="${B.P}"}`],
            ["start", String(T - 600)],
            ["end", String(T)],
            ["step", "60"],
            ["step", "1"],
          ]),
        },
        // A raw, hand-written form body with %-escapes and a "+" for a space.
        {
          method: "POST",
          path: `${p}/api/v1/query`,
          headers: { ...h, ...FORM },
          body: `query=%7Bproject_id%3D~%22.%2B%22%7D+or+%7Bproject_id%3D%22proj%2Dbravo%22%7D&time=${T}&query=x`,
        },
      ];
      const failures: string[] = [];
      for (const r of reqs) {
        const res = await send(s, r);
        const leaked = leaks(r, res);
        if (res.status !== 200) failures.push(describeFailure(`status ${res.status}`, r, res));
        if (leaked.length > 0) failures.push(describeFailure(`LEAK of ${leaked.join(", ")}`, r, res));
        if (res.status === 200 && !/proj-alpha|a_only_label|model-a/.test(res.body)) {
          failures.push(describeFailure("positive control: A's own data missing", r, res));
        }
      }
      // The first value of a repeated parameter is the one used (Go's FormValue), the body's first:
      // aimed at B, it finds nothing.
      const first = await send(s, {
        method: "POST",
        path: `${p}/api/v1/query?${qs([["query", '{__name__=~".+"}']])}`,
        headers: { ...h, ...FORM },
        body: qs([
          ["query", `{project_id="${B.P}"}`],
          ["query", '{__name__=~".+"}'],
          ["time", String(T)],
        ]),
      });
      assert.equal(first.body, '{"status":"success","data":{"resultType":"vector","result":[]}}');
      assert.deepEqual(failures, []);
    });

    it("path tricks never reach another project", async () => {
      const h = bearer(tokA);
      const q = `?${qs([
        ["query", '{__name__=~".+"}'],
        ["time", String(T)],
      ])}`;
      const tail = `/metrics/timeseries/api/v1/query${q}`;
      // [raw path, statuses allowed]; 200 only where the path really names A.
      const cases: Array<[string, number[]]> = [
        [`/v1alpha5/projects/${A}/../${B.P}${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${A}/%2e%2e/${B.P}${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${A}%2F..%2F${B.P}${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${A}%2f${B.P}${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${B.P}%2F..%2F${A}${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${B.P}/../${A}${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${A}/metrics/timeseries/../../../${B.P}${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${A}/metrics/timeseries/api/v1/../../../../${B.P}${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${B.P.replace("-", "%2D")}${tail}`, [403]],
        [`/v1alpha5/projects/%70roj-bravo${tail}`, [403]],
        [`/v1alpha5/projects/${B.P}%00${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${A}%00${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${A}%20${tail}`, [403]],
        [`/v1alpha5/projects/${A};${B.P}${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${B.P};${A}${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${U.P}${tail}`, [403]],
        [`/v1alpha5/projects/Proj-Alpha${tail}`, [403]],
        [`/v1alpha5/projects/${C.P}${tail}`, [403]],
        [`/V1ALPHA5/projects/${B.P}${tail}`, [404]],
        [`//v1alpha5/projects/${B.P}${tail}`, [400, 403, 404]],
        [`/v1alpha5//projects/${B.P}${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects//${B.P}${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${A}//metrics/timeseries/api/v1/query${q}`, [400, 403, 404]],
        [`http://127.0.0.1/v1alpha5/projects/${B.P}${tail}`, [400, 403, 404]],
        [`/v1alpha5/projects/${B.P}${tail.replace("?", "/?")}`, [403]],
        [`/v1alpha5/projects/${B.P}/metrics/timeseries/${q}`, [403]],
        // Where the path does name A, A's data (and only A's) comes back.
        [`/v1alpha5/projects/${A.replace("-", "%2D")}${tail}`, [200]],
        [`/v1alpha5/projects/${A}${tail.replace("?", "/?")}`, [200]],
        [`/v1alpha5/projects/${A}/metrics/timeseries/${q}`, [200]],
        [`/v1alpha5/projects/${A}${tail}&project_id=${B.P}&projectId=${B.P}`, [200]],
      ];
      const failures: string[] = [];
      for (const [path, allowed] of cases) {
        const r: Req = { path, headers: h };
        const res = await send(s, r);
        const leaked = leaks(r, res);
        if (!allowed.includes(res.status)) {
          failures.push(describeFailure(`status ${res.status}, expected one of ${allowed}`, r, res));
        }
        if (leaked.length > 0) failures.push(describeFailure(`LEAK of ${leaked.join(", ")}`, r, res));
        if (res.status === 200) {
          const env = parse(res) as { data: { result: VectorSample[] } };
          const projects = new Set(env.data.result.map((x) => x.metric.project_id));
          if (projects.size !== 1 || !projects.has(A)) {
            failures.push(describeFailure("200 with data not of A", r, res));
          }
        }
      }
      assert.deepEqual(failures, []);
    });

    it("A's token on another project's URL: 403 with the same body whether that project exists or not", async () => {
      const h = bearer(tokA);
      // Routes that exist for GET and POST, then those that exist for GET only (POST is a 404 there,
      // before any credential is looked at, so it says nothing about projects either).
      const both = [
        "",
        "/",
        `?${qs([["query", "up"]])}`,
        `/api/v1/query?${qs([
          ["query", '{__name__=~".+"}'],
          ["time", String(T)],
        ])}`,
        "/api/v1/query?query=%28%28%28",
        `/api/v1/query_range?${qs([
          ["query", "up"],
          ["start", "1"],
          ["end", "2"],
          ["step", "1"],
        ])}`,
        "/api/v1/query_range?step=-1",
        `/api/v1/series?${qs([["match[]", '{__name__=~".+"}']])}`,
        "/api/v1/series",
        "/api/v1/labels",
        "/api/v1/query_exemplars?query=up",
        "/api/v1/format_query?query=up",
        "/api/v1/label/model_name/values",
        "/api/v1/label/project_id/values",
        "/api/v1/label/__name__/values",
        `/api/v1/label/${B.L}/values`,
      ];
      const getOnly = ["/api/v1/metadata", "/api/v1/status/buildinfo", "/api/v1/rules", "/api/v1/alerts"];
      const routes = [
        ...both.flatMap((r) => [
          ["GET", r],
          ["POST", r],
        ]),
        ...getOnly.map((r) => ["GET", r]),
      ];
      const failures: string[] = [];
      for (const [target, ghost] of [
        [B.P, B.P.replace("bravo", "zulu0")],
        [C.P, "proj-alpha-9"],
        [U.P, "PROJ-GHOST"],
        [B.P, "never-used-project"],
      ]) {
        for (const [method, route] of routes) {
          {
            const r: Req = {
              method,
              path: `${prefix(target)}${route}`,
              headers: method === "POST" ? { ...h, ...FORM } : h,
              body: method === "POST" ? qs([["query", '{__name__=~".+"}']]) : undefined,
            };
            const g: Req = { ...r, path: `${prefix(ghost)}${route}` };
            const res = await send(s, r);
            const gres = await send(s, g);
            if (res.status !== 403) failures.push(describeFailure("expected 403", r, res));
            if (res.body !== gres.body || res.status !== gres.status) {
              failures.push(
                describeFailure(`differs from never-used project: ${gres.status} ${gres.body}`, r, res),
              );
            }
            if (res.headers["content-type"] !== gres.headers["content-type"]) {
              failures.push(describeFailure("content-type differs from never-used project", r, res));
            }
            if (leaks(r, res).length > 0) failures.push(describeFailure("LEAK", r, res));
          }
        }
      }
      assert.deepEqual(failures, []);
      const res = await send(s, { path: `${prefix(B.P)}/api/v1/labels`, headers: h });
      assert.deepEqual(parse(res), {
        status: "error",
        errorType: "forbidden",
        error: "this monitoring token does not grant access to the requested project",
      });
    });

    it("an expired token gets 401, also one that expires between two requests", async () => {
      const path = `${prefix(A)}/api/v1/labels`;
      const expired = s.token(A, new Date(Date.now() - 1000));
      const res = await send(s, { path, headers: bearer(expired) });
      assert.equal(res.status, 401, res.body);
      assert.equal(parse(res).errorType, "unauthorized");
      assert.match(res.headers["www-authenticate"] ?? "", /^Bearer /);
      assert.ok(!res.body.includes("model-a"));

      const soon = s.token(A, new Date(Date.now() + 400));
      assert.equal((await send(s, { path, headers: bearer(soon) })).status, 200);
      await new Promise((r) => setTimeout(r, 500));
      const late = await send(s, { path, headers: bearer(soon) });
      assert.equal(late.status, 401, late.body);
      assert.match(parse(late).error ?? "", /expired/);
    });

    it("a token revoked through the admin API gets 401 on the very next request", async () => {
      const admin = { ...bearer(ADMIN_KEY), "content-type": "application/json" };
      const tokens = `/v1alpha5/projects/${A}/monitoring/tokens`;
      const created = await send(s, {
        method: "POST",
        path: tokens,
        headers: admin,
        body: JSON.stringify({ name: "to-revoke", expires_in: "1h" }),
      });
      assert.equal(created.status, 201, created.body);
      const { id, token } = JSON.parse(created.body) as { id: string; token: string };
      const path = `${prefix(A)}/api/v1/query?${qs([
        ["query", REQ],
        ["time", String(T)],
      ])}`;
      assert.equal((await send(s, { path, headers: bearer(token) })).status, 200);

      // Another project's admin path cannot revoke it.
      const wrong = await send(s, {
        method: "DELETE",
        path: `/v1alpha5/projects/${B.P}/monitoring/tokens/${id}`,
        headers: bearer(ADMIN_KEY),
      });
      assert.equal(wrong.status, 404, wrong.body);
      assert.equal((await send(s, { path, headers: bearer(token) })).status, 200);
      const listB = await send(s, {
        path: `/v1alpha5/projects/${B.P}/monitoring/tokens`,
        headers: bearer(ADMIN_KEY),
      });
      assert.equal(listB.status, 200);
      assert.ok(!listB.body.includes(id), listB.body);

      const del = await send(s, { method: "DELETE", path: `${tokens}/${id}`, headers: bearer(ADMIN_KEY) });
      assert.equal(del.status, 204, del.body);
      const next = await send(s, { path, headers: bearer(token) });
      assert.equal(next.status, 401, next.body);
      assert.deepEqual(parse(next), {
        status: "error",
        errorType: "unauthorized",
        error: "monitoring token has been revoked",
      });
      const again = await send(s, { method: "DELETE", path: `${tokens}/${id}`, headers: bearer(ADMIN_KEY) });
      assert.equal(again.status, 404, again.body);
      const list = await send(s, { path: tokens, headers: bearer(ADMIN_KEY) });
      assert.ok(!list.body.includes(id), list.body);
    });

    it("garbage, mangled and misplaced credentials get 401", async () => {
      const path = `${prefix(A)}/api/v1/query?${qs([
        ["query", REQ],
        ["time", String(T)],
      ])}`;
      const secret = tokA.slice("mim_mon_".length);
      const flip = (c: string) => (c === "A" ? "B" : "A");
      const headers: Array<http.OutgoingHttpHeaders> = [
        {},
        { authorization: "" },
        { authorization: "Bearer" },
        { authorization: "Bearer " },
        { authorization: "Bearer garbage" },
        { authorization: "Bearer mim_mon_" },
        { authorization: "Bearer mim_mon_garbage" },
        { authorization: `Bearer ${tokA.slice(0, -1)}${flip(tokA.slice(-1))}` },
        { authorization: `Bearer ${tokA.slice(0, -1)}` },
        { authorization: `Bearer ${tokA}x` },
        { authorization: `Bearer mim_ing_${secret}` },
        { authorization: `Bearer mim_adm_${secret}` },
        { authorization: `Bearer ${secret}` },
        { authorization: `Bearer ${tokA.toUpperCase()}` },
        { authorization: `Bearer ${tokA.slice(0, 14)}` },
        { authorization: `Bearer ${tokA},${tokB}` },
        { authorization: `Bearer ${tokA} ${tokA}` },
        { authorization: `Basic ${Buffer.from(`x:${tokA}`).toString("base64")}` },
        { authorization: `Token ${tokA}` },
        { authorization: tokA },
        { authorization: `Bearer ${ADMIN_KEY}` },
        { "x-api-key": tokA },
        { cookie: `token=${tokA}` },
      ];
      const failures: string[] = [];
      for (const h of headers) {
        const r: Req = { path, headers: h };
        const res = await send(s, r);
        if (res.status !== 401 || parse(res).errorType !== "unauthorized") {
          failures.push(describeFailure(`expected 401 for ${JSON.stringify(h)}`, r, res));
        }
        if (res.body.includes("model-a")) failures.push(describeFailure("data with bad credentials", r, res));
      }
      // A token in the query string is not a credential.
      const qsToken = await send(s, { path: `${path}&access_token=${tokA}&token=${tokA}` });
      assert.equal(qsToken.status, 401, qsToken.body);
      // The admin key opens no project's query API.
      for (const project of [A, B.P]) {
        const res = await send(s, { path: `${prefix(project)}/api/v1/labels`, headers: bearer(ADMIN_KEY) });
        if (res.status !== 401) failures.push(describeFailure("admin key on query API", { path }, res));
      }
      // Two Authorization headers never add up to access to B.
      for (const pair of [
        [`Bearer ${tokA}`, "Bearer garbage"],
        ["Bearer garbage", `Bearer ${tokA}`],
        [`Bearer ${tokA}`, `Bearer ${ADMIN_KEY}`],
      ]) {
        const r: Req = {
          path: `${prefix(B.P)}/api/v1/label/model_name/values`,
          // Capitalised: the typings allow a list of values only under a non-standard spelling.
          headers: { Authorization: pair },
        };
        const res = await send(s, r);
        if (res.status === 200 || res.body.includes(B.M))
          failures.push(describeFailure("duplicate headers", r, res));
      }
      assert.deepEqual(failures, []);
    });

    it("a monitoring token manages only its own project's tokens, and opens nothing else of the admin API", async () => {
      const tokens = `/v1alpha5/projects/${A}/monitoring/tokens`;
      const failures: string[] = [];
      const expect = (status: number, type: string, r: Req, res: Res) => {
        if (res.status !== status || parse(res).errorType !== type)
          failures.push(describeFailure(`expected ${status}`, r, res));
      };
      // Another project's token list, through A's token or B's token on the wrong URL: 403, whether or not it exists.
      for (const r of [
        { path: `/v1alpha5/projects/${B.P}/monitoring/tokens`, headers: bearer(tokA) },
        {
          path: `/v1alpha5/projects/${(GHOSTS.get(B) as Target).P}/monitoring/tokens`,
          headers: bearer(tokA),
        },
        { path: tokens, headers: bearer(tokB) },
        {
          method: "DELETE",
          path: `/v1alpha5/projects/${B.P}/monitoring/tokens/tok_whatever`,
          headers: bearer(tokA),
        },
      ] as Req[]) {
        expect(403, "forbidden", r, await send(s, r));
      }
      const ghost = await send(s, {
        path: `/v1alpha5/projects/${(GHOSTS.get(B) as Target).P}/monitoring/tokens`,
        headers: bearer(tokA),
      });
      const real = await send(s, {
        path: `/v1alpha5/projects/${B.P}/monitoring/tokens`,
        headers: bearer(tokA),
      });
      if (ghost.body !== real.body)
        failures.push("403 bodies differ between an existing and a never-used project");
      // Not the ingest-token API, and no near-miss admin keys.
      for (const r of [
        { path: "/v1alpha5/ingest-tokens", headers: bearer(tokA) },
        {
          method: "POST",
          path: "/v1alpha5/ingest-tokens",
          headers: { ...bearer(tokA), "content-type": "application/json" },
          body: JSON.stringify({ name: "escalate" }),
        },
        { path: tokens, headers: { authorization: `Bearer ${ADMIN_KEY}x` } },
        { path: tokens, headers: { authorization: `Bearer ${ADMIN_KEY.slice(0, -1)}` } },
        { path: tokens, headers: { authorization: `Bearer ${ADMIN_KEY.toUpperCase()}` } },
        { path: tokens },
      ] as Req[]) {
        expect(401, "unauthorized", r, await send(s, r));
      }
      // Its own project's list: ids and prefixes, never a token value.
      const own = await send(s, { path: tokens, headers: bearer(tokA) });
      if (own.status !== 200) failures.push(describeFailure("expected 200", { path: tokens }, own));
      if (/mim_mon_[A-Za-z0-9_-]{20,}/.test(own.body)) failures.push("a token value in the list");
      if (own.body.includes(B.P)) failures.push("another project in the list");
      assert.deepEqual(failures, []);
      const ok = await send(s, { path: tokens, headers: bearer(ADMIN_KEY) });
      assert.equal(ok.status, 200, ok.body);
    });
  });
}

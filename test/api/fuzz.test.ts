/**
 * Throws random parameters, bodies, content types, methods and credentials at every route of the
 * query API and the token admin API, and checks the contract every response must keep:
 *
 *  - never a 5xx (a 503 `timeout` only when the request itself asked for a tiny `timeout`);
 *  - the body is JSON in Prometheus's envelope: `status` "success" or "error", and errors carry
 *    string `errorType` and `error`, with the HTTP status their errorType stands for;
 *  - a 200 only ever goes to project A's token on project A's URL, and nothing of project B shows;
 *  - the stored data is intact afterwards: control queries answer exactly as before.
 *
 * Runs are deterministic (fixed seeds). The bugs this file found have regression tests at its
 * end. The random properties keep their inputs cheap and well-formed, so they run in seconds:
 *  - no subquery syntax in the token soup, and grammar subqueries of at most 60 steps (huge
 *    subqueries are refused by the sample budget; the regression test covers them);
 *  - paths are well-formed (valid %-escapes, parameters under 500 characters) and URLs stay
 *    under 16 KiB (longer ones are covered by the regression tests).
 */
import assert from "node:assert/strict";
import type http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { gunzipSync, inflateSync } from "node:zlib";
import fc from "fast-check";
import { ADMIN_KEY, startRouteService, type TestService } from "./harness.js";

const SEED = 0x5eed_2024;

// ---------------------------------------------------------------------------------------------
// Data and credentials

const A = "proj-alpha";
const B = "proj-bravo";
const B_SECRET = "secret-model-b";
const T = 1_700_000_000;
const sampleTimes = Array.from({ length: 61 }, (_, i) => (T - 3600 + 60 * i) * 1000);
const REQ = "crusoe_inference_request_count";
const IN = "crusoe_inference_input_token_count";

const STATUS_OF: Readonly<Record<string, number>> = {
  bad_data: 400,
  execution: 422,
  timeout: 503,
  canceled: 499,
  internal: 500,
  unavailable: 503,
  not_found: 404,
  unauthorized: 401,
  forbidden: 403,
  method_not_allowed: 405,
  payload_too_large: 413,
  too_many_requests: 429,
};

// ---------------------------------------------------------------------------------------------
// HTTP: raw requests, so paths and query strings reach the server exactly as generated (through
// the harness's in-process path: fetch or inject would normalise them first)

interface Req {
  method: string;
  path: string;
  headers: http.OutgoingHttpHeaders;
  body?: string | Buffer;
}

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function send(s: TestService, r: Req): Promise<Res> {
  // Node frames a DELETE or OPTIONS body with neither Content-Length nor chunks unless told to.
  const headers = { ...r.headers };
  if (r.body !== undefined && headers["transfer-encoding"] === undefined) {
    headers["content-length"] = Buffer.byteLength(r.body);
  }
  const res = await s.raw({ method: r.method, path: r.path, headers, body: r.body });
  let raw = res.body;
  const enc = res.headers["content-encoding"];
  if (enc === "gzip") raw = gunzipSync(raw);
  else if (enc === "deflate") raw = inflateSync(raw);
  return { status: res.status, headers: res.headers, body: raw.toString() };
}

const prefix = (projectId: string) => `/v1alpha5/projects/${projectId}/metrics/timeseries`;
const bearer = (token: string) => `Bearer ${token}`;

/** Percent-encodes every byte outside [A-Za-z0-9_.~-] (lone surrogates become U+FFFD, like a browser). */
function pct(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9_.~-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function describeReq(r: Req): string {
  const body = r.body === undefined ? "" : `\n  body: ${String(r.body).slice(0, 300)}`;
  return `${r.method} ${r.path.slice(0, 400)}\n  headers: ${JSON.stringify(r.headers)}${body}`;
}

interface Envelope {
  status?: unknown;
  errorType?: unknown;
  error?: unknown;
  data?: unknown;
}

/**
 * The contract of every response with a body; returns the parsed envelope. `timeoutOk`: the
 * request asked for its own `timeout`, so a 503 timeout is a legitimate answer.
 */
function checkEnvelope(r: Req, res: Res, timeoutOk: boolean): Envelope {
  const where = () => `${describeReq(r)}\n  -> ${res.status} ${res.body.slice(0, 500)}`;
  let env: Envelope;
  try {
    env = JSON.parse(res.body) as Envelope;
  } catch {
    assert.fail(`body is not JSON\n${where()}`);
  }
  assert.ok(
    env !== null && typeof env === "object" && !Array.isArray(env),
    `body is not an object\n${where()}`,
  );
  assert.match(String(res.headers["content-type"]), /^application\/json/, `content type\n${where()}`);
  if (env.status === "success") {
    assert.equal(res.status, 200, `success with HTTP ${res.status}\n${where()}`);
    return env;
  }
  assert.equal(env.status, "error", `status is neither success nor error\n${where()}`);
  assert.equal(typeof env.errorType, "string", `errorType is not a string\n${where()}`);
  assert.equal(typeof env.error, "string", `error is not a string\n${where()}`);
  const type = env.errorType as string;
  assert.ok(type in STATUS_OF, `unknown errorType ${type}\n${where()}`);
  assert.equal(res.status, STATUS_OF[type], `HTTP status does not match errorType ${type}\n${where()}`);
  if (res.status >= 500) {
    assert.ok(type === "timeout" && timeoutOk, `server error\n${where()}`);
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// Generators

const NUMBERS = [
  "0",
  "-0",
  "1",
  "-1",
  "1.5",
  ".5",
  "5.",
  "1e3",
  "1E+3",
  "1e-3",
  "1e308",
  "-1e308",
  "1e309",
  "-1e309",
  "1e-320",
  "NaN",
  "nan",
  "Inf",
  "+Inf",
  "-Inf",
  "inf",
  "Infinity",
  "-Infinity",
  "9007199254740993",
  "9223372036854775807",
  "9223372036854775808",
  "-9223372036854775809",
  "18446744073709551616",
  "99999999999999999999999999999",
  "0x10",
  "0b1",
  "1_000",
  "1,5",
  " 1",
  "1 ",
  "+",
  "-",
  ".",
  "e5",
  "",
  String(T),
  `${T}.123456`,
  `${T}.9999`,
  String(T * 1000),
  "-62135596800",
  "253402300800",
  "8640000000000",
  "-8640000000000",
];

const TIMES = [
  "2023-11-14T22:13:20Z",
  "2023-11-14T22:13:20.123456789Z",
  "2023-11-14t22:13:20z",
  "2023-11-14T22:13:20+14:00",
  "2023-11-14T22:13:20-23:59",
  "2023-11-14T22:13:20+24:00",
  "2023-11-14T22:13:20+99:99",
  "2024-02-29T00:00:00Z",
  "2023-02-29T00:00:00Z",
  "2023-02-31T00:00:00Z",
  "2023-04-31T00:00:00Z",
  "2023-13-01T00:00:00Z",
  "2023-00-01T00:00:00Z",
  "2023-01-00T00:00:00Z",
  "2023-01-01T24:00:00Z",
  "2023-01-01T23:60:00Z",
  "2023-01-01T23:59:60Z",
  "2023-01-01T99:99:99Z",
  "0000-01-01T00:00:00Z",
  "0001-01-01T00:00:00Z",
  "9999-12-31T23:59:59.999999999Z",
  "1969-12-31T23:59:59.999Z",
  "1970-01-01T00:00:00Z",
  "-292273086-05-16T16:47:06Z",
  "292277025-08-18T07:12:54.999999999Z",
  "+275760-09-13T00:00:00Z",
  "2023-11-14 22:13:20Z",
  "2023-11-14T22:13:20",
  "2023-11-14",
  "20231114T221320Z",
  "2023-11-14T22:13:20.Z",
  "2023-11-14T22:13:20,5Z",
  "2023-11-14T22:13:20.0000000000000000000001Z",
  "２０２３-11-14T22:13:20Z",
];

const DURATIONS = [
  "1s",
  "15s",
  "1m",
  "5m",
  "1h",
  "1h30m",
  "1d",
  "1w",
  "1y",
  "0",
  "0s",
  "-1s",
  "-5m",
  "1ms",
  "0.001",
  "0.0001",
  "1.5",
  "1e-9",
  "1e9",
  "1ms1s",
  "1s1ms",
  "5m5m",
  "1h-1m",
  "1x",
  "h",
  "1H",
  "100000000y",
  "99999999999999999999y",
  "9223372036854775807",
  "9223372036",
  "٣s",
];

/** Lexical pieces of PromQL. No subquery syntax (":"): huge subqueries have their own test below. */
const PROMQL_TOKENS = [
  REQ,
  IN,
  "up",
  "x",
  '{__name__=~".+"}',
  `{project_id="${B}"}`,
  '{project_id=~".+"}',
  `{model_name="${B_SECRET}"}`,
  "{",
  "}",
  "(",
  ")",
  "[",
  "]",
  ",",
  "=",
  "!=",
  "=~",
  "!~",
  '"',
  "'",
  "`",
  "model_name",
  "project_id",
  "__name__",
  '"model-a"',
  '".+"',
  '"("',
  '"\\"',
  '"\\xZZ"',
  '"\\u12"',
  "sum",
  "rate",
  "count_values",
  "label_replace",
  "label_join",
  "histogram_quantile",
  "quantile",
  "topk",
  "limitk",
  "absent",
  "absent_over_time",
  "scalar",
  "vector",
  "time",
  "sort_by_label",
  "info",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "@",
  "start()",
  "end()",
  "+",
  "-",
  "*",
  "/",
  "%",
  "^",
  "==",
  ">",
  "<=",
  "and",
  "or",
  "unless",
  "atan2",
  "[5m]",
  "[1h]",
  "[1d]",
  "[0s]",
  "[-1m]",
  "1",
  "0",
  "-1",
  "1e308",
  "NaN",
  "Inf",
  "-Inf",
  "0x1F",
  "1h",
  "5m",
  "100000000y",
  '"\\u0000"',
  "# comment\n",
  "\n",
  "\t",
  "(((((((((((",
  ")))))",
];

/** Whole queries: some that succeed, some that fail in execution (422), none that are slow. */
const WHOLE_QUERIES = [
  '{__name__=~".+"}',
  `sum by (model_name) (rate(${REQ}[5m]))`,
  `histogram_quantile(0.9, rate(${REQ}[5m]))`,
  `count_values("v", ${REQ})`,
  `label_replace(${REQ}, "project_id", "${B}", "", "")`,
  `absent(${REQ}{project_id="${B}"})`,
  `topk(1, ${REQ}) @ ${T}`,
  `${REQ} offset 1h`,
  "time()",
  "vector(NaN)",
  `sort_by_label(${REQ}, "model_name")`,
  `${REQ} * on(model_name) group_left ${IN}`,
  `${IN} / on(model_name) group_right ${REQ}`,
  `rate(${REQ}[5m]) * on(model_name) group_left(project_id) ${IN}`,
  `${REQ} + ignoring(__name__) ${IN}`,
  `${REQ} > bool on(model_name) ${IN}`,
  // Execution errors.
  `label_replace({__name__=~".+"}, "__name__", "x", "", "")`,
  '{__name__=~".+"} + on(model_name) {__name__=~".+"}',
];

const weird = fc.string({ unit: "binary", maxLength: 24 });

const promqlish: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(
      fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...PROMQL_TOKENS) }, { weight: 1, arbitrary: weird }),
      { maxLength: 14 },
    ),
    fc.constantFrom("", " "),
  )
  .map(([parts, sep]) => parts.join(sep));

const value: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: promqlish },
  { weight: 3, arbitrary: fc.constantFrom(...WHOLE_QUERIES) },
  { weight: 3, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 3, arbitrary: fc.constantFrom(...TIMES) },
  { weight: 3, arbitrary: fc.constantFrom(...DURATIONS) },
  { weight: 1, arbitrary: fc.double().map(String) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 90n), max: 2n ** 90n }).map(String) },
  { weight: 2, arbitrary: weird },
);

const KEYS = [
  "query",
  "time",
  "start",
  "end",
  "step",
  "timeout",
  "limit",
  "match[]",
  "lookback_delta",
  "metric",
  "limit_per_metric",
  "stats",
  "match",
  "query[]",
  "query[0]",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "",
];

const key: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 1, arbitrary: weird },
);

/** Parameters good enough to get past validation, so random ones also reach the engine. */
const VALID: ReadonlyArray<readonly [string, string]> = [
  ["query", '{__name__=~".+"}'],
  ["time", String(T)],
  ["start", String(T - 600)],
  ["end", String(T)],
  ["step", "60"],
  ["match[]", '{__name__=~".+"}'],
];

type Pair = readonly [string, string];

const params: fc.Arbitrary<Pair[]> = fc
  .tuple(
    // Often a whole query at the data's time first, so many requests reach the engine with data.
    fc.oneof(
      {
        weight: 2,
        arbitrary: fc.constantFrom(...WHOLE_QUERIES).map((q): Pair[] => [
          ["query", q],
          ["time", String(T)],
        ]),
      },
      { weight: 1, arbitrary: fc.constant<Pair[]>([]) },
    ),
    fc.subarray([...VALID]),
    fc.array(fc.tuple(key, value), { maxLength: 6 }),
    fc.boolean(),
  )
  .map(([whole, valid, random, randomFirst]) =>
    randomFirst ? [...whole, ...random, ...valid] : [...whole, ...valid, ...random],
  );

const LABEL_NAMES = [
  "model_name",
  "__name__",
  "project_id",
  "job",
  "U__a_2e_b",
  "U__zz_D800_",
  "U__",
  "U___",
  "U__a_110000_",
  "U__a_",
  "U__a__b",
  "U__a_zz_",
  "%E2%82%AC",
  "a%2Fb",
  "%00",
  "a.b",
  "0abc",
  "x".repeat(400),
];

const labelName: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...LABEL_NAMES) },
  { weight: 1, arbitrary: weird.filter((s) => s.length > 0).map(pct) },
);

const ROUTES = [
  "",
  "/",
  "/api/v1/query",
  "/api/v1/query_range",
  "/api/v1/series",
  "/api/v1/labels",
  "/api/v1/label/{name}/values",
  "/api/v1/metadata",
  "/api/v1/query_exemplars",
  "/api/v1/format_query",
  "/api/v1/status/buildinfo",
  "/api/v1/rules",
  "/api/v1/alerts",
  "/api/v1/targets",
  "/api/v1/query/extra",
  "/api/v2/query",
  "/api/v1//query",
];

const method: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("GET", "POST") },
  { weight: 1, arbitrary: fc.constantFrom("PUT", "DELETE", "PATCH", "OPTIONS", "HEAD") },
);

const CONTENT_TYPES = [
  "application/x-www-form-urlencoded",
  "application/x-www-form-urlencoded; charset=utf-8",
  "APPLICATION/X-WWW-FORM-URLENCODED",
  "application/x-www-form-urlencoded;charset=latin1",
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "multipart/form-data; boundary=xyz",
  "application/octet-stream",
  "application/x-www-form-urlencoded, application/json",
  "garbage",
  ";;;",
  "*/*",
];

const contentType: fc.Arbitrary<string | undefined> = fc.option(fc.constantFrom(...CONTENT_TYPES), {
  freq: 5,
});

type Body =
  | { kind: "form" }
  | { kind: "json" }
  | { kind: "text"; text: string }
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "none" };

const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Body>({ kind: "form" }) },
  { weight: 1, arbitrary: fc.constant<Body>({ kind: "json" }) },
  { weight: 1, arbitrary: fc.constant<Body>({ kind: "none" }) },
  {
    weight: 2,
    arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map((text): Body => ({ kind: "text", text })),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes): Body => ({ kind: "bytes", bytes })),
  },
);

type Auth = "A" | "B" | "none" | "garbage" | "admin" | "expired" | "lowercase-scheme";
const auth: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 20, arbitrary: fc.constant<Auth>("A") },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Auth>("B", "none", "garbage", "admin", "expired", "lowercase-scheme"),
  },
);

const projectInPath: fc.Arbitrary<string> = fc.oneof(
  { weight: 20, arbitrary: fc.constant(A) },
  { weight: 1, arbitrary: fc.constantFrom(B, "proj%2Dalpha", "PROJ-ALPHA", "proj-alpha-2", "never-used") },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/) },
);

/** Printable ASCII that a client may put raw into a query string: stray %, &, =, [, #, ?… */
const rawGarbage = fc.stringMatching(/^[!-~]{0,40}$/);

const ACCEPT_ENCODINGS = [undefined, "gzip", "deflate", "br", "identity", "*", "gzip;q=0", "garbage"];

interface QueryCase {
  route: string;
  name: string;
  method: string;
  params: Pair[];
  placement: Array<"url" | "body">;
  encodeRaw: boolean;
  garbage: string;
  contentType: string | undefined;
  body: Body;
  auth: Auth;
  project: string;
  acceptEncoding: string | undefined;
}

const queryCase: fc.Arbitrary<QueryCase> = fc.record({
  route: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom("", "/api/v1/query", "/api/v1/query_range") },
    { weight: 1, arbitrary: fc.constantFrom(...ROUTES) },
  ),
  name: labelName,
  method,
  params,
  // All in the URL, all in the body, or mixed.
  placement: fc.oneof(
    fc.constant<Array<"url" | "body">>(["url"]),
    fc.constant<Array<"url" | "body">>(["body"]),
    fc.array(fc.constantFrom<"url" | "body">("url", "body"), { minLength: 16, maxLength: 16 }),
  ),
  encodeRaw: fc.boolean(),
  garbage: fc.option(rawGarbage, { freq: 4, nil: "" }),
  contentType,
  body,
  auth,
  project: projectInPath,
  acceptEncoding: fc.constantFrom(...ACCEPT_ENCODINGS),
});

/**
 * Syntactically valid PromQL, bounded in cost: ranges up to 1h, subquery steps of a minute or
 * more (huge subqueries have their own test below).
 */
const MATCHER_VALUES = ["model-a", ".+", ".*", "", B, A, "a|b", "(", "\\\\"];
const matcher = fc
  .tuple(
    fc.constantFrom("model_name", "project_id", "__name__", "le", "x"),
    fc.constantFrom("=", "!=", "=~", "!~"),
    fc.constantFrom(...MATCHER_VALUES),
  )
  .map(([l, op, v]) => `${l}${op}"${v}"`);
const selector = fc
  .tuple(fc.constantFrom(REQ, IN, "x", ""), fc.array(matcher, { maxLength: 2 }))
  .map(([name, ms]) => (name === "" && ms.length === 0 ? '{__name__=~".+"}' : `${name}{${ms.join(",")}}`));
const modifier = fc.constantFrom(
  "",
  "",
  "",
  " offset 5m",
  " offset -5m",
  ` @ ${T}`,
  " @ start()",
  " @ end()",
  ` @ ${T - 1800} offset 1m`,
);
const rangeDur = fc.constantFrom("30s", "1m", "5m", "1h");
const GROUPINGS = [
  "",
  " by (model_name)",
  " without (project_id)",
  " by ()",
  " by (__name__)",
  " without ()",
];
const MATCHING = ["", " on(model_name)", " ignoring(project_id)", " on()", " ignoring(__name__)"];
/** Matching for arithmetic and comparisons, which may also group. */
const GROUP_MATCHING = [
  ...MATCHING,
  " on(model_name) group_left",
  " on(model_name) group_left(project_id)",
  " ignoring(project_id) group_right",
  " on() group_left(model_name)",
  " ignoring(__name__) group_right(__name__)",
];

const { expr: promql } = fc.letrec<{ expr: string; vec: string; rng: string }>((tie) => {
  const expr = tie("expr") as fc.Arbitrary<string>;
  const vec = tie("vec") as fc.Arbitrary<string>;
  const rng = tie("rng") as fc.Arbitrary<string>;
  return {
    expr: fc.oneof(
      { depthIdentifier: "promql", maxDepth: 4 },
      vec,
      fc.constantFrom("1", "0", "-1", "0.5", "1e308", "NaN", "Inf", "-Inf", "time()", "pi()"),
      fc
        .tuple(
          expr,
          fc.constantFrom("+", "-", "*", "/", "%", "^", "atan2"),
          fc.constantFrom(...GROUP_MATCHING),
          expr,
        )
        .map(([a, op, m, b]) => `(${a}) ${op}${m} (${b})`),
      fc
        .tuple(
          expr,
          fc.constantFrom("==", "!=", ">", "<", ">=", "<="),
          fc.boolean(),
          fc.constantFrom(...GROUP_MATCHING),
          expr,
        )
        .map(([a, op, bool, m, b]) => `(${a}) ${op}${bool ? " bool" : ""}${m} (${b})`),
      fc
        .tuple(vec, fc.constantFrom("and", "or", "unless"), fc.constantFrom(...MATCHING), vec)
        .map(([a, op, m, b]) => `(${a}) ${op}${m} (${b})`),
      expr.map((e) => `scalar(${e})`),
      expr.map((e) => `-(${e})`),
    ),
    vec: fc.oneof(
      { depthIdentifier: "promql", maxDepth: 4 },
      fc.tuple(selector, modifier).map(([sel, mod]) => `${sel}${mod}`),
      fc.constantFrom("vector(1)", "vector(NaN)", "vector(time())"),
      fc
        .tuple(
          fc.constantFrom(
            "abs",
            "ceil",
            "floor",
            "exp",
            "ln",
            "log2",
            "sqrt",
            "sgn",
            "timestamp",
            "sort",
            "sort_desc",
            "deg",
            "acos",
            "absent",
            "round",
          ),
          expr,
        )
        .map(([f, e]) => `${f}(${e})`),
      fc
        .tuple(
          fc.constantFrom(
            "rate",
            "irate",
            "increase",
            "delta",
            "idelta",
            "deriv",
            "changes",
            "resets",
            "avg_over_time",
            "min_over_time",
            "max_over_time",
            "sum_over_time",
            "count_over_time",
            "stddev_over_time",
            "last_over_time",
            "present_over_time",
            "absent_over_time",
            "mad_over_time",
          ),
          rng,
        )
        .map(([f, r]) => `${f}(${r})`),
      rng.map((r) => `quantile_over_time(0.5, ${r})`),
      rng.map((r) => `predict_linear(${r}, 60)`),
      fc
        .tuple(
          fc.constantFrom("sum", "avg", "min", "max", "count", "stddev", "stdvar", "group"),
          fc.constantFrom(...GROUPINGS),
          vec,
        )
        .map(([op, g, e]) => `${op}${g} (${e})`),
      fc
        .tuple(
          fc.constantFrom(
            "topk(2, ",
            "bottomk(1, ",
            "quantile(0.9, ",
            'count_values("v", ',
            "limitk(1, ",
            "limit_ratio(0.5, ",
            "topk(-1, ",
            "quantile(NaN, ",
          ),
          fc.constantFrom(...GROUPINGS),
          vec,
        )
        .map(([op, g, e]) => `${op.slice(0, op.indexOf("("))}${g} ${op.slice(op.indexOf("("))}${e})`),
      vec.map((e) => `label_replace(${e}, "dst", "$1", "model_name", "(.*)")`),
      vec.map((e) => `label_replace(${e}, "project_id", "${B}", "", "")`),
      vec.map((e) => `label_join(${e}, "dst", "-", "model_name", "project_id")`),
      vec.map((e) => `clamp(${e}, 0, 10)`),
      vec.map((e) => `histogram_quantile(0.9, ${e})`),
      vec.map((e) => `sort_by_label(${e}, "model_name")`),
    ),
    rng: fc.oneof(
      { depthIdentifier: "promql", maxDepth: 4 },
      fc.tuple(selector, rangeDur, modifier).map(([sel, r, mod]) => `${sel}[${r}]${mod}`),
      fc.tuple(vec, fc.constantFrom("30m:5m", "1h:1m", "10m:", "5m:1m")).map(([e, r]) => `(${e})[${r}]`),
    ),
  };
});

// ---------------------------------------------------------------------------------------------

describe("API fuzz", () => {
  let s: TestService;
  let tokA: string;
  let tokB: string;
  let expired: string;
  const control: string[] = [];

  const credentials = (a: Auth): string | undefined => {
    switch (a) {
      case "A":
        return bearer(tokA);
      case "B":
        return bearer(tokB);
      case "none":
        return undefined;
      case "garbage":
        return "Bearer mim_mon_not-a-real-token";
      case "admin":
        return bearer(ADMIN_KEY);
      case "expired":
        return bearer(expired);
      case "lowercase-scheme":
        return `bearer ${tokA}`;
    }
  };

  /** Answers that must not change, whatever the fuzzing did. */
  const CONTROL_PATHS = [
    `/api/v1/query?query=${pct('{__name__=~".+"}')}&time=${T}`,
    `/api/v1/query_range?query=${pct(`sum(rate(${REQ}[5m]))`)}&start=${T - 1800}&end=${T}&step=60`,
    `/api/v1/series?match[]=${pct('{__name__=~".+"}')}&start=0&end=${T + 1}`,
    "/api/v1/labels",
    "/api/v1/label/model_name/values",
    "/api/v1/metadata",
  ];
  const controlAnswers = async () => {
    const out: string[] = [];
    for (const p of CONTROL_PATHS) {
      const res = await send(s, {
        method: "GET",
        path: prefix(A) + p,
        headers: { authorization: bearer(tokA) },
      });
      assert.equal(res.status, 200, res.body);
      out.push(res.body);
    }
    return out;
  };

  before(async () => {
    s = await startRouteService();
    s.load([
      {
        labels: { __name__: REQ, project_id: A, model_name: "model-a" },
        samples: sampleTimes.map((t, i) => [t, i] as const),
      },
      {
        labels: { __name__: IN, project_id: A, model_name: "model-a" },
        samples: sampleTimes.map((t, i) => [t, 10 * i] as const),
      },
      {
        labels: { __name__: REQ, project_id: B, model_name: B_SECRET },
        samples: sampleTimes.map((t) => [t, 987654] as const),
      },
    ]);
    tokA = s.token(A);
    tokB = s.token(B);
    expired = s.token(A, new Date(Date.now() - 1000));
    control.push(...(await controlAnswers()));
    assert.ok(control[0].includes('"model-a"') && control[0].includes('"600"'), control[0]);
  });

  after(async () => {
    await s.close();
  });

  function buildQueryRequest(c: QueryCase): Req {
    const enc = (x: string) => (c.encodeRaw ? pct(x) : encodeURIComponent(x.toWellFormed()));
    const urlPairs: Pair[] = [];
    const bodyPairs: Pair[] = [];
    c.params.forEach((p, i) => {
      (c.placement[i % c.placement.length] === "url" ? urlPairs : bodyPairs).push(p);
    });
    let query = urlPairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&");
    if (c.garbage !== "") query += `&${c.garbage}`;
    const route = c.route.replace("{name}", c.name);
    const path = `${prefix(c.project)}${route}${query === "" ? "" : `?${query}`}`;
    const headers: http.OutgoingHttpHeaders = {};
    const cred = credentials(c.auth);
    if (cred !== undefined) headers.authorization = cred;
    if (c.acceptEncoding !== undefined) headers["accept-encoding"] = c.acceptEncoding;
    let payload: string | Buffer | undefined;
    switch (c.body.kind) {
      case "form":
        payload = new URLSearchParams(
          bodyPairs.map(([k, v]): [string, string] => [k, v.toWellFormed()]),
        ).toString();
        break;
      case "json":
        payload = JSON.stringify(Object.fromEntries(bodyPairs));
        break;
      case "text":
        payload = c.body.text;
        break;
      case "bytes":
        payload = Buffer.from(c.body.bytes);
        break;
      case "none":
        payload = undefined;
    }
    if (c.method === "GET" || c.method === "HEAD") payload = undefined;
    if (payload !== undefined && c.contentType !== undefined) headers["content-type"] = c.contentType;
    return { method: c.method, path, headers, body: payload };
  }

  it("query API: random parameters, bodies, content types and credentials keep the envelope", async () => {
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(queryCase, async (c) => {
        const r = buildQueryRequest(c);
        const res = await send(s, r);
        const where = () => `${describeReq(r)}\n  -> ${res.status} ${res.body.slice(0, 500)}`;
        if (r.method === "HEAD") {
          assert.ok(res.status < 500, `server error\n${where()}`);
          return;
        }
        const timeoutOk = c.params.some(([k]) => k === "timeout");
        checkEnvelope(r, res, timeoutOk);
        seen.add(res.status);
        if (res.status === 200) {
          const authorised =
            (c.auth === "A" || c.auth === "lowercase-scheme") && decodeURIComponent(c.project) === A;
          assert.ok(authorised, `200 without A's token on A's URL\n${where()}`);
        }
        assert.ok(
          !res.body.includes(B_SECRET) || r.path.includes("secret") || String(r.body).includes("secret"),
          `B's data\n${where()}`,
        );
      }),
      { seed: SEED, numRuns: 800, includeErrorInReport: true },
    );
    // The generators reach every kind of outcome, so the checks above are not vacuous.
    for (const status of [200, 400, 401, 403, 404, 405, 422])
      assert.ok(seen.has(status), `never saw ${status}`);
  });

  it("engine: random well-formed PromQL, instant and range, never fails with a 5xx", async () => {
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(promql, fc.constantFrom("instant", "range"), async (q, kind) => {
        const params =
          kind === "instant"
            ? `query=${pct(q)}&time=${T}`
            : `query=${pct(q)}&start=${T - 1800}&end=${T}&step=60`;
        const r: Req = {
          method: "POST",
          path: `${prefix(A)}/api/v1/${kind === "instant" ? "query" : "query_range"}`,
          headers: { authorization: bearer(tokA), "content-type": "application/x-www-form-urlencoded" },
          body: params,
        };
        const res = await send(s, r);
        checkEnvelope(r, res, false);
        seen.add(res.status);
        assert.ok([200, 400, 422].includes(res.status), `${res.status} ${res.body}`);
        assert.ok(!res.body.includes(B_SECRET), `B's data\n${describeReq(r)}\n  -> ${res.body}`);
      }),
      { seed: SEED + 3, numRuns: 500, includeErrorInReport: true },
    );
    for (const status of [200, 400, 422]) assert.ok(seen.has(status), `never saw ${status}`);
  });

  it("query API: garbage query strings and repeated keys", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES.slice(0, 13)),
        fc.array(rawGarbage, { maxLength: 6 }),
        fc.array(
          fc.tuple(fc.constantFrom("query", "time", "start", "end", "step", "match[]", "limit"), value),
          {
            maxLength: 10,
          },
        ),
        async (route, garbage, repeated) => {
          const q = [
            ...repeated.map(([k, v]) => `${k}=${pct(v)}`),
            ...garbage,
            ...repeated.map(([k, v]) => `${k}=${pct(v)}`),
          ].join("&");
          const r: Req = {
            method: "GET",
            path: `${prefix(A)}${route.replace("{name}", "model_name")}?${q}`,
            headers: { authorization: bearer(tokA) },
          };
          const res = await send(s, r);
          checkEnvelope(r, res, false);
        },
      ),
      { seed: SEED + 1, numRuns: 300, includeErrorInReport: true },
    );
  });

  it("admin API: random JSON, invalid JSON, content types, methods and credentials", async () => {
    const jsonish = fc.oneof(
      { weight: 3, arbitrary: value },
      { weight: 1, arbitrary: fc.double() },
      { weight: 1, arbitrary: fc.constantFrom(null, true, 0, -1, 1e300, [], {}) },
    );
    const createBody = fc.record(
      {
        name: fc.oneof(
          fc.constantFrom("ci", "", "   ", "x".repeat(200), "x".repeat(201), "ünïcødé ✓"),
          weird,
          fc.integer(),
        ),
        expires_in: fc.oneof(fc.constantFrom(...DURATIONS), jsonish),
        expires_at: fc.oneof(fc.constantFrom(...TIMES), fc.constantFrom(...NUMBERS), jsonish),
        extra: jsonish,
      },
      { requiredKeys: [] },
    );
    const bodyText = fc.oneof(
      { weight: 5, arbitrary: createBody.map((b) => JSON.stringify(b)) },
      { weight: 1, arbitrary: fc.json() },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          "",
          "{",
          "}",
          "nul",
          "{'name':'x'}",
          '{"name":"x",}',
          '{"name":"x"}garbage',
          '{"__proto__":{"admin":true},"name":"x"}',
          '{"constructor":{"prototype":{"x":1}},"name":"x"}',
          '{"name":"x","name":"y"}',
          '{"name":"\\ud800"}',
          '{"name":"x","expires_in":"1h","expires_at":"2099-01-01T00:00:00Z"}',
          "[]",
          "null",
          '"name"',
          "1e400",
          "name=x&expires_in=1h",
        ),
      },
      { weight: 1, arbitrary: weird },
      {
        weight: 1,
        arbitrary: createBody.map((b) => {
          const t = JSON.stringify(b);
          return t.slice(0, Math.max(0, t.length - 1));
        }),
      },
    );
    const adminCase = fc.record({
      method: fc.oneof(
        { weight: 6, arbitrary: fc.constant("POST") },
        { weight: 2, arbitrary: fc.constantFrom("GET", "DELETE") },
        { weight: 1, arbitrary: fc.constantFrom("PUT", "PATCH", "OPTIONS") },
      ),
      project: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom("fuzz-project", "p", A.toUpperCase(), "a.b_c-d") },
        {
          weight: 1,
          arbitrary: fc.constantFrom("-bad", ".bad", "_bad", "a".repeat(129), "a%20b", "%2E%2E", "a%00"),
        },
        { weight: 1, arbitrary: weird.filter((x) => x.length > 0).map(pct) },
      ),
      tail: fc.oneof(
        { weight: 4, arbitrary: fc.constant("") },
        { weight: 1, arbitrary: fc.constantFrom("/", "/tok_00000000000000000000", "/x/y", "/%00") },
        { weight: 1, arbitrary: weird.filter((x) => x.length > 0).map((x) => `/${pct(x)}`) },
      ),
      body: bodyText,
      contentType: fc
        .option(fc.constantFrom(...CONTENT_TYPES), { freq: 8 })
        .map((x) => x ?? "application/json"),
      auth: fc.oneof(
        { weight: 8, arbitrary: fc.constant("admin") },
        {
          weight: 1,
          arbitrary: fc.constantFrom("A", "none", "garbage", "admin-lowercase-scheme", "admin-prefix"),
        },
      ),
    });
    await fc.assert(
      fc.asyncProperty(adminCase, async (c) => {
        const headers: http.OutgoingHttpHeaders = { "content-type": c.contentType };
        if (c.auth === "admin") headers.authorization = bearer(ADMIN_KEY);
        else if (c.auth === "A") headers.authorization = bearer(tokA);
        else if (c.auth === "garbage") headers.authorization = "Bearer mim_adm_garbage";
        else if (c.auth === "admin-lowercase-scheme") headers.authorization = `bearer ${ADMIN_KEY}`;
        else if (c.auth === "admin-prefix") headers.authorization = bearer(ADMIN_KEY.slice(0, -2));
        const r: Req = {
          method: c.method,
          path: `/v1alpha5/projects/${c.project}/monitoring/tokens${c.tail}`,
          headers,
          body: c.method === "GET" ? undefined : c.body,
        };
        const res = await send(s, r);
        const where = () => `${describeReq(r)}\n  -> ${res.status} ${res.body.slice(0, 500)}`;
        const isAdmin = c.auth === "admin" || c.auth === "admin-lowercase-scheme";
        if (res.status === 201) {
          assert.ok(isAdmin && c.method === "POST", `201 ${where()}`);
          const created = JSON.parse(res.body) as { token: unknown; project_id: unknown; id: unknown };
          assert.match(String(created.token), /^mim_mon_[A-Za-z0-9_-]{40,}$/, where());
          assert.equal(created.project_id, decodeURIComponent(c.project), where());
          assert.equal(typeof created.id, "string", where());
          return;
        }
        if (res.status === 200) {
          assert.ok(isAdmin && c.method === "GET", `200 ${where()}`);
          const list = JSON.parse(res.body) as { tokens: unknown };
          assert.ok(Array.isArray(list.tokens), where());
          assert.doesNotMatch(
            res.body,
            /mim_mon_[A-Za-z0-9_-]{20,}/,
            `token secrets in a listing\n${where()}`,
          );
          return;
        }
        if (res.status === 204) {
          assert.ok(isAdmin && c.method === "DELETE", `204 ${where()}`);
          assert.equal(res.body, "", where());
          return;
        }
        checkEnvelope(r, res, false);
      }),
      { seed: SEED + 2, numRuns: 300, includeErrorInReport: true },
    );
    // A's token survived whatever was created and deleted.
    const res = await send(s, {
      method: "GET",
      path: `${prefix(A)}/api/v1/labels`,
      headers: { authorization: bearer(tokA) },
    });
    assert.equal(res.status, 200, res.body);
  });

  it("oversized bodies (> 1 MiB) get 413 payload_too_large on every POST route", async () => {
    const big = Buffer.alloc((1 << 20) + 1, "a");
    const bigForm = Buffer.concat([Buffer.from("query=1&pad="), Buffer.alloc(1 << 20, "a")]);
    const routes = [
      "",
      "/api/v1/query",
      "/api/v1/query_range",
      "/api/v1/series",
      "/api/v1/labels",
      "/api/v1/format_query",
    ];
    const cases: Array<[string, http.OutgoingHttpHeaders, Buffer]> = [];
    for (const route of routes) {
      const auth = { authorization: bearer(tokA) };
      cases.push(
        [prefix(A) + route, { ...auth, "content-type": "application/x-www-form-urlencoded" }, bigForm],
        [prefix(A) + route, { ...auth, "content-type": "text/plain" }, big],
        [prefix(A) + route, { ...auth, "content-type": "application/json" }, big],
        [
          prefix(A) + route,
          { ...auth, "content-type": "application/x-www-form-urlencoded", "transfer-encoding": "chunked" },
          bigForm,
        ],
        [prefix(A) + route, auth, big],
      );
    }
    cases.push(
      [
        `/v1alpha5/projects/${A}/monitoring/tokens`,
        { authorization: bearer(ADMIN_KEY), "content-type": "application/json" },
        Buffer.from(`{"name":"${"x".repeat(1 << 20)}"}`),
      ],
      [
        `/v1alpha5/projects/${A}/monitoring/tokens`,
        { authorization: bearer(ADMIN_KEY), "content-type": "text/plain" },
        big,
      ],
    );
    for (const [path, headers, payload] of cases) {
      const r: Req = { method: "POST", path, headers, body: payload };
      const res = await send(s, r);
      const env = checkEnvelope(r, res, false);
      assert.equal(res.status, 413, `${path} ${JSON.stringify(headers)} -> ${res.status} ${res.body}`);
      assert.equal(env.errorType, "payload_too_large");
    }
    // Exactly the limit is accepted.
    const atLimit = Buffer.concat([
      Buffer.from(`time=${T}&query=1&pad=`),
      Buffer.alloc((1 << 20) - `time=${T}&query=1&pad=`.length, "a"),
    ]);
    assert.equal(atLimit.length, 1 << 20);
    const ok = await send(s, {
      method: "POST",
      path: `${prefix(A)}/api/v1/query`,
      headers: { authorization: bearer(tokA), "content-type": "application/x-www-form-urlencoded" },
      body: atLimit,
    });
    assert.equal(ok.status, 200, ok.body);
  });

  it("edge values of every parameter on every query route (deterministic sweep)", async () => {
    const routes = [
      "",
      "/api/v1/query",
      "/api/v1/query_range",
      "/api/v1/series",
      "/api/v1/labels",
      "/api/v1/label/model_name/values",
      "/api/v1/metadata",
      "/api/v1/query_exemplars",
      "/api/v1/format_query",
    ];
    const keys = ["time", "start", "end", "step", "timeout", "limit", "lookback_delta", "limit_per_metric"];
    const values = [...new Set([...NUMBERS, ...TIMES, ...DURATIONS])];
    const failures: string[] = [];
    for (const route of routes) {
      for (const k of keys) {
        for (const v of values) {
          const valid = VALID.filter(([vk]) => vk !== k);
          const q = [...valid, [k, v] as const].map(([a, b]) => `${pct(a)}=${pct(b)}`).join("&");
          const r: Req = {
            method: "GET",
            path: `${prefix(A)}${route}?${q}`,
            headers: { authorization: bearer(tokA) },
          };
          const res = await send(s, r);
          try {
            checkEnvelope(r, res, k === "timeout");
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  it("the stored data is intact afterwards", async () => {
    assert.deepEqual(await controlAnswers(), control);
  });

  // -------------------------------------------------------------------------------------------
  // Regression tests for the bugs this file found.

  it("a subquery with more steps than the sample budget is refused with 422, not a 500 or a stall", async () => {
    for (const q of ['{__name__=~".+"}[100y:1ms]', "vector(1)[1y:1ms]", `max_over_time(${REQ}[10y:1ms])`]) {
      const r: Req = {
        method: "GET",
        path: `${prefix(A)}/api/v1/query?query=${pct(q)}&time=${T}`,
        headers: { authorization: bearer(tokA) },
      };
      const res = await send(s, r);
      const env = checkEnvelope(r, res, false);
      assert.equal(res.status, 422, res.body);
      assert.equal(env.error, "query processing would load too many samples into memory in query execution");
    }
  });

  // Was a 500 (TypeError in binary.ts vectorVector) once delayed name removal was switched off.
  it("vector/vector arithmetic whose left operand has a metric name answers 200", async () => {
    for (const q of [
      `${REQ} + ${IN}`,
      `${REQ} / ${REQ}`,
      `${REQ} / (${IN} > 0)`,
      `(${REQ} > 0) + ${IN}`,
      `${REQ} + sum_over_time(${REQ}[5m])`,
      `${REQ} == bool ${REQ}`,
      `${REQ} * on(model_name) group_left ${IN}`,
      `${IN} / on(model_name) group_right ${REQ}`,
      `${REQ} * on(model_name) group_left(project_id) ${IN}`,
    ]) {
      const r: Req = {
        method: "GET",
        path: `${prefix(A)}/api/v1/query?query=${pct(q)}&time=${T}`,
        headers: { authorization: bearer(tokA) },
      };
      const res = await send(s, r);
      checkEnvelope(r, res, false);
      assert.equal(res.status, 200, res.body);
    }
  });

  it("a malformed %-escape in the path gets bad_data in the envelope", async () => {
    for (const path of [
      `${prefix(A)}/api/v1/label/%/values`,
      `${prefix(A)}/api/v1/label/%FF%FE/values`,
      `${prefix(A)}/api/v1/label/%E0%A4%A/values`,
      "/v1alpha5/projects/%/metrics/timeseries/api/v1/query",
      "/v1alpha5/projects/%zz/monitoring/tokens",
    ]) {
      const r: Req = { method: "GET", path, headers: { authorization: bearer(tokA) } };
      const res = await send(s, r);
      const env = checkEnvelope(r, res, false);
      assert.equal(env.errorType, "bad_data");
    }
  });

  it("a path parameter longer than 500 characters gets the envelope", async () => {
    for (const path of [
      `${prefix(A)}/api/v1/label/${"x".repeat(600)}/values`,
      `/v1alpha5/projects/${"a".repeat(600)}/monitoring/tokens`,
      `${prefix("a".repeat(600))}/api/v1/query?query=1`,
    ]) {
      const r: Req = { method: "GET", path, headers: { authorization: bearer(tokA) } };
      const res = await send(s, r);
      checkEnvelope(r, res, false);
    }
  });
});

describe("the HTTP parser in front of the API", () => {
  it("long URLs are served and requests the HTTP parser rejects get the envelope", async () => {
    const long = `${prefix(A)}/api/v1/query?query=${pct(`{model_name=~"${"a|".repeat(9000)}b"}`)}&time=${T}`;
    // Listening: the subject is Node's HTTP parser (its header size limit, its rejections), which
    // an in-process request never passes through.
    const s = await startRouteService({ listen: true });
    try {
      const r: Req = { method: "GET", path: long, headers: { authorization: bearer(s.token(A)) } };
      const res = await send(s, r);
      checkEnvelope(r, res, false);

      const u = new URL(s.url);
      const raw = await new Promise<string>((resolve, reject) => {
        const sock = net.connect(Number(u.port), u.hostname, () =>
          sock.write(`GET ${prefix(A)}/api/v1/labels HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n`),
        );
        let d = "";
        sock.on("data", (c) => {
          d += c;
        });
        sock.on("close", () => resolve(d));
        sock.on("error", reject);
      });
      const [head, ...rest] = raw.split("\r\n\r\n");
      const status = Number(head.split(" ")[1]);
      const parsed: Res = {
        status,
        headers: { "content-type": /content-type: ([^\r]+)/i.exec(head)?.[1] },
        body: rest.join("\r\n\r\n"),
      };
      checkEnvelope({ method: "GET", path: "(malformed header line)", headers: {} }, parsed, false);
    } finally {
      await s.close();
    }
  });
});

/**
 * The isolation attacks as query text, shared by the embedded mode's API test
 * (test/api/isolation.test.ts) and the remote mode's rewriter test (test/remote/enforce.test.ts),
 * so both modes face the same list.
 */

/** What an attack names when it aims at a project: its id, a model, a label name and value, a metric. */
export interface Target {
  P: string;
  M: string;
  L: string;
  V: string;
  N: string;
}

/** The attacker's project. */
export const A = "proj-alpha";
/** The query time (s) the attacks' `@` modifiers refer to. */
export const T = 1_700_000_000;
/** The other projects, with names and values nothing of A's shares. */
export const B: Target = {
  P: "proj-bravo",
  M: "secret-model-b",
  L: "b_only_label",
  V: "b-secret-value",
  N: "b_only_metric",
};
/** A project whose id starts with A's. */
export const C: Target = {
  P: "proj-alpha-2",
  M: "secret-model-c",
  L: "c_only_label",
  V: "c-secret-value",
  N: "c_only_metric",
};
/** A's id in upper case: project ids are case-sensitive. */
export const U: Target = {
  P: "PROJ-ALPHA",
  M: "secret-model-u",
  L: "u_only_label",
  V: "u-secret-value",
  N: "u_only_metric",
};

export const REQ = "crusoe_inference_request_count";
export const IN = "crusoe_inference_input_token_count";

/** PromQL aimed at a target: instant, range, base-path and POST requests in the API test, rewritten text in remote mode. */
export const ISOLATION_QUERIES: ReadonlyArray<(t: Target) => string> = [
  // Matchers on project_id.
  () => '{project_id=~".+"}',
  () => '{project_id=~".*"}',
  () => '{project_id=""}',
  () => `{__name__=~".+",project_id=""}`,
  () => `{__name__=~".+",project_id!~".+"}`,
  (t) => `{project_id=~"${t.P}|${A}"}`,
  (t) => `{project_id=~"${t.P}"}`,
  (t) => `{project_id="${t.P}"}`,
  (t) => `{project_id="${t.P.replaceAll("-", "\\x2d")}"}`,
  (t) => `{project_id="${t.P.replaceAll("-", "\\u002d")}"}`,
  (t) => `{project_id='${t.P}'}`,
  (t) => `{project_id=\`${t.P}\`}`,
  () => `{project_id!="${A}"}`,
  () => `{__name__=~".+",project_id!="${A}"}`,
  () => `{__name__=~".+",project_id!~"${A}"}`,
  () => `{__name__=~".+",project_id=~"(?i)${A}.*"}`,
  () => `{__name__=~".+",project_id=~"${A}.+"}`,
  () => `{__name__=~".+",project_id=~"${A}",project_id=~".+"}`,
  // Everything, grouped by anything.
  () => '{__name__=~".+"}',
  () => '{__name__=~".*",model_name=~".+"}',
  () => 'count({__name__=~".+"}) by (project_id)',
  () => 'count by (project_id, model_name, __name__) ({project_id=~".+"})',
  () => `sum without (project_id) (${REQ})`,
  () => 'group by (model_name) ({__name__=~".+"})',
  (t) => `group by (${t.L}) ({__name__=~".+"})`,
  () => 'count by (__name__) ({__name__=~".+"})',
  () => 'count({__name__=~".+"})',
  () => 'scalar(count({project_id=~".+"}))',
  () => 'count({project_id=~".+"}) > 2',
  () => 'count({__name__=~".+"} > 100000)',
  () => '{__name__=~".+"} == bool 987654',
  // Rewriting project_id.
  (t) => `label_replace({__name__=~".+"}, "project_id", "${t.P}", "project_id", ".*")`,
  (t) => `label_replace(${REQ}{project_id="${t.P}"}, "project_id", "${A}", "", "")`,
  (t) => `label_replace({project_id="${t.P}"}, "x", "$1", "model_name", "(.*)")`,
  () => 'label_join({__name__=~".+"}, "project_id", "", "model_name")',
  (t) => `label_replace(vector(1), "project_id", "${t.P}", "", "") * on(project_id) group_left ${REQ}`,
  // Set operators with the target's series.
  (t) => `${REQ} or ${REQ}{project_id="${t.P}"}`,
  (t) => `${REQ} or on() ${t.N}`,
  (t) => `${t.N} or {${t.L}=~".+"} or {model_name="${t.M}"}`,
  (t) => `${REQ} unless on() ${t.N}`,
  (t) => `${REQ} unless on(model_name) {project_id="${t.P}"}`,
  (t) => `${REQ} and on() {project_id="${t.P}"}`,
  () => `${REQ} and ignoring(project_id) {project_id=~".+"}`,
  (t) => `${REQ} + ignoring(project_id) ${REQ}{project_id="${t.P}"}`,
  (t) => `${REQ} * on(model_name) group_left(project_id) ${t.N}`,
  (t) => `vector(1) and on() count({project_id="${t.P}"}) > 0`,
  // absent and absent_over_time must answer the same whether the target has data or not.
  (t) => `absent(${REQ}{project_id="${t.P}"})`,
  (t) => `absent(${t.N})`,
  (t) => `absent(${t.N}{project_id="${t.P}",model_name="${t.M}"})`,
  (t) => `absent({${t.L}="${t.V}"})`,
  (t) => `absent(nonexistent{project_id="${t.P}"})`,
  (t) => `absent_over_time(${REQ}{project_id="${t.P}"}[1h])`,
  (t) => `absent_over_time(${t.N}[1d])`,
  (t) => `absent_over_time({model_name="${t.M}"}[1d])`,
  (t) => `absent_over_time(${REQ}{project_id="${t.P}"}[1h:1m])`,
  () => 'present_over_time({project_id=~".+"}[1h])',
  // count_values, topk and friends.
  () => 'count_values("v", {__name__=~".+"})',
  () => 'count_values("project_id", {project_id=~".+"})',
  () => 'count_values("model_name", count by (model_name) ({model_name=~".+"}))',
  () => 'topk(1000, {__name__=~".+"})',
  () => 'bottomk(1000, {project_id=~".+"})',
  () => 'topk by (project_id) (1, {__name__=~".+"})',
  () => 'limitk(1000, {__name__=~".+"})',
  () => 'quantile(0.5, {__name__=~".+"})',
  () => 'sort_desc(sum by (project_id, model_name) (rate({__name__=~".+"}[5m])))',
  // Subqueries, ranges, offset and @.
  () => 'max_over_time({__name__=~".+"}[1h:1m])',
  (t) => `max_over_time({project_id="${t.P}"}[2h:5m])`,
  (t) => `count_over_time(${t.N}[1d:1m])`,
  () => '{__name__=~".+"}[10m:1m]',
  () => '{__name__=~".+"}[10m]',
  () => 'rate({__name__=~".+"}[5m])',
  (t) => `increase({project_id="${t.P}"}[1h])`,
  (t) => `changes(${t.N}[1h])`,
  () => '{__name__=~".+"} offset 30m',
  () => '{__name__=~".+"} offset -30m',
  (t) => `{project_id="${t.P}"} offset 1h`,
  () => `{__name__=~".+"} @ ${T}`,
  () => '{__name__=~".+"} @ start()',
  () => '{__name__=~".+"} @ end() offset 10m',
  () => `{project_id=~".+"} @ ${T - 2000}`,
  () => 'timestamp({project_id=~".+"})',
  // Names: quoted (UTF-8) syntax, __name__ matchers, label names and values.
  (t) => `{"${t.N}"}`,
  () => '{"project_id"=~".+"}',
  (t) => `{"${t.L}"=~".+"}`,
  (t) => `{__name__="${t.N}"}`,
  (t) => `{__name__=~"${t.N}|${REQ}"}`,
  () => '{__name__=~".*_metric"}',
  () => '{model_name=~"secret.*"}',
  () => '{model_name=~".*-[a-z]"}',
  (t) => `{model_name="${t.M}"}`,
  (t) => `{${t.L}=~".+"}`,
  (t) => `{${t.L}="${t.V}"}`,
  () => `info(${REQ})`,
  () => 'histogram_quantile(0.9, sum by (le) (rate({__name__=~".+_bucket"}[5m])))',
  // Parse and execution errors must not differ either.
  (t) => `{project_id="${t.P}"`,
  (t) => `sum(${t.N}{model_name="${t.M}"}) by`,
  () => '{__name__=~".+"} + on(model_name) {__name__=~".+"}',
];

/** Series selectors aimed at a target, for match[]. */
export const ISOLATION_SELECTORS: ReadonlyArray<(t: Target) => string> = [
  () => '{project_id=~".+"}',
  (t) => `{project_id="${t.P}"}`,
  (t) => `{project_id=~"${t.P}|${A}"}`,
  () => `{project_id!="${A}"}`,
  () => '{__name__=~".+"}',
  () => `{__name__=~".+",project_id!="${A}"}`,
  () => `{__name__=~".+",project_id=""}`,
  (t) => t.N,
  (t) => `{"${t.N}"}`,
  (t) => `{${t.L}=~".+"}`,
  (t) => `{${t.L}="${t.V}"}`,
  (t) => `{model_name="${t.M}"}`,
  () => '{model_name=~"secret.*"}',
  (t) => `{project_id="${t.P}"`,
];

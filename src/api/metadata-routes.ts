/**
 * Look-ups of a project's series: /series, /labels, /label/<name>/values and /metadata, plus the
 * static /status/buildinfo, /rules and /alerts that clients probe. All reads go through the
 * project-scoped querier, so another project's names and values are never seen.
 */
import { familyOf } from "../catalog/metrics.js";
import type { LookupRequest, ReadScope } from "../modes/backend.js";
import type { ApiContext } from "./context.js";
import { encodeLabels, successBody } from "./encode.js";
import { ApiError } from "./errors.js";
import {
  limitParam,
  MAX_TIME_MS,
  MIN_TIME_MS,
  matchParams,
  type Params,
  param,
  timeParam,
} from "./params.js";
import type { Reply } from "./query-routes.js";

/** The Prometheus version whose API and PromQL this service follows (semver, for Grafana). */
export const COMPATIBLE_PROMETHEUS_VERSION = "3.5.0";

const TRUNCATED = "results truncated due to limit";

function timeRange(p: Params): { start: number; end: number } {
  const start = timeParam(p, "start", MIN_TIME_MS);
  const end = timeParam(p, "end", MAX_TIME_MS);
  if (end < start) throw ApiError.badData("end timestamp must not be before start time");
  return { start, end };
}

/** The effective cap: the request's limit, never above the service's series limit. */
function effectiveLimit(ctx: ApiContext, p: Params): number {
  const limit = limitParam(p);
  return limit > 0 ? Math.min(limit, ctx.limits.maxSeries) : ctx.limits.maxSeries;
}

function stringList(values: string[], limit: number): Reply {
  const warnings = values.length > limit ? [TRUNCATED] : [];
  return successBody({ data: JSON.stringify(values.slice(0, limit)), warnings });
}

function lookup(p: Params, signal?: AbortSignal): LookupRequest {
  const { start, end } = timeRange(p);
  return { start, end, match: p.get("match[]") ?? [], matchers: matchParams(p), signal };
}

export async function series(
  ctx: ApiContext,
  p: Params,
  scope: ReadScope,
  signal?: AbortSignal,
): Promise<Reply> {
  const limit = effectiveLimit(ctx, p);
  const req = lookup(p, signal);
  if (req.matchers.length === 0) throw ApiError.badData("no match[] parameter provided");
  const all = await ctx.backend.series(scope, req);
  const warnings = all.length > limit ? [TRUNCATED] : [];
  const data = `[${all.slice(0, limit).map(encodeLabels).join(",")}]`;
  return successBody({ data, warnings });
}

export async function labelNames(
  ctx: ApiContext,
  p: Params,
  scope: ReadScope,
  signal?: AbortSignal,
): Promise<Reply> {
  const limit = effectiveLimit(ctx, p);
  const names = await ctx.backend.labelNames(scope, lookup(p, signal));
  return stringList(names, limit);
}

/** Decodes Prometheus's `U__` escaping of label names in URL paths ("U__a_2e_b" → "a.b"). */
export function unescapeLabelName(name: string): string {
  if (!name.startsWith("U__")) return name;
  const s = name.slice(3);
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "_") {
      out += s[i];
      continue;
    }
    if (s[i + 1] === "_") {
      out += "_";
      i++;
      continue;
    }
    const close = s.indexOf("_", i + 1);
    const hex = close > i + 1 ? s.slice(i + 1, close) : "";
    const code = /^[0-9a-fA-F]{1,6}$/.test(hex) ? Number.parseInt(hex, 16) : Number.NaN;
    if (Number.isNaN(code) || code > 0x10ffff) return name;
    out += String.fromCodePoint(code);
    i = close;
  }
  return out;
}

export async function labelValues(
  ctx: ApiContext,
  p: Params,
  scope: ReadScope,
  rawName: string,
  signal?: AbortSignal,
): Promise<Reply> {
  const name = unescapeLabelName(rawName);
  if (name === "" || !name.isWellFormed())
    throw ApiError.badData(`invalid label name: ${JSON.stringify(name)}`);
  const limit = effectiveLimit(ctx, p);
  const values = await ctx.backend.labelValues(scope, name, lookup(p, signal));
  return stringList(values, limit);
}

/** Type, help and unit of the product's metric families the project has series of. */
export async function metadata(ctx: ApiContext, p: Params, scope: ReadScope): Promise<Reply> {
  const limit = Number(param(p, "limit") || "-1");
  const perMetric = Number(param(p, "limit_per_metric") || "-1");
  const only = param(p, "metric");
  if (!Number.isInteger(limit)) throw ApiError.invalidParam("limit", "limit must be a number");
  if (!Number.isInteger(perMetric))
    throw ApiError.invalidParam("limit_per_metric", "limit_per_metric must be a number");
  const names = await ctx.backend.labelValues(scope, "__name__", {
    start: MIN_TIME_MS,
    end: MAX_TIME_MS,
    match: [],
    matchers: [],
  });
  const out: Record<string, Array<{ type: string; help: string; unit: string }>> = {};
  let n = 0;
  for (const seriesName of names) {
    const f = familyOf(seriesName);
    if (!f || out[f.name] || (only !== "" && only !== f.name)) continue;
    if (limit >= 0 && n >= limit) break;
    out[f.name] = perMetric === 0 ? [] : [{ type: f.type, help: f.help, unit: f.unit }];
    n++;
  }
  return successBody({ data: JSON.stringify(out) });
}

/** What /api/v1/rules is given: every rule group and how the last evaluation of each rule went. */
export interface RulesView {
  groups: ReadonlyArray<{
    name: string;
    intervalMs: number;
    source: string;
    /** The product's own, generic groups: the only ones a tenant is shown. */
    builtin?: boolean;
    rules?: ReadonlyArray<{ record: string; expr: string; labels: Readonly<Record<string, string>> }>;
  }>;
  health: ReadonlyArray<{
    group: string;
    record: string;
    expr: string;
    labels: Readonly<Record<string, string>>;
    health: string;
    lastError?: string;
    lastEvaluation?: number;
    evaluationSeconds?: number;
  }>;
}

const RULE_ERROR_SHOWN = "evaluation failed; the service's log has the details";
/** The `file` every shown group has: the operator's paths are not the tenant's business. */
const SHOWN_FILE = "built-in";

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

/**
 * Prometheus's rules API shape, recording rules only (Grafana reads it to expand recorded names).
 *
 * It is served to every tenant, while the operator's rule files read across all projects: their
 * expressions, labels, record names and file paths may name other projects and their models, and
 * no static check can tell a rule that does from one that does not (a record name, a regex, a
 * label value can all carry one). So a tenant sees only the built-in groups, which are generic;
 * the operator's groups are left out entirely (the operator has the files and the log). Each
 * shown rule is taken from the group's own definition and paired with the health entry of the
 * same group, record, expression and labels, so an operator group that reuses a built-in group's
 * name cannot slip its rules into the view.
 */
export function rulesData(view: RulesView | undefined, p: Params): Reply {
  const type = param(p, "type");
  if (type !== "" && type !== "record" && type !== "alert") {
    throw ApiError.invalidParam("type", `not supported value ${JSON.stringify(type)}`);
  }
  const groups =
    type === "alert" || !view
      ? []
      : view.groups
          .filter((g) => g.builtin === true)
          .map((g) => {
            const rules = (g.rules ?? []).map((rule) => {
              const h = view.health.find(
                (h) =>
                  h.group === g.name &&
                  h.record === rule.record &&
                  h.expr === rule.expr &&
                  sameLabels(h.labels, rule.labels),
              );
              return {
                name: rule.record,
                query: rule.expr,
                labels: rule.labels,
                health: h?.health ?? "unknown",
                // A rule reads every project's series, so its error text (a duplicate label set,
                // an engine's message) may name another project's: only the operator's log has it.
                ...(h?.lastError ? { lastError: RULE_ERROR_SHOWN } : {}),
                evaluationTime: h?.evaluationSeconds ?? 0,
                lastEvaluation: new Date(h?.lastEvaluation ?? 0).toISOString(),
                type: "recording",
              };
            });
            const last = Math.max(0, ...rules.map((r) => Date.parse(r.lastEvaluation)));
            return {
              name: g.name,
              file: SHOWN_FILE,
              interval: g.intervalMs / 1000,
              limit: 0,
              rules,
              evaluationTime: rules.reduce((a, r) => a + r.evaluationTime, 0),
              lastEvaluation: new Date(last).toISOString(),
            };
          });
  return successBody({ data: JSON.stringify({ groups }) });
}

export function buildInfo(): Reply {
  return successBody({
    data: JSON.stringify({
      version: COMPATIBLE_PROMETHEUS_VERSION,
      revision: "managed-inference-metrics",
      branch: "main",
      buildUser: "managed-inference-metrics",
      buildDate: "",
      goVersion: `node${process.versions.node}`,
    }),
  });
}

/**
 * The query endpoints of a project: /api/v1/query, /api/v1/query_range, the base path (the
 * product page's curl shape), /api/v1/format_query and /api/v1/query_exemplars. Parameters are
 * checked in the order Prometheus checks them, so the first error reported is the same.
 */
import type { Release } from "../exec/admission.js";
import { type ReadScope, scopeName } from "../modes/backend.js";
import { ParseError, QueryTimeoutError } from "../promql/errors.js";
import { parseExpr } from "../promql/parser/index.js";
import { formatExpr } from "../promql/printer.js";
import type { QueryResult, QueryValue } from "../promql/value.js";
import type { ApiContext } from "./context.js";
import { encodeQueryData, successBody } from "./encode.js";
import { ApiError } from "./errors.js";
import { durationParam, limitParam, type Params, param, timeParam } from "./params.js";

/** What a route answers on success: the pre-encoded envelope. */
export type Reply = string;

const MAX_ANNOTATIONS = 10;

function capAnnotations(list: readonly string[], kind: string): string[] {
  if (list.length <= MAX_ANNOTATIONS) return [...list];
  return [
    ...list.slice(0, MAX_ANNOTATIONS),
    `${list.length - MAX_ANNOTATIONS} more ${kind} annotations omitted`,
  ];
}

interface QueryTimes {
  kind: "instant" | "range";
  start: number;
  end: number;
  step: number;
}

function commonOptions(p: Params) {
  const timeout = durationParam(p, "timeout");
  const lookback = durationParam(p, "lookback_delta");
  if (lookback !== undefined && lookback < 0) {
    throw ApiError.invalidParam("lookback_delta", "lookback delta must be positive");
  }
  return {
    timeoutMs: timeout !== undefined && timeout > 0 ? timeout : undefined,
    lookbackDeltaMs: lookback !== undefined && lookback > 0 ? Math.trunc(lookback) : undefined,
  };
}

function instantTimes(ctx: ApiContext, p: Params): QueryTimes {
  const t = timeParam(p, "time", ctx.now());
  return { kind: "instant", start: t, end: t, step: 0 };
}

function rangeTimes(ctx: ApiContext, p: Params): QueryTimes {
  for (const name of ["start", "end", "step"]) {
    if (param(p, name) === "")
      throw ApiError.invalidParam(
        name,
        `cannot parse "" to a valid ${name === "step" ? "duration" : "timestamp"}`,
      );
  }
  const start = timeParam(p, "start", 0);
  const end = timeParam(p, "end", 0);
  if (end < start) throw ApiError.badData("end timestamp must not be before start time");
  const step = durationParam(p, "step") ?? 0;
  const stepMs = Math.trunc(step);
  if (!(step > 0) || stepMs <= 0) {
    throw ApiError.badData(
      "zero or negative query resolution step widths are not accepted. Try a positive integer",
    );
  }
  if (Math.floor((end - start) / step) > ctx.limits.maxPointsPerSeries) {
    throw ApiError.badData(
      `exceeded maximum resolution of ${ctx.limits.maxPointsPerSeries.toLocaleString("en-US")} points per timeseries. Try decreasing the query resolution (?step=XX)`,
    );
  }
  return { kind: "range", start, end, step: stepMs };
}

function seriesCount(v: QueryValue): number {
  return v.type === "vector" ? v.samples.length : v.type === "matrix" ? v.series.length : 0;
}

function truncate(v: QueryValue, limit: number): QueryValue {
  if (v.type === "vector") return { type: "vector", samples: v.samples.slice(0, limit) };
  if (v.type === "matrix") return { type: "matrix", series: v.series.slice(0, limit) };
  return v;
}

async function runQuery(
  ctx: ApiContext,
  p: Params,
  scope: ReadScope,
  times: QueryTimes,
  signal: AbortSignal,
): Promise<Reply> {
  const arrived = Date.now();
  const opts = commonOptions(p);
  const query = param(p, "query");
  // The timeout covers the whole answer: waiting for admission, evaluation and encoding.
  const deadline = arrived + Math.min(opts.timeoutMs ?? ctx.limits.queryTimeoutMs, ctx.limits.queryTimeoutMs);
  const stopTimer = ctx.metrics.queryDuration.startTimer({ kind: times.kind });
  let result: QueryResult;
  let release: Release | undefined;
  try {
    // Each project waits in its own queue, the operator in one of its own.
    release = await ctx.admission.acquire(scopeName(scope), deadline, signal);
    ctx.metrics.activeQueries.inc();
    result = await ctx.backend.query(scope, { query, ...times, ...opts, deadline, signal });
  } finally {
    if (release) {
      release();
      ctx.metrics.activeQueries.dec();
    }
    stopTimer();
  }
  if (Date.now() > deadline) throw new QueryTimeoutError("query timed out in result encoding");
  ctx.metrics.querySamples.inc(result.samplesRead);
  const warnings = capAnnotations(result.warnings, "warning");
  let value = result.value;
  const limit = limitParam(p);
  if (limit > 0 && seriesCount(value) > limit) {
    value = truncate(value, limit);
    warnings.push("results truncated due to limit");
  }
  const n = seriesCount(value);
  if (n > ctx.limits.maxSeries) {
    throw new ApiError(
      "execution",
      `query returned ${n} series, more than the limit of ${ctx.limits.maxSeries}; narrow it with label matchers, aggregate it, or pass limit=`,
    );
  }
  return successBody({
    data: encodeQueryData(value),
    warnings,
    infos: capAnnotations(result.infos, "info"),
  });
}

/** `signal` aborts when the client has gone (never, for callers that do not care). */
const NEVER = new AbortController().signal;

export function instantQuery(ctx: ApiContext, p: Params, scope: ReadScope, signal = NEVER): Promise<Reply> {
  limitParam(p);
  return runQuery(ctx, p, scope, instantTimes(ctx, p), signal);
}

export function rangeQuery(ctx: ApiContext, p: Params, scope: ReadScope, signal = NEVER): Promise<Reply> {
  limitParam(p);
  return runQuery(ctx, p, scope, rangeTimes(ctx, p), signal);
}

/** The base path: a range query when any of start, end or step is given, else an instant one. */
export function baseQuery(ctx: ApiContext, p: Params, scope: ReadScope, signal = NEVER): Promise<Reply> {
  const isRange = ["start", "end", "step"].some((n) => param(p, n) !== "");
  return isRange ? rangeQuery(ctx, p, scope, signal) : instantQuery(ctx, p, scope, signal);
}

function parseQueryParam(p: Params) {
  try {
    return parseExpr(param(p, "query"));
  } catch (err) {
    if (err instanceof ParseError) throw ApiError.invalidParam("query", err.toString());
    throw err;
  }
}

export function formatQuery(p: Params): Reply {
  return successBody({ data: JSON.stringify(formatExpr(parseQueryParam(p))) });
}

/** No exemplars are stored; the query and times are still checked, so a bad request is an error. */
export function queryExemplars(ctx: ApiContext, p: Params): Reply {
  const start = timeParam(p, "start", ctx.now() - 3_600_000);
  const end = timeParam(p, "end", ctx.now());
  if (end < start) throw ApiError.badData("end timestamp must not be before start time");
  parseQueryParam(p);
  return successBody({ data: "[]" });
}

/**
 * Remote storage mode's reads: every query and look-up goes to the engine's Prometheus API, after
 * its selectors have been rewritten to carry the caller's project (src/remote/enforce.ts) — the
 * engine never sees text we did not print. In tenant-per-project mode the project is also the
 * engine's tenant (a header or a path segment), which isolates a second time.
 *
 * What we send is what every Prometheus-compatible engine understands: times as float seconds,
 * durations as float seconds, POST forms for queries (they can be long), repeated `match[]`. Every
 * call also carries `extra_label=project_id=<project>`, VictoriaMetrics's own label enforcement
 * (vmselect adds it to every selector), as a second lock there; other engines ignore it.
 */

import type { QueryResult, QueryValue } from "../promql/value.js";
import { enforceMatchers, enforceProject } from "../remote/enforce.js";
import { type EngineClient, EngineError } from "../remote/read/client.js";
import { decodeQueryData, decodeSeriesList, decodeStringList } from "../remote/read/decode.js";
import { type Labels, MAX_TIME_MS, PROJECT_LABEL } from "../storage/index.js";
import {
  type LookupRequest,
  OPERATOR,
  type QueryBackend,
  type QueryRequest,
  type ReadScope,
} from "./backend.js";

const seconds = (ms: number) => String(ms / 1000);
const EARLIEST_START_MS = 1_000;

export class RemoteBackend implements QueryBackend {
  constructor(
    private readonly client: EngineClient,
    /** The service's query timeout, sent to the engine when the request gives none. */
    private readonly queryTimeoutMs: number,
  ) {}

  /**
   * A rule's instant query: rules read across projects, so it runs against the engine as the
   * service itself, unscoped (never reachable from a tenant's request).
   */
  async ruleQuery(expr: string, t: number, signal: AbortSignal): Promise<QueryValue> {
    const params = new URLSearchParams({ query: expr, time: seconds(t) });
    return decodeQueryData((await this.client.call("/api/v1/query", params, { post: true, signal })).data);
  }

  /**
   * What a scope makes of a call: a project's rewritten text and `match[]`, `extra_label` and
   * tenant; the operator's are sent as written, as the service itself (which a tenant-per-project
   * engine cannot answer across tenants).
   */
  private scoped(scope: ReadScope): {
    params: URLSearchParams;
    tenant: string | undefined;
    query: (text: string) => string;
    match: (selectors: readonly string[]) => readonly string[];
  } {
    if (scope === OPERATOR) {
      if (this.client.perTenant)
        throw new EngineError(
          "bad_data",
          "the operator path reads across projects, which a tenant-per-project engine cannot answer; query a project's own API instead",
        );
      return { params: new URLSearchParams(), tenant: undefined, query: (q) => q, match: (m) => m };
    }
    return {
      params: new URLSearchParams({ extra_label: `${PROJECT_LABEL}=${scope}` }),
      tenant: scope,
      query: (q) => enforceProject(q, scope),
      match: (m) => enforceMatchers(m, scope),
    };
  }

  async query(scope: ReadScope, req: QueryRequest): Promise<QueryResult> {
    const { params, tenant, query } = this.scoped(scope);
    params.set("query", query(req.query));
    if (req.kind === "instant") params.set("time", seconds(req.start));
    else {
      params.set("start", seconds(req.start));
      params.set("end", seconds(req.end));
      params.set("step", seconds(req.step));
    }
    // What is left of the request's time after it waited for admission.
    const timeoutMs = Math.max(
      1,
      Math.min(req.timeoutMs ?? this.queryTimeoutMs, this.queryTimeoutMs, req.deadline - Date.now()),
    );
    params.set("timeout", seconds(timeoutMs));
    if (req.lookbackDeltaMs !== undefined) {
      // Prometheus 3's name, and VictoriaMetrics's; older engines use their own setting.
      params.set("lookback_delta", seconds(req.lookbackDeltaMs));
      params.set("max_lookback", seconds(req.lookbackDeltaMs));
    }
    const path = req.kind === "instant" ? "/api/v1/query" : "/api/v1/query_range";
    // A little longer than the engine's own deadline, so its timeout error is what we pass on,
    // but short enough that no answer comes more than a second after the request's timeout.
    const answer = await this.client.call(path, params, {
      post: true,
      tenant,
      signal: req.signal,
      timeoutMs: timeoutMs + 750,
    });
    return {
      value: decodeQueryData(answer.data),
      warnings: answer.warnings,
      infos: answer.infos,
      // Engines report it only on request (stats=all), and not alike; the page does not need it.
      samplesRead: 0,
    };
  }

  series(scope: ReadScope, req: LookupRequest): Promise<Labels[]> {
    return this.lookup(scope, "/api/v1/series", req, true, decodeSeriesList);
  }

  labelNames(scope: ReadScope, req: LookupRequest): Promise<string[]> {
    return this.lookup(scope, "/api/v1/labels", req, true, decodeStringList);
  }

  labelValues(scope: ReadScope, name: string, req: LookupRequest): Promise<string[]> {
    // VictoriaMetrics and Prometheus 3 read a name such as "svc.name" as is, and neither 2.x nor
    // VictoriaMetrics knows the U__ escaping. So it is used only where the plain name could not
    // stay one path segment after the engine's router decodes and cleans it ("/", "..", "?", …)
    // or would be unescaped by Prometheus 3 (a name starting with U__).
    const plain = /^[A-Za-z0-9_.:-]+$/.test(name) && name !== "." && name !== ".." && !name.startsWith("U__");
    const path = `/api/v1/label/${plain ? name : escapeLabelName(name)}/values`;
    // Prometheus serves label values to GET only.
    return this.lookup(scope, path, req, false, decodeStringList);
  }

  /** A look-up with the scope's `match[]`, time range and `extra_label`, decoded. */
  private async lookup<T>(
    scope: ReadScope,
    path: string,
    req: LookupRequest,
    post: boolean,
    decode: (data: unknown) => T,
  ): Promise<T> {
    const { params, tenant, match } = this.scoped(scope);
    for (const m of match(req.match)) params.append("match[]", m);
    // Engines differ on the defaults (VictoriaMetrics: the last day); ours is all time. VM also
    // reads start=0 as "not given", so the earliest start sent is 1970-01-01T00:00:01Z.
    params.set("start", seconds(Math.max(req.start, EARLIEST_START_MS)));
    if (req.end !== MAX_TIME_MS) params.set("end", seconds(req.end));
    const answer = await this.client.call(path, params, { post, tenant, signal: req.signal });
    return decode(answer.data);
  }
}

/** Prometheus 3's `U__` escaping of a label name in a URL path. */
function escapeLabelName(name: string): string {
  let out = "U__";
  for (const ch of name) {
    if (/[a-zA-Z0-9]/.test(ch)) out += ch;
    else if (ch === "_") out += "__";
    else out += `_${ch.codePointAt(0)?.toString(16)}_`;
  }
  return out;
}

/**
 * The mock model server's bookkeeping: what each request was and how it ended, summed per model,
 * so tests can check a load generator's or a gateway's counts against what was really served.
 */
import type { CompletionRequest } from "./openai.js";

export interface SimRequestInfo extends CompletionRequest {
  /** Arrival order, from 0, over all models of this server. */
  index: number;
  /** Content tokens the request will produce if nothing goes wrong. */
  completionTokens: number;
}

export type Outcome = "ok" | "error" | "cut" | "stalled" | "client_closed";

/** One request as served, for tests that compare what a gateway measured with what was drawn. */
export interface ServedRequest extends SimRequestInfo {
  outcome: Outcome;
  status: number;
  /** Content tokens actually written. */
  tokensSent: number;
  /** Drawn latencies (seconds). */
  ttft: number;
  tpot: number;
  /** As written to the socket (seconds); undefined when no content token went out. */
  measuredTtft: number | undefined;
  measuredTpot: number | undefined;
}

export interface ModelStats {
  /** Requests for this model that passed validation. */
  requests: number;
  ok: number;
  /** Injected error statuses. */
  errors: number;
  cut: number;
  stalled: number;
  clientClosed: number;
  /** Usage of the ok responses only. */
  promptTokens: number;
  completionTokens: number;
}

export interface ModelServerStats {
  total: ModelStats;
  byModel: Record<string, ModelStats>;
  /** 400s and 404s (bad bodies, unknown models or paths); not attributed to a model. */
  rejected: number;
}

function emptyStats(): ModelStats {
  return {
    requests: 0,
    ok: 0,
    errors: 0,
    cut: 0,
    stalled: 0,
    clientClosed: 0,
    promptTokens: 0,
    completionTokens: 0,
  };
}

export class ServerBook {
  rejected = 0;
  private readonly total = emptyStats();
  private readonly byModel: Record<string, ModelStats>;
  private log: ServedRequest[] = [];

  /** @param logLimit how many of the most recent requests requestLog() keeps. */
  constructor(
    models: readonly string[],
    private readonly logLimit: number,
  ) {
    this.byModel = Object.fromEntries(models.map((n) => [n, emptyStats()]));
  }

  /** A valid request for a served model came in. */
  accepted(model: string): void {
    this.byModel[model].requests++;
    this.total.requests++;
  }

  /** It ended. */
  record(r: ServedRequest): void {
    for (const s of [this.total, this.byModel[r.model]]) {
      if (r.outcome === "ok") {
        s.ok++;
        s.promptTokens += r.promptTokens;
        s.completionTokens += r.tokensSent;
      } else if (r.outcome === "error") s.errors++;
      else if (r.outcome === "cut") s.cut++;
      else if (r.outcome === "stalled") s.stalled++;
      else s.clientClosed++;
    }
    this.log.push(r);
    // Trimmed in batches, not per request, to keep recording O(1) amortized.
    if (this.log.length > this.logLimit * 2) this.log = this.log.slice(-this.logLimit);
  }

  stats(): ModelServerStats {
    return {
      total: { ...this.total },
      byModel: Object.fromEntries(Object.entries(this.byModel).map(([k, v]) => [k, { ...v }])),
      rejected: this.rejected,
    };
  }

  requestLog(): readonly ServedRequest[] {
    return this.log.slice(-this.logLimit);
  }
}

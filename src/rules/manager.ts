/**
 * Evaluates recording rules on a schedule, as Prometheus's rules manager does: each group every
 * `interval`, aligned to multiples of it ("on the minute" for 60 s), its rules in order, each
 * result written under the rule's name at the evaluation time. Series a rule produced last time
 * and not this time get a staleness marker, so queries stop seeing them at once.
 *
 * With several replicas the rules must run once: the schedule evaluates a group only while this
 * replica holds the leader lease with at least `leaderBudgetMs` left, and a rule's results are
 * committed only if the lease is still held at that moment (else they are rolled back).
 */

import type { Engine } from "../promql/engine.js";
import type { QueryValue } from "../promql/value.js";
import {
  type Appendable,
  type Labels,
  labelsKey,
  normalizeLabels,
  type Queryable,
  StaleNaN,
} from "../storage/index.js";
import { type Leadership, SOLE_LEADER } from "./leadership.js";
import type { RecordingRule, RuleGroup } from "./rule-file.js";

export interface RuleHealth {
  group: string;
  record: string;
  labels: Readonly<Record<string, string>>;
  expr: string;
  health: "unknown" | "ok" | "err";
  lastError?: string;
  /** ms since epoch of the last evaluation. */
  lastEvaluation?: number;
  /** Seconds the last evaluation took. */
  evaluationSeconds?: number;
  /** Series written by the last evaluation. */
  samples: number;
}

/**
 * Evaluates a rule's expression at t (ms): our engine over the embedded store, or a remote engine.
 * `signal` aborts when the manager stops.
 */
export type RuleQuery = (expr: string, t: number, signal: AbortSignal) => QueryValue | Promise<QueryValue>;

/** Rules evaluated by our engine over `storage`, which also receives their results. */
export function localRules(
  engine: Engine,
  storage: Queryable & Appendable,
): Pick<RuleManagerOptions, "query" | "appendable"> {
  return { query: (expr, t) => engine.instantQuery(storage, expr, t).value, appendable: storage };
}

export interface RuleManagerOptions {
  groups: readonly RuleGroup[];
  query: RuleQuery;
  /** Where results are written. */
  appendable: Appendable;
  now?: () => number;
  log?: (fields: Record<string, unknown>, message: string) => void;
  /** Who may evaluate: the rules lease across replicas (default: this node alone, always). */
  leadership?: Leadership;
  /** Least lease time (ms) left for a scheduled evaluation to start (default 5 s). */
  leaderBudgetMs?: number;
}

/** Default least lease time left for a scheduled evaluation to start. */
export const DEFAULT_LEADER_BUDGET_MS = 5_000;

interface RuleState {
  rule: RecordingRule;
  group: string;
  health: RuleHealth;
  /** Series written last time, by labels key, to mark the ones that vanish. */
  previous: Map<string, Labels>;
}

export class RuleManager {
  private readonly states: RuleState[][];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly lastScheduled: number[] = [];
  private readonly now: () => number;
  private readonly leadership: Leadership;
  private readonly leaderBudgetMs: number;
  private running = false;
  /** The scheduled evaluation of each group in flight, if any: awaited by stop(). */
  private readonly inFlight: Array<Promise<void> | null> = [];
  /** Scheduled evaluations skipped because the group's previous one had not finished. */
  private readonly missed: number[] = [];
  private stopper = new AbortController();

  constructor(private readonly o: RuleManagerOptions) {
    this.now = o.now ?? Date.now;
    this.leadership = o.leadership ?? SOLE_LEADER;
    this.leaderBudgetMs = o.leaderBudgetMs ?? DEFAULT_LEADER_BUDGET_MS;
    this.states = o.groups.map((g) =>
      g.rules.map((rule) => ({
        rule,
        group: g.name,
        previous: new Map(),
        health: {
          group: g.name,
          record: rule.record,
          labels: rule.labels,
          expr: rule.expr,
          health: "unknown",
          samples: 0,
        },
      })),
    );
  }

  get groups(): readonly RuleGroup[] {
    return this.o.groups;
  }

  /** Starts the schedule: the first evaluation of each group at the next multiple of its interval. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopper = new AbortController();
    for (const [i, g] of this.o.groups.entries()) this.schedule(g, i);
  }

  private schedule(g: RuleGroup, index: number): void {
    if (!this.running) return;
    const now = this.now();
    // A timer may fire a hair early by the wall clock: never evaluate the same time twice.
    const aligned = Math.floor(now / g.intervalMs) * g.intervalMs + g.intervalMs;
    const next = Math.max(aligned, (this.lastScheduled[index] ?? Number.NEGATIVE_INFINITY) + g.intervalMs);
    this.lastScheduled[index] = next;
    const timer = setTimeout(
      () => {
        this.schedule(g, index);
        // Another replica evaluates while this one does not hold the lease long enough.
        if (!this.running || this.leadership.remainingMs() < this.leaderBudgetMs) return;
        if (this.inFlight[index]) {
          // As Prometheus does, a group still evaluating skips this time rather than queueing it:
          // a slow engine must not build a backlog that runs long after it recovers.
          this.missed[index] = (this.missed[index] ?? 0) + 1;
          this.o.log?.(
            { group: g.name, at: next, missed: this.missed[index] },
            "rule group evaluation skipped: the previous one is still running",
          );
          return;
        }
        const run = this.evaluateGroup(index, next).finally(() => {
          this.inFlight[index] = null;
        });
        this.inFlight[index] = run;
      },
      Math.max(0, next - now),
    );
    timer.unref();
    this.timers[index] = timer;
  }

  /** Evaluates one group at time t (ms), its rules in order. Public so tests can evaluate at will. */
  async evaluateGroup(index: number, t: number): Promise<void> {
    for (const state of this.states[index]) {
      if (this.stopper.signal.aborted) return;
      await this.evaluateRule(state, t);
    }
  }

  /** Evaluates every group at t. */
  async evaluateAll(t: number): Promise<void> {
    for (let i = 0; i < this.states.length; i++) await this.evaluateGroup(i, t);
  }

  private async evaluateRule(state: RuleState, t: number): Promise<void> {
    const started = performance.now();
    const { rule } = state;
    let notLeader = false;
    try {
      const v = await this.o.query(rule.expr, t, this.stopper.signal);
      if (this.stopper.signal.aborted) return;
      const app = this.o.appendable.appender();
      const seen = new Map<string, Labels>();
      try {
        const write = (metric: Labels, v: number) => {
          const labels = this.outputLabels(rule, metric);
          const key = labelsKey(labels);
          if (seen.has(key)) {
            throw new Error(
              `vector contains metrics with the same labelset after applying rule labels: ${key}`,
            );
          }
          seen.set(key, labels);
          app.append(0, labels, t, v);
        };
        if (v.type === "vector") for (const s of v.samples) write(s.metric, s.v);
        else if (v.type === "scalar") write([], v.v);
        else throw new Error(`rule expression returned a ${v.type}, not an instant vector or scalar`);
        for (const [key, labels] of state.previous) {
          if (!seen.has(key)) app.append(0, labels, t, StaleNaN);
        }
        if (!this.leadership.isLeader()) {
          // The lease ran out during the evaluation: another replica may evaluate t; write nothing.
          notLeader = true;
          app.rollback();
          return;
        }
        app.commit();
      } catch (err) {
        app.rollback();
        throw err;
      }
      state.previous = seen;
      Object.assign(state.health, {
        health: "ok",
        lastError: undefined,
        samples: seen.size,
      });
    } catch (err) {
      if (this.stopper.signal.aborted) return;
      const message = (err as Error).message;
      Object.assign(state.health, { health: "err", lastError: message, samples: 0 });
      this.o.log?.({ group: state.group, record: rule.record, err: message }, "recording rule failed");
    } finally {
      if (!notLeader) {
        state.health.lastEvaluation = t;
        state.health.evaluationSeconds = (performance.now() - started) / 1000;
      }
    }
  }

  private outputLabels(rule: RecordingRule, metric: Labels): Labels {
    const out = new Map<string, string>();
    for (const l of metric) out.set(l.name, l.value);
    for (const [k, v] of Object.entries(rule.labels)) out.set(k, v);
    out.set("__name__", rule.record);
    return normalizeLabels([...out].map(([name, value]) => ({ name, value })));
  }

  health(): RuleHealth[] {
    return this.states.flat().map((s) => ({ ...s.health }));
  }

  /** Stops the schedule and aborts evaluations in flight (their results are not written). */
  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    this.stopper.abort();
    await Promise.all(this.inFlight.filter((p) => p !== null));
  }
}

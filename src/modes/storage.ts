/**
 * The one seam between the application and where its data lives. A storage mode (embedded:
 * our store and query workers; remote: a remote-write queue and a Prometheus-compatible engine)
 * is opened once, by open.ts, into one object that answers everything the rest of the service
 * needs: where samples are appended, how a project's queries and look-ups are answered, how the
 * rules query, the token stores, who leads the rules, what /metrics shows of it, and close. The
 * API, the rules, the gateway and the scraper take what they need of it and never ask the mode.
 */
import type { TokenStore } from "../auth/token-store.js";
import type { SelfMetrics } from "../metrics/self-metrics.js";
import type { Leadership } from "../rules/leadership.js";
import type { RuleQuery } from "../rules/manager.js";
import type { Appendable } from "../storage/index.js";
import type { QueryBackend } from "./backend.js";

/** How many queries may run at once when the operator sets no limit: in all, and per project. */
export interface QuerySlots {
  total: number;
  perProject: number;
}

/** The samples' side of a mode: where they are written and how they are read. */
export interface SampleStorage {
  /** For logs and the start-up banner only: nothing may behave differently on it. */
  readonly mode: "embedded" | "remote";
  /** Where every producer writes: remote-write, the gateway, the scraper, the rules. */
  readonly appendable: Appendable;
  /** A project's queries and look-ups, isolated to that project. */
  readonly queries: QueryBackend;
  /** The rules' instant queries: across projects, never reachable from a tenant's request. */
  readonly ruleQuery: RuleQuery;
  readonly querySlots: QuerySlots;
  /** Registers the mode's own gauges and totals on /metrics (query workers, or the forwarding queue). */
  watch(metrics: SelfMetrics): void;
  close(): Promise<void>;
}

/** A whole storage mode: samples, tokens and the rules' leadership. */
export interface ServiceStorage extends SampleStorage {
  readonly tokens: TokenStore;
  readonly ingestTokens: TokenStore;
  readonly rulesLeadership: Leadership;
  /** Starts what runs in the background (the rules lease); resolves after its first attempt. */
  start(): Promise<void>;
}

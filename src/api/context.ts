/** What the route modules share: the query backend, auth, limits and the service's own metrics. */

import { RateLimiter } from "../auth/rate-limit.js";
import type { TokenStore } from "../auth/token-store.js";
import type { FairAdmission } from "../exec/admission.js";
import { DEFAULT_INGEST_LIMITS } from "../ingest/limits.js";
import type { SelfMetrics } from "../metrics/self-metrics.js";
import type { QueryBackend } from "../modes/backend.js";

export interface ApiLimits {
  /** Longest a query may run, in ms; a request's `timeout` can only shorten it. */
  queryTimeoutMs: number;
  /** Most samples a query may hold in memory at once. */
  maxSamples: number;
  /** Most points per series a range query may ask for. */
  maxPointsPerSeries: number;
  /** Most series a query, /series or a look-up may return. */
  maxSeries: number;
  /** Largest request body, in bytes. */
  maxBodyBytes: number;
  /** Sustained requests per second per token (0 = unlimited), and the burst above it. */
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /**
   * Sustained requests per second per project, whatever token they carry (0 = unlimited), and the
   * burst above it: a project cannot multiply its rate by minting more tokens.
   */
  projectRateLimitPerSecond: number;
  projectRateLimitBurst: number;
  /**
   * Failed authentications (an unknown token, a wrong admin key, a malformed Authorization header)
   * per minute per client address (0 = unlimited), and the burst above it. Past it, every request
   * from that address needing credentials gets 429, a correct token too, until the bucket refills.
   */
  authFailuresPerMinute: number;
  authFailureBurst: number;
  /** Monitoring tokens a project's own monitoring tokens may create per minute (0 = unlimited), and the burst. */
  tokenCreatesPerMinute: number;
  tokenCreateBurst: number;
  /** Most live (not revoked, not expired) tokens per project and kind, the admin key included (0 = no cap). */
  maxTokensPerProject: number;
  /** Remote-write: largest compressed body, largest decompressed body, samples/s per ingest token (0 = no limit). */
  remoteWriteMaxBodyBytes: number;
  remoteWriteMaxDecompressedBytes: number;
  remoteWriteSamplesPerSecond: number;
  /** What a tenant's remote-written series and samples are held to (src/ingest/limits.ts; 0 = no bound). */
  ingestMaxFutureMs: number;
  ingestMaxLabelNameLength: number;
  ingestMaxLabelValueLength: number;
  ingestMaxLabelsPerSeries: number;
  ingestMaxSeriesPerProject: number;
  /** Queries running at once over all projects (0: the query workers, or 16 with a remote engine). */
  queryConcurrency: number;
  /** Queries of one project running at once (0: one less than the workers, at least 1; 4 remote). */
  queryConcurrencyPerProject: number;
  /** Queries of one project waiting for admission; beyond it, 429. */
  queryQueuePerProject: number;
}

export const DEFAULT_LIMITS: ApiLimits = {
  queryTimeoutMs: 2 * 60_000,
  maxSamples: 50_000_000,
  maxPointsPerSeries: 11_000,
  maxSeries: 100_000,
  maxBodyBytes: 1 << 20,
  rateLimitPerSecond: 50,
  rateLimitBurst: 100,
  projectRateLimitPerSecond: 100,
  projectRateLimitBurst: 200,
  authFailuresPerMinute: 10,
  authFailureBurst: 20,
  tokenCreatesPerMinute: 10,
  tokenCreateBurst: 10,
  maxTokensPerProject: 100,
  remoteWriteMaxBodyBytes: 16 << 20,
  remoteWriteMaxDecompressedBytes: 64 << 20,
  remoteWriteSamplesPerSecond: 2_000_000,
  ingestMaxFutureMs: DEFAULT_INGEST_LIMITS.maxFutureMs,
  ingestMaxLabelNameLength: DEFAULT_INGEST_LIMITS.maxLabelNameLength,
  ingestMaxLabelValueLength: DEFAULT_INGEST_LIMITS.maxLabelValueLength,
  ingestMaxLabelsPerSeries: DEFAULT_INGEST_LIMITS.maxLabelsPerSeries,
  ingestMaxSeriesPerProject: DEFAULT_INGEST_LIMITS.maxSeriesPerProject,
  queryConcurrency: 0,
  queryConcurrencyPerProject: 0,
  queryQueuePerProject: 64,
};

export interface ApiContext {
  /** Answers queries and look-ups: the embedded store or a remote engine. */
  backend: QueryBackend;
  /** Which queries may run now: per-project concurrency and a fair queue across projects. */
  admission: FairAdmission;
  /** Monitoring tokens (read a project's metrics). */
  tokens: TokenStore;
  /** Ingest tokens (remote-write). */
  ingestTokens: TokenStore;
  adminKey: string;
  /** Per token. */
  rateLimiter: RateLimiter;
  /** The limits keyed by something other than the token (absent: built from `limits` on first use). */
  limiters?: ApiLimiters;
  limits: ApiLimits;
  metrics: SelfMetrics;
  /** Whether the store has finished opening (for /-/ready). */
  ready: () => boolean;
  now: () => number;
}

/** The buckets of the limits that a caller cannot escape by using another token. */
export interface ApiLimiters {
  /** Requests per project. */
  project: RateLimiter;
  /** Failed authentications per client address. */
  authFailures: RateLimiter;
  /** Monitoring tokens created by monitoring tokens, per project. */
  tokenCreates: RateLimiter;
}

export function newApiLimiters(limits: ApiLimits, now: () => number): ApiLimiters {
  return {
    project: new RateLimiter(
      { ratePerSecond: limits.projectRateLimitPerSecond, burst: limits.projectRateLimitBurst },
      now,
    ),
    authFailures: new RateLimiter(
      { ratePerSecond: limits.authFailuresPerMinute / 60, burst: limits.authFailureBurst },
      now,
    ),
    tokenCreates: new RateLimiter(
      { ratePerSecond: limits.tokenCreatesPerMinute / 60, burst: limits.tokenCreateBurst },
      now,
    ),
  };
}

/** The context's limiters, made once per context when the server did not make them. */
export function limitersOf(ctx: ApiContext): ApiLimiters {
  ctx.limiters ??= newApiLimiters(ctx.limits, ctx.now);
  return ctx.limiters;
}

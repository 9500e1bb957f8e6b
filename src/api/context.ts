/** What the route modules share: the query backend, auth, limits and the service's own metrics. */

import type { TokenRepository } from "../auth/pg/repository.js";
import type { RateLimiter } from "../auth/rate-limit.js";
import type { QueryBackend } from "./backend.js";
import type { SelfMetrics } from "./self-metrics.js";

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
  /** Remote-write: largest compressed body, largest decompressed body, samples/s per ingest token (0 = no limit). */
  remoteWriteMaxBodyBytes: number;
  remoteWriteMaxDecompressedBytes: number;
  remoteWriteSamplesPerSecond: number;
}

export const DEFAULT_LIMITS: ApiLimits = {
  queryTimeoutMs: 2 * 60_000,
  maxSamples: 50_000_000,
  maxPointsPerSeries: 11_000,
  maxSeries: 100_000,
  maxBodyBytes: 1 << 20,
  rateLimitPerSecond: 50,
  rateLimitBurst: 100,
  remoteWriteMaxBodyBytes: 16 << 20,
  remoteWriteMaxDecompressedBytes: 64 << 20,
  remoteWriteSamplesPerSecond: 2_000_000,
};

export interface ApiContext {
  /** Answers queries and look-ups: the embedded store or a remote engine. */
  backend: QueryBackend;
  /** Monitoring tokens (read a project's metrics). */
  tokens: TokenRepository;
  /** Ingest tokens (remote-write). */
  ingestTokens: TokenRepository;
  adminKey: string;
  rateLimiter: RateLimiter;
  limits: ApiLimits;
  metrics: SelfMetrics;
  /** Whether the store has finished opening (for /-/ready). */
  ready: () => boolean;
  now: () => number;
}

/**
 * POST /api/v1/write: Prometheus remote-write 1.0 (snappy-compressed protobuf), behind an ingest
 * token. 204 when every sample was stored; 400 with counts and the first reason otherwise (what was
 * acceptable is stored; see src/ingest/remote-write-receiver.ts), the tenant limits of
 * src/ingest/limits.ts included; 413 past the size caps; 429 for an address past its failed
 * authentication limit (shared with the query API, so guessing ingest tokens is as slow); 503 with
 * Retry-After when a token writes faster than its sample budget or the store refuses writes (disk
 * full), so senders back off and retry without losing data (every Prometheus version retries a 5xx;
 * older ones drop on 429).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { TokenStore } from "../auth/token-store.js";
import { ActiveSeries } from "../ingest/active-series.js";
import type { IngestLimits } from "../ingest/limits.js";
import { RemoteWriteDecodeError } from "../ingest/remote-write/index.js";
import { receiveRemoteWrite } from "../ingest/remote-write-receiver.js";
import type { SelfMetrics } from "../metrics/self-metrics.js";
import { type Appendable, isDiskFullError, StorageError } from "../storage/index.js";
import { bearer, CHALLENGE, noteAuthFailure, refuseLimitedAddress } from "./auth.js";
import type { ApiContext } from "./context.js";
import { ApiError } from "./errors.js";

export interface WriteRouteOptions {
  storage: Appendable;
  /** For the failed-authentication limit per client address, which the query API shares. */
  api: ApiContext;
  /** What a tenant's series and samples are held to. */
  ingestLimits: IngestLimits;
  ingestTokens: TokenStore;
  metrics: SelfMetrics;
  /** Largest compressed body, in bytes. */
  maxBodyBytes: number;
  /** Largest decompressed body, in bytes. */
  maxDecompressedBytes: number;
  /** Samples per second a token may write (0 = unlimited); the budget holds one second's worth. */
  samplesPerSecond: number;
  now?: () => number;
}

/** A per-token budget of samples, refilled continuously; a request may overdraw it once. */
class SampleBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perSecond: number,
    private readonly now: () => number,
  ) {}

  /** Seconds to wait before writing again, or 0 when the token may write now. */
  waitSeconds(key: string): number {
    if (this.perSecond <= 0) return 0;
    const b = this.refill(key);
    return b.tokens > 0 ? 0 : Math.max(1, Math.ceil(-b.tokens / this.perSecond));
  }

  spend(key: string, n: number): void {
    if (this.perSecond > 0) this.refill(key).tokens -= n;
  }

  private refill(key: string) {
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.perSecond, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.perSecond, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    return b;
  }
}

interface WriteRequest extends FastifyRequest {
  writer?: { tokenId: string; scope: string };
}

async function authenticate(
  o: WriteRouteOptions,
  request: FastifyRequest,
): Promise<{ tokenId: string; scope: string }> {
  refuseLimitedAddress(o.api, request);
  const v = await o.ingestTokens.verify(bearer(o.api, request, "ingest token"));
  if (!v.ok) {
    o.metrics.authFailures.inc({ reason: `ingest_${v.reason}` });
    if (v.reason === "unknown") noteAuthFailure(o.api, request);
    throw new ApiError(
      "unauthorized",
      `ingest token ${v.reason === "unknown" ? "is not valid" : `has ${v.reason === "expired" ? "expired" : "been revoked"}`}`,
      CHALLENGE,
    );
  }
  return { tokenId: v.token.id, scope: v.token.projectId };
}

export async function registerWriteRoute(app: FastifyInstance, o: WriteRouteOptions): Promise<void> {
  const now = o.now ?? Date.now;
  const budget = new SampleBudget(o.samplesPerSecond, now);
  const activeSeries = new ActiveSeries(o.ingestLimits.maxSeriesPerProject, now);
  await app.register(async (scope) => {
    // The body is snappy-compressed protobuf whatever Content-Type says: take the raw bytes.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: o.maxBodyBytes }, (_req, body, done) =>
      done(null, body),
    );
    scope.addHook("onRequest", async (request) => {
      (request as WriteRequest).writer = await authenticate(o, request);
    });
    // The body is snappy, which the compression plugin must not try to decode.
    scope.post("/api/v1/write", { decompress: false }, async (request, reply) => {
      const encoding = request.headers["content-encoding"];
      if (encoding !== undefined && encoding.toLowerCase() !== "snappy") {
        throw ApiError.badData(
          `unsupported Content-Encoding ${JSON.stringify(encoding)}: remote-write bodies are snappy`,
        );
      }
      const body = request.body;
      if (!(body instanceof Buffer) || body.length === 0) throw ApiError.badData("empty remote-write body");
      const writer = (request as WriteRequest).writer as { tokenId: string; scope: string };
      const wait = budget.waitSeconds(writer.tokenId);
      if (wait > 0) {
        o.metrics.writesRefused.inc({ reason: "rate" });
        throw new ApiError(
          "unavailable",
          `this ingest token is over its budget of ${o.samplesPerSecond} samples/s; retry after ${wait}s`,
          { "Retry-After": String(wait) },
        );
      }
      try {
        const outcome = receiveRemoteWrite(
          body,
          o.storage,
          writer.scope,
          { maxDecompressedBytes: o.maxDecompressedBytes },
          { limits: o.ingestLimits, activeSeries, now: now() },
        );
        for (const [reason, n] of Object.entries(outcome.refused)) o.metrics.ingestRefused.inc({ reason }, n);
        budget.spend(writer.tokenId, outcome.accepted + outcome.rejected);
        o.metrics.samplesIngested.inc({ source: "remote_write" }, outcome.accepted);
        if (outcome.rejected > 0) {
          o.metrics.samplesRejected.inc({ source: "remote_write" }, outcome.rejected);
          throw ApiError.badData(
            `stored ${outcome.accepted} samples, rejected ${outcome.rejected}: ${outcome.firstError ?? "unknown reason"}`,
          );
        }
        return reply.code(204).send();
      } catch (err) {
        if (err instanceof RemoteWriteDecodeError) {
          throw err.code === "too_large"
            ? new ApiError("payload_too_large", err.message)
            : ApiError.badData(`cannot decode remote-write body: ${err.message}`);
        }
        if (err instanceof StorageError) {
          o.metrics.writesRefused.inc({ reason: isDiskFullError(err) ? "disk_full" : "storage" });
          throw new ApiError("unavailable", `the store refused the write: ${err.message}; retry later`, {
            "Retry-After": "30",
          });
        }
        throw err;
      }
    });
  });
}

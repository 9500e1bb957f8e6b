/**
 * Per-token request rate limit: a token bucket per key, refilled continuously. Buckets idle long
 * enough to be full again are dropped, so memory stays bounded by the active tokens.
 */
export interface RateLimitOptions {
  /** Sustained requests per second; 0 disables the limit. */
  ratePerSecond: number;
  /** Requests allowed at once after a quiet period. */
  burst: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string): RateDecision {
    const { ratePerSecond, burst } = this.options;
    if (ratePerSecond <= 0) return { allowed: true };
    const now = this.now();
    this.sweep(now);
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: burst, updatedAt: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((now - b.updatedAt) / 1000) * ratePerSecond);
      b.updatedAt = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / ratePerSecond)) };
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    const fullAfterMs = (this.options.burst / this.options.ratePerSecond) * 1000;
    for (const [k, b] of this.buckets) if (now - b.updatedAt > fullAfterMs) this.buckets.delete(k);
  }
}

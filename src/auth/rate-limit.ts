/**
 * Token buckets, one per key, refilled continuously: the per-token and per-project request rate
 * limits, the per-address limit on failed authentication and the per-project token-minting rate.
 * Buckets idle long enough to be full again are dropped, so memory stays bounded by the active keys.
 */
import { isIPv4 } from "node:net";

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

  /** Whether the limit is on at all (a rate of 0 turns it off). */
  get enabled(): boolean {
    return this.options.ratePerSecond > 0;
  }

  /** The bucket of a key brought up to now, or undefined when it would be full (nothing used). */
  private refilled(key: string, now: number): Bucket | undefined {
    const b = this.buckets.get(key);
    if (!b) return undefined;
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.updatedAt) / 1000) * this.options.ratePerSecond);
    b.updatedAt = now;
    return b;
  }

  /** At least 1: a burst below 1 would refuse everything forever. */
  private get burst(): number {
    return Math.max(1, this.options.burst);
  }

  private denied(b: Bucket): RateDecision {
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / this.options.ratePerSecond)),
    };
  }

  /** Uses one unit of the key's bucket if there is one. */
  take(key: string): RateDecision {
    if (!this.enabled) return { allowed: true };
    const now = this.now();
    this.sweep(now);
    let b = this.refilled(key, now);
    if (!b) {
      b = { tokens: this.burst, updatedAt: now };
      this.buckets.set(key, b);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { allowed: true };
    }
    return this.denied(b);
  }

  /** Whether take() would succeed now, without using anything. */
  check(key: string): RateDecision {
    if (!this.enabled) return { allowed: true };
    const b = this.refilled(key, this.now());
    return !b || b.tokens >= 1 ? { allowed: true } : this.denied(b);
  }

  /** Gives back a unit taken for a request that another limit then refused. */
  refund(key: string): void {
    if (!this.enabled) return;
    const b = this.refilled(key, this.now());
    if (b) b.tokens = Math.min(this.burst, b.tokens + 1);
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    const fullAfterMs = (this.burst / this.options.ratePerSecond) * 1000;
    for (const [k, b] of this.buckets) if (now - b.updatedAt > fullAfterMs) this.buckets.delete(k);
  }
}

/**
 * The key a client address is limited under. IPv4-mapped IPv6 addresses are their IPv4 address;
 * other IPv6 addresses count by their /64, since one client (one subscriber, one cloud VM) gets a
 * whole /64 and could otherwise take a fresh address, and a fresh bucket, for every request.
 */
export function clientAddressKey(address: string | undefined): string {
  if (address === undefined || address === "") return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (isIPv4(address) || !address.includes(":")) return address;
  const [head, tail] = address.split("%")[0].toLowerCase().split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  // An embedded IPv4 tail is two groups; it only matters for the zero fill below.
  const rightGroups = right.reduce((n, g) => n + (g.includes(".") ? 2 : 1), 0);
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array(Math.max(0, 8 - left.length - rightGroups)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

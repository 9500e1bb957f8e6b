/**
 * A leader lease in PostgreSQL, so that work meant to run once across replicas (the recording
 * rules) runs on one of them: a row in `leases` names the holder and when its lease ends, by the
 * database's clock. A replica takes or renews it with one upsert that only succeeds when it already
 * holds the lease or the lease has ended:
 *
 *   INSERT … ON CONFLICT (name) DO UPDATE … WHERE leases.holder = me OR leases.expires_at <= now()
 *
 * The holder believes it leads only until (the moment it sent its last successful renewal) + ttl −
 * safety margin, by its own monotonic clock. That moment is before the database's now() for that
 * statement, so the holder's belief always ends before the row expires, whatever the wall clocks
 * say: a leader cut off from the database stops leading before anyone else can take over. What it
 * needs is only that clocks run at about the same rate (the margin absorbs drift and timer delay).
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import type { Pool } from "pg";

export interface LeaderLeaseOptions {
  pool: Pool;
  /** Which lease, e.g. "rules". */
  name: string;
  /** Unique per process (default: hostname, pid and a random suffix). */
  holderId?: string;
  /** How long a taken or renewed lease lasts (default 15 s). */
  ttlMs?: number;
  /** How often the holder renews and the others try to take it (default ttl / 3). */
  renewIntervalMs?: number;
  /** Taken off the holder's own view of its lease (default ttl / 10, at least 200 ms). */
  safetyMarginMs?: number;
  /** Called when this replica starts or stops leading. */
  onChange?: (leader: boolean) => void;
  log?: (fields: Record<string, unknown>, message: string) => void;
  /** Monotonic clock in ms (default performance.now); for tests. */
  monotonicNow?: () => number;
}

const ACQUIRE_SQL = `
  INSERT INTO leases AS l (name, holder, epoch, acquired_at, renewed_at, expires_at)
  VALUES ($1, $2, 1, now(), now(), now() + $3::double precision * interval '1 millisecond')
  ON CONFLICT (name) DO UPDATE SET
    holder = excluded.holder,
    epoch = CASE WHEN l.holder = excluded.holder AND l.expires_at > now() THEN l.epoch ELSE l.epoch + 1 END,
    acquired_at = CASE WHEN l.holder = excluded.holder AND l.expires_at > now() THEN l.acquired_at ELSE now() END,
    renewed_at = now(),
    expires_at = excluded.expires_at
  WHERE l.holder = excluded.holder OR l.expires_at <= now()
  RETURNING epoch::text AS epoch`;

const RELEASE_SQL = "UPDATE leases SET expires_at = now() WHERE name = $1 AND holder = $2";

export function defaultHolderId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** Satisfies the rules' Leadership (src/rules/leadership.ts): isLeader() and remainingMs(). */
export class LeaderLease {
  readonly name: string;
  readonly holderId: string;
  readonly ttlMs: number;
  readonly renewIntervalMs: number;
  readonly safetyMarginMs: number;
  /** Incremented by the database each time the lease changes hands (or is taken again after ending). */
  epoch: bigint | null = null;
  private validUntil = Number.NEGATIVE_INFINITY;
  private leading = false;
  private running = false;
  private loopTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> = Promise.resolve();
  private readonly mono: () => number;

  constructor(private readonly o: LeaderLeaseOptions) {
    this.name = o.name;
    this.holderId = o.holderId ?? defaultHolderId();
    this.ttlMs = o.ttlMs ?? 15_000;
    this.renewIntervalMs = o.renewIntervalMs ?? Math.round(this.ttlMs / 3);
    this.safetyMarginMs = o.safetyMarginMs ?? Math.max(200, Math.round(this.ttlMs / 10));
    this.mono = o.monotonicNow ?? (() => performance.now());
    if (this.renewIntervalMs >= this.ttlMs - this.safetyMarginMs) {
      throw new Error("lease renewal interval must be shorter than the ttl less the safety margin");
    }
  }

  isLeader(): boolean {
    return this.mono() < this.validUntil;
  }

  remainingMs(): number {
    return Math.max(0, this.validUntil - this.mono());
  }

  /**
   * One attempt to take or renew the lease; true when this replica holds it afterwards. A failed
   * statement (database unreachable) leaves the previous deadline to run out; it never extends it.
   */
  async tryAcquire(): Promise<boolean> {
    const p = this.attempt();
    this.inFlight = p.catch(() => {});
    return p;
  }

  private async attempt(): Promise<boolean> {
    const sentAt = this.mono();
    try {
      const res = await this.o.pool.query<{ epoch: string }>({
        name: "mim_lease_acquire",
        text: ACQUIRE_SQL,
        values: [this.name, this.holderId, this.ttlMs],
      });
      const row = res.rows[0];
      if (row) {
        this.epoch = BigInt(row.epoch);
        this.validUntil = Math.max(this.validUntil, sentAt + this.ttlMs - this.safetyMarginMs);
      } else {
        this.validUntil = Number.NEGATIVE_INFINITY;
      }
    } catch (err) {
      this.o.log?.(
        { component: "lease", lease: this.name, err: (err as Error).message },
        "lease renewal failed",
      );
    }
    this.noteState();
    return this.isLeader();
  }

  /** Notifies a change of leadership, and arranges to notice the lease running out. */
  private noteState(): void {
    const now = this.isLeader();
    if (now !== this.leading) {
      this.leading = now;
      this.o.log?.(
        { component: "lease", lease: this.name, holder: this.holderId, epoch: this.epoch?.toString() },
        now ? "took the lease" : "lost the lease",
      );
      this.o.onChange?.(now);
    }
    clearTimeout(this.expiryTimer);
    if (now) {
      this.expiryTimer = setTimeout(() => this.noteState(), this.remainingMs() + 1);
      this.expiryTimer.unref();
    }
  }

  /** Tries at once, then every renewIntervalMs until stop(); resolves after the first attempt. */
  async start(): Promise<boolean> {
    if (this.running) return this.isLeader();
    this.running = true;
    const leader = await this.tryAcquire();
    this.scheduleNext();
    return leader;
  }

  private scheduleNext(): void {
    if (!this.running) return;
    this.loopTimer = setTimeout(async () => {
      await this.tryAcquire();
      this.scheduleNext();
    }, this.renewIntervalMs);
    this.loopTimer.unref();
  }

  /**
   * Stops renewing. With release (the default, for a clean shutdown) the lease ends at once so
   * another replica takes over on its next attempt; without, it runs out after the ttl (as after a crash).
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.running = false;
    clearTimeout(this.loopTimer);
    await this.inFlight;
    const held = this.isLeader();
    this.validUntil = Number.NEGATIVE_INFINITY;
    this.noteState();
    if (held && opts.release !== false) {
      try {
        await this.o.pool.query(RELEASE_SQL, [this.name, this.holderId]);
      } catch (err) {
        this.o.log?.(
          { component: "lease", lease: this.name, err: (err as Error).message },
          "could not release the lease; it runs out by itself",
        );
      }
    }
  }
}

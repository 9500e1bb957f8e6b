/**
 * One shard: a loop that sends its rows of the queue, oldest first, one request at a time.
 *
 * Ordering: a series always maps to the same shard and a shard has at most one request on the
 * wire, retried until it is delivered or refused for good before the next one is built, so each
 * series' samples reach the engine in commit order. Shards run concurrently and independently.
 *
 * Delivery is at-least-once. Rows are deleted only after a 2xx (or a refusal), so anything
 * acknowledged by `commit()` is sent until the engine takes or refuses it. A request can reach the
 * engine more than once: after a timeout or lost answer it is retried byte for byte, and after a
 * crash between the engine's 2xx and the row deletion it is sent again. To keep such a resend
 * harmless, the rows of the request on the wire are recorded first (`inflight`) and a resend after
 * restart holds exactly those rows, never newer ones: an engine sees an identical request again,
 * which it stores as duplicates of what it has (same timestamps and values: a no-op) or refuses
 * as out of order (a 400: dropped, but its samples are already there) — newer samples never ride
 * along in a request the engine refuses.
 *
 * Tenants (option `tenant`): a request — the shard's oldest rows, up to maxSamplesPerRequest
 * samples, recorded in `inflight` as before — is split into one WriteRequest (part) per tenant, in
 * order of tenant id, each with that tenant's URL and header. The parts are sent concurrently, up
 * to `tenant.concurrency` at once (started in tenant-id order), each retried on its own with its
 * own backoff until delivered or refused for good (a 4xx drops that tenant's samples only), so a
 * tenant the engine throttles or refuses for a while does not delay the other tenants' parts.
 * A series belongs to one tenant, so all its samples of the request are in one part, and the next
 * request is built only once every part was delivered or refused for good: each series' samples
 * still arrive in commit order. The rows are acknowledged once all parts are done. After a crash
 * the recorded rows are rebuilt and split the same way (same rows, same series, same tenants, and
 * the split keeps the queued order), so every tenant gets exactly the part it may have seen
 * before, never newer samples; parts delivered before the crash arrive twice, as identical
 * requests: harmless for the reasons above. The price of the per-series order: the shard's next
 * request waits for the slowest part of this one, so one tenant's long outage still holds up the
 * other tenants of its shard, as one series' retries hold up its shard.
 *
 * Full disk: recording the request (`inflight`) and removing its rows after delivery are writes,
 * which a full disk refuses (DiskFullError). A shard then keeps its rows and tries again every
 * DISK_FULL_RETRY_MS, or at once when woken (a commit, a drain, the storage noticing that writes
 * work again), without the backoff that grows for other errors, so it resumes as soon as space
 * is freed. A request delivered whose rows could not be removed is not sent again: only its
 * removal is retried.
 */
import { compress } from "snappy";
import { isDiskFullError } from "../../storage/index.js";
import { backoffDelay, sleep } from "./backoff.js";
import { postWriteRequest } from "./http.js";
import type { ResolvedOptions } from "./options.js";
import { type BatchRow, decodeBatch, type QueueDb } from "./queue-db.js";
import type { NoTenant, Tenant, TenantOf } from "./tenant.js";
import {
  buildWriteRequest,
  encodeGroups,
  groupBySeries,
  type SampleColumns,
  type SeriesGroup,
} from "./wire.js";

/** What a shard needs from the storage, and what it reports back. */
export interface ShardHost {
  readonly o: ResolvedOptions;
  readonly db: QueueDb;
  /** Aborted when the storage stops: attempts and sleeps end, rows stay queued. */
  readonly stop: AbortSignal;
  /** Closing or draining: send partial requests without waiting for the batch deadline. */
  isFlushing(): boolean;
  labelsOf(id: number): Uint8Array | undefined;
  /** Tenant mode: the tenant of a queued series, given its label fields. */
  tenantOf(id: number, labelFields: Uint8Array): TenantOf;
  /** `tenant`: the tenant of the (sub-)request, in tenant mode. */
  onDelivered(samples: number, tenant: Tenant | null): void;
  /** Samples dropped: refused for good by the engine, or unsendable (`byEngine` false). */
  onDropped(samples: number, message: string, byEngine: boolean, tenant: Tenant | null): void;
  /** Queued samples of series that belong to no tenant (rows an earlier process queued). */
  onNoTenant(samples: number, why: readonly NoTenant[]): void;
  onRetry(message: string, tenant: Tenant | null): void;
  /** Rows left the queue (delivered, dropped or unsendable). */
  onRemoved(samples: number): void;
  onError(message: string): void;
}

/** One WriteRequest: the whole request, or in tenant mode one tenant's part of it. */
interface Part {
  /** Null without tenant mode. */
  tenant: Tenant | null;
  url: string;
  headers: Readonly<Record<string, string>>;
  /** Samples in the body. */
  samples: number;
  body: Uint8Array;
}

interface Request {
  lastSeq: number;
  /** Samples in its rows. */
  samples: number;
  /**
   * Empty when none of its samples can be sent (no labels, no tenant). Without tenant mode at most
   * one; in tenant mode one per tenant, in tenant-id order (the order they are started in).
   */
  parts: Part[];
}

/** How long an idle shard sleeps without a wake-up, as a safety net (ms). */
const IDLE_POLL_MS = 30_000;
/** How often a shard retries its queue's writes while the disk is full (ms). */
const DISK_FULL_RETRY_MS = 1_000;

export class Shard {
  /** Samples of this shard in the queue, including those on the wire. */
  queued = 0;
  /**
   * When rows first arrived since the last request was built (monotonic ms): a partial request
   * waits for the batch deadline from then. Null with rows queued means they are leftovers of a
   * full request or of an earlier process: send them at once.
   */
  private pendingSince: number | null = null;
  /** The request being sent (or retried) ends at this row; a rebuild must hold exactly these rows. */
  private resendUpTo: number | null;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  /** A request the engine took whose rows a full disk did not let us remove yet. */
  private delivered: Request | null = null;

  constructor(
    readonly index: number,
    private readonly host: ShardHost,
    queued: number,
    inflightLastSeq: number | undefined,
  ) {
    this.queued = queued;
    this.resendUpTo = inflightLastSeq ?? null;
  }

  /** A commit queued `samples` more for this shard. */
  added(samples: number): void {
    const before = this.queued;
    this.queued += samples;
    this.pendingSince ??= performance.now();
    // Wake a shard that was idle (to start its deadline) or now has a full request.
    const max = this.host.o.maxSamplesPerRequest;
    if (before === 0 || (before < max && this.queued >= max) || this.host.isFlushing()) this.wake();
  }

  /** The storage is flushing or stopping: re-check at once. */
  wake(): void {
    const w = this.wakeUp;
    if (w) {
      this.wakeUp = null;
      w();
    } else this.woken = true;
  }

  async run(): Promise<void> {
    const { o, stop } = this.host;
    let failures = 0;
    while (!stop.aborted) {
      try {
        if (this.delivered !== null) this.remove(this.delivered);
        else {
          const req = await this.next();
          if (req !== null) await this.deliver(req);
        }
        failures = 0;
      } catch (err) {
        // Not an HTTP problem (those are handled in deliver) but the queue's: a disk error, say.
        if (isDiskFullError(err)) {
          // Logged by the storage when the disk filled; retried soon, as it may be freed any time.
          await this.wait(DISK_FULL_RETRY_MS);
          continue;
        }
        this.host.onError(`shard ${this.index}: ${(err as Error).message}`);
        await sleep(backoffDelay(failures++, o.minBackoffMs, o.maxBackoffMs), stop);
      }
    }
  }

  private wait(ms: number): Promise<void> {
    if (this.woken || this.host.stop.aborted) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(), Math.min(ms, IDLE_POLL_MS));
      // An idle shard does not keep the process alive; one holding rows does.
      if (this.queued <= 0) timer.unref();
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** The next request, or null after waiting for rows, the batch deadline or a wake-up. */
  private async next(): Promise<Request | null> {
    const { o, db } = this.host;
    if (this.queued <= 0) {
      await this.wait(IDLE_POLL_MS);
      return null;
    }
    const since = this.pendingSince;
    if (
      since !== null &&
      this.resendUpTo === null &&
      this.queued < o.maxSamplesPerRequest &&
      !this.host.isFlushing()
    ) {
      const wait = since + o.batchDeadlineMs - performance.now();
      if (wait > 0) {
        await this.wait(wait);
        return null;
      }
    }
    const rows = db.head(this.index, o.maxSamplesPerRequest, this.resendUpTo ?? undefined);
    if (rows.length === 0) {
      // Nothing left of a recorded request (it was acknowledged just before a crash), or the
      // count drifted: trust the queue.
      if (this.resendUpTo !== null) db.ack(this.index, this.resendUpTo);
      else {
        this.host.onRemoved(this.queued);
        this.queued = 0;
      }
      this.resendUpTo = null;
      return null;
    }
    this.pendingSince = null;
    const lastSeq = rows[rows.length - 1].seq;
    if (this.resendUpTo === null) db.setInflight(this.index, lastSeq);
    this.resendUpTo = lastSeq;
    const samples = rows.reduce((n, r) => n + r.samples, 0);
    const cols = columns(rows, samples);
    const parts = o.tenant === null ? await this.whole(cols) : await this.perTenant(cols);
    return { lastSeq, samples, parts };
  }

  private labelsOf = (id: number) => this.host.labelsOf(id);

  private missing(samples: number): void {
    if (samples > 0) {
      this.host.onDropped(samples, `labels of ${samples} queued samples are missing`, false, null);
    }
  }

  /** Without tenant mode: the samples in one WriteRequest to the url. */
  private async whole(cols: SampleColumns): Promise<Part[]> {
    const { o } = this.host;
    const built = buildWriteRequest(cols, this.labelsOf);
    this.missing(built.missing);
    if (built.samples === 0) return [];
    const body = await compress(built.body, { copyOutputData: true });
    return [{ tenant: null, url: o.url, headers: o.requestHeaders, samples: built.samples, body }];
  }

  /**
   * Tenant mode: one WriteRequest per tenant, in order of tenant id, each holding that tenant's
   * series in order of first appearance with their samples in queued order (so the same rows
   * always give the same requests).
   */
  private async perTenant(cols: SampleColumns): Promise<Part[]> {
    const { groups, missing } = groupBySeries(cols, this.labelsOf);
    this.missing(missing);
    const byTenant = new Map<Tenant, SeriesGroup[]>();
    const noTenant: NoTenant[] = [];
    let unsendable = 0;
    for (const g of groups) {
      const t = this.host.tenantOf(g.id, g.labels);
      if (t.problem !== null) {
        noTenant.push(t);
        unsendable += g.idx.length;
        continue;
      }
      const list = byTenant.get(t);
      if (list === undefined) byTenant.set(t, [g]);
      else list.push(g);
    }
    if (unsendable > 0) this.host.onNoTenant(unsendable, noTenant);
    const sorted = [...byTenant].sort(([a], [b]) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return Promise.all(
      sorted.map(async ([tenant, list]) => {
        let samples = 0;
        for (const g of list) samples += g.idx.length;
        const body = await compress(encodeGroups(cols, list), { copyOutputData: true });
        return { tenant, url: tenant.url, headers: tenant.headers, samples, body };
      }),
    );
  }

  /**
   * Sends a request's parts until each is delivered or refused for good, or the storage stops;
   * then (unless stopped) acknowledges its rows. In tenant mode up to `tenant.concurrency` parts are
   * on the wire at once, each retried on its own.
   */
  private async deliver(req: Request): Promise<void> {
    const { parts } = req;
    const limit = this.host.o.tenant?.concurrency ?? 1;
    if (parts.length <= 1 || limit <= 1) {
      for (const part of parts) {
        if (!(await this.send(part))) return;
      }
    } else {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < parts.length) {
          if (!(await this.send(parts[next++]))) return;
        }
      };
      // Settle every worker before going on, even when one throws: a part still on the wire when
      // the request is rebuilt would be sent twice at once.
      const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, parts.length) }, worker));
      for (const r of settled) if (r.status === "rejected") throw r.reason;
    }
    if (!this.host.stop.aborted) {
      this.delivered = req;
      this.remove(req);
    }
  }

  /** Sends one WriteRequest until it is delivered or refused for good (true), or the storage stops. */
  private async send(p: Part): Promise<boolean> {
    const { o, stop } = this.host;
    for (let attempt = 0; ; attempt++) {
      if (stop.aborted) return false;
      const out = await postWriteRequest(p.body, {
        url: p.url,
        headers: p.headers,
        timeoutMs: o.requestTimeoutMs,
        maxRetryAfterMs: o.maxRetryAfterMs,
        signal: stop,
        now: o.now,
      });
      if (out.kind === "delivered") {
        this.host.onDelivered(p.samples, p.tenant);
        return true;
      }
      // An attempt cut off by stopping proves nothing: the rows stay queued, marked in flight.
      if (stop.aborted) return false;
      if (out.kind === "drop") {
        this.host.onDropped(p.samples, out.message, true, p.tenant);
        return true;
      }
      this.host.onRetry(out.message, p.tenant);
      const delay =
        out.retryAfterMs !== null
          ? Math.max(out.retryAfterMs, o.minBackoffMs)
          : backoffDelay(attempt, o.minBackoffMs, o.maxBackoffMs);
      await sleep(delay, stop);
    }
  }

  private remove(req: Request): void {
    this.host.db.ack(this.index, req.lastSeq);
    this.delivered = null;
    this.resendUpTo = null;
    this.queued -= req.samples;
    this.host.onRemoved(req.samples);
  }
}

/** The rows' samples as one set of columns, in row order. */
function columns(rows: readonly BatchRow[], samples: number): SampleColumns {
  const ids = new Float64Array(samples);
  const ts = new Float64Array(samples);
  const vs = new Float64Array(samples);
  let at = 0;
  for (const r of rows) {
    const c = decodeBatch(r.data, r.samples);
    ids.set(c.ids, at);
    ts.set(c.ts, at);
    vs.set(c.vs, at);
    at += r.samples;
  }
  return { ids, ts, vs, count: samples };
}

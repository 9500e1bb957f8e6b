/**
 * RemoteWriteStorage: the write half of remote storage mode. Everything the gateway, the scraper
 * and our remote-write receiver append is committed into a bounded on-disk queue and forwarded
 * from there to a Prometheus-compatible engine by remote-write (see shard.ts for ordering and
 * delivery, queue-db.ts for the queue's format).
 *
 * `commit()` returns only once the batch is in the queue (a SQLite transaction), so what it
 * acknowledged survives a crash of this process and any outage of the engine. When the queue is
 * full, `commit()` throws StorageError and queues nothing: our receivers answer 503 and their
 * senders retry later, so nothing acknowledged is ever dropped to make room.
 *
 * In tenant mode (option `tenant`, tenant.ts) each request carries one tenant's series. A series
 * that belongs to no tenant (no tenant label, or an invalid id) cannot be sent anywhere: its
 * samples are left out of the queue at commit and counted as dropped (`failedSamples`), with a log
 * line the first time a series is dropped; the rest of the batch is queued as usual. Rows queued by
 * an earlier process without tenant mode are split the same way when sent (shard.ts).
 *
 * On a full disk the queue still opens (opening writes nothing; a changed shard count is recorded
 * with the first batch queued instead), `commit()` throws DiskFullError ("out of disk space": our
 * receivers answer 503 with Retry-After), and what is queued stays queued: a shard needs a write
 * to record the request it sends and another to remove what was delivered, so it retries every
 * second (or at once when woken) until space is freed, then sends as usual, without a restart.
 * One log line when the disk fills, one when writes work again.
 */
import { type Appendable, type Appender, isDiskFullError, StorageError } from "../../storage/index.js";
import { type AppendTarget, RemoteWriteAppender } from "./appender.js";
import {
  displayUrl,
  type RemoteWriteStorageOptions,
  type ResolvedOptions,
  resolveOptions,
} from "./options.js";
import { type BatchRow, QueueDb, SAMPLE_BYTES } from "./queue-db.js";
import { type SeriesEntry, SeriesRegistry } from "./series.js";
import { Shard, type ShardHost } from "./shard.js";
import { emptyStatus, type RemoteWriteStatus, type StatusCounters } from "./status.js";
import { type NoTenant, type TenantOf, Tenants } from "./tenant.js";

/** While the engine keeps failing, repeat the outage line this often (ms). */
const OUTAGE_LOG_EVERY_MS = 5 * 60_000;

export class RemoteWriteStorage implements Appendable {
  private readonly o: ResolvedOptions;
  private readonly db: QueueDb;
  private readonly registry: SeriesRegistry;
  private readonly shards: Shard[];
  private readonly loops: Promise<void>[];
  private readonly stopper = new AbortController();
  private readonly stop = this.stopper.signal;
  private readonly counters: StatusCounters = emptyStatus();
  private queuedSamples: number;
  private seriesBytes: number;
  private nextSeq: number;
  /** Series ids below this were written by an earlier process; their labels are read from disk. */
  private readonly firstSessionId: number;
  /** Rows up to this seq predate this process. */
  private readonly openMaxSeq: number;
  private earlierSeries: Map<number, Uint8Array> | null = new Map();
  /** Tenant mode: the tenants of the earlier process's series, resolved once each. */
  private earlierTenants = new Map<number, TenantOf>();
  /** Null without tenant mode. */
  private readonly tenants: Tenants | null;
  private draining = 0;
  private closing: Promise<void> | null = null;
  private lastOutageLog = 0;
  private readonly maintenance: NodeJS.Timeout | null;
  private readonly target: AppendTarget;
  /** Meta entries a full disk refused at start-up, written with the next batch queued. */
  private readonly pendingMeta = new Map<string, number>();
  /** When the queue's disk filled (wall clock ms), null while writes work. */
  private diskFullSince: number | null = null;

  constructor(options: RemoteWriteStorageOptions) {
    this.o = resolveOptions(options);
    const tenants =
      this.o.tenant === null ? null : new Tenants(this.o.tenant, this.o.requestHeaders, this.o.url);
    this.tenants = tenants;
    this.db = new QueueDb(this.o.dir, this.o.sync, (full, message) => this.onDiskFull(full, message));
    try {
      const totals = this.db.totals();
      const inflight = this.db.inflight();
      this.queuedSamples = totals.samples;
      // Rows were split by series hash modulo the shard count of their time; changing the count
      // under them would let one series' old and new samples travel in different shards.
      const stored = this.db.getMeta("shards");
      let shards = this.o.shards;
      if (totals.samples > 0 && stored !== null && stored !== shards) {
        this.o.log(
          `remote-write queue holds ${totals.samples} samples split into ${stored} shards; keeping ${stored} until it drains (configured: ${shards})`,
        );
        shards = stored;
      } else if (stored !== shards) {
        try {
          this.db.setMeta("shards", shards);
        } catch (err) {
          // A full disk (opening wrote nothing so far): record the count with the first batch.
          if (!isDiskFullError(err)) throw err;
          this.pendingMeta.set("shards", shards);
        }
      }
      this.seriesBytes = totals.seriesBytes;
      this.nextSeq = totals.maxSeq + 1;
      this.openMaxSeq = totals.maxSeq;
      this.firstSessionId = totals.maxSeriesId + 1;
      this.registry = new SeriesRegistry(
        shards,
        this.firstSessionId,
        this.o.now,
        tenants === null ? null : (labels) => tenants.of(labels),
      );
      const host = this.shardHost();
      this.shards = Array.from(
        { length: shards },
        (_, i) => new Shard(i, host, totals.perShard.get(i) ?? 0, inflight.get(i)),
      );
    } catch (err) {
      this.db.close();
      throw err;
    }
    if (this.queuedSamples > 0) {
      this.o.log(
        `remote-write queue resumes with ${this.queuedSamples} samples for ${displayUrl(this.o.url)}`,
      );
    }
    this.target = {
      registry: this.registry,
      now: this.o.now,
      enqueue: (entries, ts, vs, count) => this.enqueue(entries, ts, vs, count),
    };
    this.loops = this.shards.map((s) => s.run());
    this.maintenance =
      this.o.maintenanceIntervalMs > 0 ? setInterval(() => this.sweep(), this.o.maintenanceIntervalMs) : null;
    this.maintenance?.unref();
  }

  appender(): Appender {
    return new RemoteWriteAppender(this.target);
  }

  status(): RemoteWriteStatus {
    let oldestT: number | null = null;
    let oldestAt: number | null = null;
    if (this.db.isOpen) {
      for (const s of this.shards) {
        const head = this.db.headInfo(s.index);
        if (head === undefined) continue;
        if (oldestT === null || head.minT < oldestT) oldestT = head.minT;
        if (oldestAt === null || head.enqueuedAt < oldestAt) oldestAt = head.enqueuedAt;
      }
    }
    return {
      ...this.counters,
      url: displayUrl(this.o.url),
      shards: this.shards.length,
      queuedSamples: this.queuedSamples,
      queuedBytes: this.queuedBytes(),
      maxQueueBytes: this.o.maxQueueBytes,
      maxQueueSamples: this.o.maxQueueSamples,
      oldestQueuedTimestamp: oldestT,
      oldestEnqueuedAt: oldestAt,
      series: this.registry.size,
      closed: this.closing !== null,
      ...(this.tenants !== null && {
        tenants: Object.fromEntries(
          this.tenants
            .all()
            .map((t) => [
              t.id,
              { sentSamples: t.sentSamples, failedSamples: t.failedSamples, retries: t.retries },
            ]),
        ),
      }),
    };
  }

  /** Sends what is queued now, without waiting for full requests; true once the queue is empty. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.draining++;
    try {
      for (const s of this.shards) s.wake();
      const until = performance.now() + timeoutMs;
      while (this.queuedSamples > 0 && performance.now() < until && !this.stop.aborted) {
        await new Promise((r) => setTimeout(r, Math.min(20, Math.max(1, until - performance.now()))));
      }
      return this.queuedSamples === 0;
    } finally {
      this.draining--;
    }
  }

  /**
   * Refuses new commits, gives the shards `graceMs` to deliver what is queued, then stops them
   * (cutting off requests on the wire) and closes the queue. What was not delivered stays on disk
   * for the next instance on this directory.
   */
  close(graceMs = this.o.closeGraceMs): Promise<void> {
    this.closing ??= (async () => {
      if (this.maintenance) clearInterval(this.maintenance);
      // Nothing leaves the queue while its disk is full (see the header): no grace to wait out.
      if (graceMs > 0 && this.queuedSamples > 0 && !this.db.diskFull) await this.drain(graceMs);
      this.stopper.abort();
      for (const s of this.shards) s.wake();
      await Promise.all(this.loops);
      if (this.queuedSamples > 0) {
        this.o.log(`remote-write queue keeps ${this.queuedSamples} undelivered samples on disk`);
      }
      this.db.close();
    })();
    return this.closing;
  }

  private queuedBytes(): number {
    return this.queuedSamples * SAMPLE_BYTES + this.seriesBytes;
  }

  /** The appender's commit: queue the batch durably or throw StorageError, changing nothing. */
  private enqueue(entries: readonly SeriesEntry[], ts: Float64Array, vs: Float64Array, n: number): void {
    if (this.closing !== null) throw new StorageError("remote-write storage is closed");
    if (this.tenants !== null) {
      const b = withoutNoTenant(entries, ts, vs, n);
      if (b !== null) {
        if (b.n > 0) this.queue(b.entries, b.ts, b.vs, b.n);
        this.noTenant(n - b.n, b.why);
        return;
      }
    }
    this.queue(entries, ts, vs, n);
  }

  /** Samples of series without a tenant, dropped: counted, and logged once per series. */
  private noTenant(samples: number, why: readonly NoTenant[]): void {
    const c = this.counters;
    c.failedSamples += samples;
    c.lastError = { message: why[0].problem, at: this.o.now() };
    const fresh = why.filter((w) => !w.reported);
    if (fresh.length === 0) return;
    for (const w of fresh) w.reported = true;
    const more = fresh.length > 1 ? ` (and ${fresh.length - 1} more series)` : "";
    this.o.log(
      `remote-write drops the samples of series that belong to no tenant (${samples} in this batch): ${fresh[0].problem}${more}`,
    );
  }

  private queue(entries: readonly SeriesEntry[], ts: Float64Array, vs: Float64Array, n: number): void {
    const live: SeriesEntry[] = new Array(n);
    const fresh = new Set<SeriesEntry>();
    let freshBytes = 0;
    for (let i = 0; i < n; i++) {
      const e = this.registry.revive(entries[i]);
      live[i] = e;
      if (!e.persisted && !fresh.has(e)) {
        fresh.add(e);
        freshBytes += e.labelFields.length;
      }
    }
    this.checkRoom(n, n * SAMPLE_BYTES + freshBytes);
    // Split by shard (keeping append order within each), then into rows of at most one request.
    const byShard: number[][] = this.shards.map(() => []);
    for (let i = 0; i < n; i++) byShard[live[i].shard].push(i);
    const now = this.o.now();
    const rows: BatchRow[] = [];
    const rowOf = new Float64Array(n);
    const max = this.o.maxSamplesPerRequest;
    for (let shard = 0; shard < byShard.length; shard++) {
      const idx = byShard[shard];
      for (let start = 0; start < idx.length; start += max) {
        const k = Math.min(max, idx.length - start);
        const data = new Uint8Array(k * SAMPLE_BYTES);
        const cols = new Float64Array(data.buffer, 0, 3 * k);
        const seq = this.nextSeq++;
        let minT = Number.POSITIVE_INFINITY;
        for (let j = 0; j < k; j++) {
          const i = idx[start + j];
          cols[j] = live[i].id;
          cols[k + j] = ts[i];
          cols[2 * k + j] = vs[i];
          if (ts[i] < minT) minT = ts[i];
          rowOf[i] = seq;
        }
        rows.push({ seq, shard, samples: k, minT, enqueuedAt: now, data });
      }
    }
    this.db.enqueue(
      [...fresh].map((e) => ({ id: e.id, labels: e.labelFields })),
      rows,
      this.pendingMeta,
    );
    this.pendingMeta.clear();
    // Durable: only now does memory follow.
    for (const e of fresh) e.persisted = true;
    for (let i = 0; i < n; i++) if (rowOf[i] > live[i].lastSeq) live[i].lastSeq = rowOf[i];
    this.seriesBytes += freshBytes;
    this.queuedSamples += n;
    for (let shard = 0; shard < byShard.length; shard++) {
      if (byShard[shard].length > 0) this.shards[shard].added(byShard[shard].length);
    }
  }

  private checkRoom(samples: number, bytes: number): void {
    const o = this.o;
    const overBytes = this.queuedBytes() + bytes > o.maxQueueBytes;
    const overSamples = o.maxQueueSamples > 0 && this.queuedSamples + samples > o.maxQueueSamples;
    if (!overBytes && !overSamples) return;
    const since = this.counters.unreachableSince;
    const why =
      since !== null
        ? `has been unreachable since ${new Date(since).toISOString()} (${this.counters.lastError?.message ?? "no answer"})`
        : "is not keeping up";
    throw new StorageError(
      `remote-write queue full: the engine at ${displayUrl(o.url)} ${why}; ${this.queuedSamples} samples (${this.queuedBytes()} bytes) are queued, the bound is ${overBytes ? `${o.maxQueueBytes} bytes` : `${o.maxQueueSamples} samples`}`,
    );
  }

  /** Tenant mode: the tenant of a queued series (`labels`: its label fields). */
  private tenantOf(id: number, labels: Uint8Array): TenantOf {
    const e = this.registry.byRef(id);
    if (e !== undefined && e.tenant !== null) return e.tenant;
    let t = this.earlierTenants.get(id);
    if (t === undefined) {
      if (this.tenants === null) throw new Error("tenantOf outside tenant mode");
      t = this.tenants.ofFields(labels);
      this.earlierTenants.set(id, t);
    }
    return t;
  }

  /** Labels of a queued series: in memory, or (written by an earlier process) from disk. */
  private labelsOf(id: number): Uint8Array | undefined {
    const e = this.registry.byRef(id);
    if (e !== undefined) return e.labelFields;
    if (id >= this.firstSessionId || this.earlierSeries === null) return undefined;
    let b = this.earlierSeries.get(id);
    if (b === undefined) {
      b = this.db.seriesLabels(id);
      if (b !== undefined) this.earlierSeries.set(id, b);
    }
    return b;
  }

  /** Forgets idle series no queued row refers to (memory and disk); run by the maintenance timer. */
  sweep(): void {
    if (this.closing !== null) return;
    try {
      const minSeq = this.db.minSeq();
      const gone = this.registry.sweep(minSeq, this.o.now() - this.o.seriesIdleMs);
      const ids = gone.map((e) => e.id);
      const freed = gone.reduce((n, e) => n + e.labelFields.length, 0);
      // The earlier process's series go together, once none of its rows is left.
      const earlierDone = this.earlierSeries !== null && (minSeq === null || minSeq > this.openMaxSeq);
      if (ids.length === 0 && !earlierDone) return;
      this.db.deleteSeries(ids, earlierDone ? this.firstSessionId : 0);
      if (earlierDone) {
        this.earlierSeries = null;
        this.earlierTenants.clear();
        this.seriesBytes = this.db.seriesBytes();
      } else this.seriesBytes -= freed;
    } catch (err) {
      // A full disk was logged when it filled; the next sweep tries again.
      if (!isDiskFullError(err)) this.shardHost().onError(`cleaning up the queue: ${(err as Error).message}`);
    }
  }

  /** The queue's writes started failing for lack of disk space (`full`), or work again. */
  private onDiskFull(full: boolean, message: string): void {
    const now = this.o.now();
    if (full) {
      this.diskFullSince = now;
      this.counters.lastError = { message: `remote-write queue out of disk space: ${message}`, at: now };
      this.o.log(
        `remote-write queue ${this.db.path} is out of disk space (${message}): commits are refused (503 to remote-write senders) until space is freed; the ${this.queuedSamples} queued samples are kept and sent then`,
      );
      return;
    }
    const s = this.diskFullSince === null ? "?" : ((now - this.diskFullSince) / 1000).toFixed(1);
    this.diskFullSince = null;
    this.o.log(`remote-write queue ${this.db.path} can write again after ${s} s out of disk space`);
    for (const shard of this.shards) shard.wake();
  }

  private shardHost(): ShardHost {
    const c = this.counters;
    const url = displayUrl(this.o.url);
    const reachable = () => {
      if (c.unreachableSince !== null) {
        const s = ((this.o.now() - c.unreachableSince) / 1000).toFixed(1);
        this.o.log(`remote-write to ${url} works again after ${s} s`);
      }
      this.lastOutageLog = 0;
      c.unreachableSince = null;
    };
    return {
      o: this.o,
      db: this.db,
      stop: this.stop,
      isFlushing: () => this.draining > 0 || this.closing !== null,
      labelsOf: (id) => this.labelsOf(id),
      tenantOf: (id, labels) => this.tenantOf(id, labels),
      onDelivered: (samples, tenant) => {
        c.sentSamples += samples;
        c.sentRequests++;
        c.lastSuccessAt = this.o.now();
        if (tenant !== null) tenant.sentSamples += samples;
        reachable();
      },
      onDropped: (samples, message, byEngine, tenant) => {
        c.failedSamples += samples;
        c.failedRequests++;
        if (tenant !== null) {
          tenant.failedSamples += samples;
          message = `tenant ${JSON.stringify(tenant.id)}: ${message}`;
        }
        c.lastError = { message, at: this.o.now() };
        if (byEngine) {
          reachable();
          const to = tenant === null ? url : displayUrl(tenant.url);
          this.o.log(`remote-write to ${to} refused ${samples} samples for good, dropped them: ${message}`);
        } else this.o.log(`remote-write dropped ${samples} samples: ${message}`);
      },
      onNoTenant: (samples, why) => this.noTenant(samples, why),
      onRetry: (message, tenant) => {
        const now = this.o.now();
        if (tenant !== null) {
          tenant.retries++;
          message = `tenant ${JSON.stringify(tenant.id)}: ${message}`;
        }
        c.retries++;
        c.lastError = { message, at: now };
        if (c.unreachableSince === null) c.unreachableSince = now;
        if (now - this.lastOutageLog >= OUTAGE_LOG_EVERY_MS) {
          this.lastOutageLog = now;
          this.o.log(
            `remote-write to ${url} failing since ${new Date(c.unreachableSince).toISOString()} (${message}); retrying with backoff, ${this.queuedSamples} samples queued`,
          );
        }
      },
      onRemoved: (samples) => {
        this.queuedSamples -= samples;
      },
      onError: (message) => {
        c.lastError = { message, at: this.o.now() };
        this.o.log(`remote-write: ${message}`);
      },
    };
  }
}

/**
 * Tenant mode: the batch without the samples of series that belong to no tenant, or null when
 * every sample has a tenant (the batch is queued as it is). Values are copied as their bits.
 */
function withoutNoTenant(
  entries: readonly SeriesEntry[],
  ts: Float64Array,
  vs: Float64Array,
  n: number,
): { entries: SeriesEntry[]; ts: Float64Array; vs: Float64Array; n: number; why: NoTenant[] } | null {
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const t = entries[i].tenant;
    if (t !== null && t.problem !== null) bad++;
  }
  if (bad === 0) return null;
  const k = n - bad;
  const out = { entries: new Array<SeriesEntry>(k), ts: new Float64Array(k), vs: new Float64Array(k), n: k };
  const from = new Uint32Array(vs.buffer, vs.byteOffset, 2 * n);
  const to = new Uint32Array(out.vs.buffer);
  const why = new Set<NoTenant>();
  let j = 0;
  for (let i = 0; i < n; i++) {
    const t = entries[i].tenant;
    if (t !== null && t.problem !== null) {
      why.add(t);
      continue;
    }
    out.entries[j] = entries[i];
    out.ts[j] = ts[i];
    to[2 * j] = from[2 * i];
    to[2 * j + 1] = from[2 * i + 1];
    j++;
  }
  return { ...out, why: [...why] };
}

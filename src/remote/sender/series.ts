/**
 * The series this process has appended, in memory: labels → id, the id being both the appender's
 * ref and the key of the series' row in the queue (rows of samples carry ids, not labels, so a
 * sample costs 24 bytes on disk). Each series also has its shard (from a hash of its labels) and
 * its label fields ready to send.
 *
 * In tenant mode (option `tenant`) each series also has its tenant, resolved here once.
 *
 * Ids only grow, so a ref never names another series. A series unused for a while whose samples
 * have all left the queue is forgotten (`sweep`), in memory and on disk; an appender still holding
 * it gets it back at commit (`revive`) under the same id.
 */
import { type Labels, labelsHash, labelsKey } from "../../storage/index.js";
import type { TenantOf } from "./tenant.js";
import { encodeLabelFields } from "./wire.js";

export interface SeriesEntry {
  readonly id: number;
  readonly key: string;
  readonly shard: number;
  readonly labelFields: Uint8Array;
  /** Its tenant, or why it has none; null without tenant mode. */
  readonly tenant: TenantOf | null;
  /** Newest queue row holding a sample of it (0: none yet). */
  lastSeq: number;
  /** Last append, ms. */
  lastUsed: number;
  /** Its row exists in the queue's series table. */
  persisted: boolean;
  /** Forgotten by a sweep; `revive` brings it back. */
  dead: boolean;
}

export class SeriesRegistry {
  private readonly byKey = new Map<string, SeriesEntry>();
  private readonly byId = new Map<number, SeriesEntry>();

  constructor(
    readonly shards: number,
    private nextId: number,
    private readonly now: () => number,
    /** Tenant mode: a series' tenant from its labels. */
    private readonly tenantOf: ((labels: Labels) => TenantOf) | null = null,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  /** The live series a ref names, if any. */
  byRef(ref: number): SeriesEntry | undefined {
    return this.byId.get(ref);
  }

  /** The series of normalised labels, created (in memory only) if new. */
  getOrCreate(labels: Labels): SeriesEntry {
    const key = labelsKey(labels);
    let e = this.byKey.get(key);
    if (e === undefined) {
      e = {
        id: this.nextId++,
        key,
        shard: labelsHash(labels) % this.shards,
        labelFields: encodeLabelFields(labels),
        tenant: this.tenantOf === null ? null : this.tenantOf(labels),
        lastSeq: 0,
        lastUsed: this.now(),
        persisted: false,
        dead: false,
      };
      this.byKey.set(key, e);
      this.byId.set(e.id, e);
    }
    return e;
  }

  /**
   * A live entry for a series an appender holds: itself, or — if a sweep forgot it meanwhile — the
   * entry now registered for its labels, or itself registered again (to be persisted again).
   */
  revive(e: SeriesEntry): SeriesEntry {
    if (!e.dead) return e;
    const current = this.byKey.get(e.key);
    if (current !== undefined) return current;
    e.dead = false;
    e.persisted = false;
    this.byKey.set(e.key, e);
    this.byId.set(e.id, e);
    return e;
  }

  /**
   * Forgets series unused since `idleBefore` with no row at or after `minQueuedSeq` (null: the
   * queue is empty). Returns those whose series rows must be deleted.
   */
  sweep(minQueuedSeq: number | null, idleBefore: number): SeriesEntry[] {
    const deleted: SeriesEntry[] = [];
    for (const e of this.byId.values()) {
      if (e.lastUsed >= idleBefore) continue;
      if (minQueuedSeq !== null && e.lastSeq >= minQueuedSeq) continue;
      e.dead = true;
      this.byId.delete(e.id);
      this.byKey.delete(e.key);
      if (e.persisted) deleted.push(e);
    }
    return deleted;
  }
}

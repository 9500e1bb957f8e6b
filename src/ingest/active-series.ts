/**
 * Counts each project's active series (those written in the last `idleMs`), to cap them: a new
 * series past the cap is refused, series already active keep being written. The count is kept
 * here, in front of the store, so it holds the same in embedded and remote mode and costs one hash
 * look-up per series of a request, not per sample. A series is known by the store's 52-bit hash of its
 * labels (labelsHash): a collision lets one new series pass as known, which the cap can afford. The
 * caller hashes the labels and hands the same hash to the store's appender, so a guarded series is
 * hashed once, not twice.
 *
 * After a restart the counts start from zero and fill up again within one idle window, as
 * Mimir's active-series tracker does.
 */

export const ACTIVE_SERIES_IDLE_MS = 20 * 60_000;

/**
 * Series hash → when it was last written (ms), open addressing over two typed arrays: a Map keyed
 * by 52-bit numbers (not small integers) cost a third of the guard's time per series. Slots hold
 * hash + 1 so that 0 means empty; at most half the slots are used.
 */
class LastSeen {
  size = 0;
  private keys = new Float64Array(64);
  private at = new Float64Array(64);

  /** Marks `hash` seen at `now` if it is known or there is room under `cap`; false otherwise. */
  touch(hash: number, now: number, cap: number): boolean {
    const key = hash + 1;
    const mask = this.keys.length - 1;
    let i = (hash & mask) >>> 0;
    while (this.keys[i] !== 0) {
      if (this.keys[i] === key) {
        this.at[i] = now;
        return true;
      }
      i = (i + 1) & mask;
    }
    if (this.size >= cap) return false;
    this.keys[i] = key;
    this.at[i] = now;
    if (++this.size * 2 > this.keys.length) this.rebuild(this.keys.length * 2, Number.NEGATIVE_INFINITY);
    return true;
  }

  /** Forgets series last written before `oldest`. */
  sweep(oldest: number): void {
    let live = 0;
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] !== 0 && this.at[i] >= oldest) live++;
    let size = 64;
    while (size < live * 4) size *= 2;
    this.rebuild(size, oldest);
  }

  private rebuild(size: number, oldest: number): void {
    const { keys, at } = this;
    this.keys = new Float64Array(size);
    this.at = new Float64Array(size);
    this.size = 0;
    const mask = size - 1;
    for (let j = 0; j < keys.length; j++) {
      if (keys[j] === 0 || at[j] < oldest) continue;
      let i = ((keys[j] - 1) & mask) >>> 0;
      while (this.keys[i] !== 0) i = (i + 1) & mask;
      this.keys[i] = keys[j];
      this.at[i] = at[j];
      this.size++;
    }
  }
}

interface ProjectSeries {
  lastSeen: LastSeen;
  sweptAt: number;
}

export class ActiveSeries {
  private readonly projects = new Map<string, ProjectSeries>();

  constructor(
    private readonly maxPerProject: number,
    private readonly now: () => number = Date.now,
    private readonly idleMs: number = ACTIVE_SERIES_IDLE_MS,
  ) {}

  /**
   * Whether the series whose normalised labels hash to `hash` (labelsHash) may be written for
   * `project`; true marks it active. `now` is the caller's clock reading for the whole request, so
   * the clock is read once a request, not once a series.
   */
  admit(project: string, hash: number, now: number = this.now()): boolean {
    if (this.maxPerProject <= 0) return true;
    let p = this.projects.get(project);
    if (!p) {
      p = { lastSeen: new LastSeen(), sweptAt: now };
      this.projects.set(project, p);
    }
    // Sweeping once a minute keeps the cost per request flat and the count at most a minute stale.
    if (now - p.sweptAt >= 60_000) {
      p.lastSeen.sweep(now - this.idleMs);
      p.sweptAt = now;
    }
    return p.lastSeen.touch(hash, now, this.maxPerProject);
  }
}

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

interface ProjectSeries {
  /** Series hash → when it was last written (ms). */
  lastSeen: Map<number, number>;
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
      p = { lastSeen: new Map(), sweptAt: now };
      this.projects.set(project, p);
    }
    // Sweeping once a minute keeps the cost per request flat and the count at most a minute stale.
    if (now - p.sweptAt >= 60_000) this.sweep(p, now);
    if (p.lastSeen.has(hash) || p.lastSeen.size < this.maxPerProject) {
      p.lastSeen.set(hash, now);
      return true;
    }
    return false;
  }

  private sweep(p: ProjectSeries, now: number): void {
    const oldest = now - this.idleMs;
    for (const [key, at] of p.lastSeen) if (at < oldest) p.lastSeen.delete(key);
    p.sweptAt = now;
  }
}

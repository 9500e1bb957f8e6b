/**
 * Who may run work meant to run once across replicas (the rules): a lease in PostgreSQL
 * (src/auth/pg/lease.ts) when there are several replicas, SOLE_LEADER when this node is alone.
 * Defined here, by its user, so the rules need not know where a lease is kept.
 */

/** What work that must run on one replica asks before (and while) doing it. */
export interface Leadership {
  /** Whether this replica holds the lease now. */
  isLeader(): boolean;
  /** How much longer (ms) this replica is sure to hold it; 0 when it does not. */
  remainingMs(): number;
}

/** For one node: always the leader. */
export const SOLE_LEADER: Leadership = {
  isLeader: () => true,
  remainingMs: () => Number.POSITIVE_INFINITY,
};

/**
 * For a periodic task that must run on one replica: runs `task` only when the lease will last at
 * least `minRemainingMs` more (what one run may take), so a run is never started by a replica that
 * may lose the lease before it ends. Returns whether it ran.
 */
export async function runIfLeader(
  lease: Leadership,
  minRemainingMs: number,
  task: () => Promise<void> | void,
): Promise<boolean> {
  if (lease.remainingMs() < minRemainingMs) return false;
  await task();
  return true;
}

import type { SyncMode } from "./sqlite-store.js";

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;

export type TsdbLogLevel = "info" | "warn";
export type TsdbLog = (message: string, level: TsdbLogLevel) => void;

export interface TsdbOptions {
  /** Directory holding `tsdb.sqlite` (and its `-wal`/`-shm` files); created if missing. */
  dir: string;
  /** How long samples are kept, in ms (default 15 days). Deleted in whole blocks. */
  retentionMs?: number;
  /**
   * "normal" (default): a commit survives a crash of the process; a power loss may lose the
   * commits since SQLite's last WAL sync. "full": every commit is fsynced before it returns.
   */
  sync?: SyncMode;
  /**
   * Time span of one block of persisted chunks, in ms (default 2 h, as Prometheus's head blocks).
   * A new data dir records it; a dir keeps the span it was created with.
   */
  blockDurationMs?: number;
  /**
   * Closed chunks stay in memory this long after their last sample, in ms (default 1 h: what a
   * dashboard's default range reads). Older chunks are read from block tables and block files.
   */
  memoryWindowMs?: number;
  /** Checkpoint the head at least this often, in ms (default 5 min). */
  checkpointIntervalMs?: number;
  /** ... or once this many bytes of log were written since the last one (default 64 MiB). */
  checkpointWalBytes?: number;
  /** Background maintenance period in ms (retention, eviction, checkpoints); 0 disables the timer. */
  maintenanceIntervalMs?: number;
  /**
   * Upper bound on the database file in bytes (0 = none). A commit that would grow past it fails
   * with a StorageError, as on a full disk; nothing stored is lost. Retention frees space.
   */
  maxDiskBytes?: number;
  /** Run SQLite's structural check when opening (default true). */
  verifyOnOpen?: boolean;
  /**
   * Receives one line per notable event (recovery, retention: "info"; damage, a full disk, a
   * failed maintenance pass: "warn").
   */
  log?: TsdbLog;
  /** Wall clock in ms; retention never counts from a time later than this. */
  now?: () => number;
}

export type ResolvedOptions = Required<TsdbOptions>;

export function resolveOptions(o: TsdbOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    dir: o.dir,
    retentionMs: o.retentionMs ?? 15 * DAY_MS,
    sync: o.sync ?? "normal",
    blockDurationMs: o.blockDurationMs ?? 2 * HOUR_MS,
    memoryWindowMs: o.memoryWindowMs ?? HOUR_MS,
    checkpointIntervalMs: o.checkpointIntervalMs ?? 5 * 60_000,
    checkpointWalBytes: o.checkpointWalBytes ?? 64 * 1024 * 1024,
    maintenanceIntervalMs: o.maintenanceIntervalMs ?? 60_000,
    maxDiskBytes: o.maxDiskBytes ?? 0,
    verifyOnOpen: o.verifyOnOpen ?? true,
    log: o.log ?? (() => {}),
    now: o.now ?? Date.now,
  };
  for (const key of [
    "retentionMs",
    "blockDurationMs",
    "memoryWindowMs",
    "checkpointIntervalMs",
    "checkpointWalBytes",
  ] as const) {
    const v = resolved[key];
    if (!Number.isFinite(v) || v <= 0)
      throw new RangeError(`option ${key} must be a positive number, got ${v}`);
  }
  if (resolved.sync !== "normal" && resolved.sync !== "full") {
    throw new RangeError(`option sync must be "normal" or "full", got ${JSON.stringify(resolved.sync)}`);
  }
  return resolved;
}

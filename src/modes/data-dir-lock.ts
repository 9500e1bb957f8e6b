/**
 * One process per data directory (issue 14), as Prometheus keeps `<data-dir>/lock`. Node has no
 * flock, so the lock is a record in that file, judged by whoever comes next:
 *
 * - `<data-dir>/lock` holds one JSON line (padded with spaces to a fixed size):
 *   `{"pid":1234,"hostname":"h","startedAt":"2026-…Z","bootId":"…","procStart":"…","id":"…"}`
 *   while held; on release the same record with `"releasedAt"` added. The file stays between runs
 *   on purpose: a start rewrites it in place, inside blocks it already has, so a start on a full
 *   disk takes the lock as it did before the disk filled (a fresh file's first block could not be
 *   allocated there). Where even that fails (no lock file yet, copy-on-write, no inode left) the
 *   process runs unlocked with a warning rather than refuse a start that worked before the lock.
 * - The holder is alive when it is on this host, the host has not rebooted since (`bootId`, the
 *   kernel's boot id), `process.kill(pid, 0)` finds the pid, and that pid's start time (field 22
 *   of /proc/<pid>/stat) is the recorded `procStart` — a pid reused by another process after the
 *   holder died is not mistaken for it. A dead holder, a released record or an unreadable file
 *   (garbage, a power cut's empty file) is free to take. A holder on another host cannot be
 *   checked and counts as alive.
 * - Every judging and writing of `lock` happens while holding `<data-dir>/lock.acquire`, an empty
 *   file made with an exclusive create and removed a few microseconds later: of two processes
 *   racing for a stale lock, the one that creates it judges and writes; the other is refused
 *   (`lock.acquire` exists) and re-reading `lock` names the winner. So at most one wins, without
 *   timeouts. A process killed inside those microseconds leaves `lock.acquire` behind; the next
 *   start refuses and says to remove it, rather than guess.
 *
 * Known limits: processes in other pid namespaces with the same hostname (containers sharing
 * both the hostname and the volume) cannot see each other's pids; NFS is not supported.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { isDiskFullError } from "../storage/index.js";

export const LOCK_FILE = "lock";
export const ACQUIRE_FILE = "lock.acquire";
/** The record is padded to this many bytes, so rewriting it never grows the file past its block. */
const RECORD_BYTES = 512;

export interface LockRecord {
  pid: number;
  hostname: string;
  /** When the holder took the lock (ISO 8601, UTC). */
  startedAt: string;
  /** /proc/sys/kernel/random/boot_id at that time (Linux), to see past a reboot. */
  bootId?: string;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot), to see past a reused pid. */
  procStart?: string;
  /** Random, so a holder recognises its own record on release. */
  id: string;
  /** Set on release: the lock is free. */
  releasedAt?: string;
}

/** Who this process is, as recorded in the lock; tests pass another to play a second process. */
export interface LockIdentity {
  pid: number;
  hostname: string;
  bootId?: string;
  procStart?: string;
}

export interface LockOptions {
  /** Default: this process. */
  self?: LockIdentity;
  now?: () => Date;
  /** Called while holding lock.acquire, before `lock` is read (tests race a second acquire here). */
  onAcquiring?: () => void;
}

export interface DataDirLock {
  /** <data-dir>/lock */
  readonly path: string;
  /** False only when the disk was too full to write the record: the process runs unprotected. */
  readonly locked: boolean;
  /** Why it is not locked (when `locked` is false). */
  readonly warning?: string;
  /** Marks the lock released, if the record is still ours; idempotent. */
  release(): void;
}

/** A live process holds the data directory (or is taking its lock right now). */
export class DataDirInUseError extends Error {
  override readonly name = "DataDirInUseError";
  constructor(
    readonly dir: string,
    /** The holder's record; null when only lock.acquire was found. */
    readonly holder: LockRecord | null,
    message: string,
  ) {
    super(message);
  }
}

function readProcStart(pid: number | "self"): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function readBootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

export function currentIdentity(): LockIdentity {
  return {
    pid: process.pid,
    hostname: osHostname(),
    bootId: readBootId(),
    procStart: readProcStart("self"),
  };
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

// The store's own test of a full disk (ENOSPC among them), plus a user's disk quota, which stops
// the lock's one small write just as surely.
const isNoSpace = (err: unknown) => isDiskFullError(err) || errCode(err) === "EDQUOT";

/** The record in `text`, or null for anything else (garbage, truncated, empty). */
export function parseLockRecord(text: string): LockRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const r = v as Record<string, unknown>;
  const optString = (k: string) => r[k] === undefined || typeof r[k] === "string";
  if (
    !Number.isSafeInteger(r.pid) ||
    (r.pid as number) <= 0 ||
    typeof r.hostname !== "string" ||
    typeof r.startedAt !== "string" ||
    typeof r.id !== "string" ||
    !optString("bootId") ||
    !optString("procStart") ||
    !optString("releasedAt")
  )
    return null;
  return r as unknown as LockRecord;
}

type Holder = "alive" | "elsewhere" | "gone";

/** Whether the record's holder still runs, seen from `self`. */
export function judgeHolder(rec: LockRecord, self: LockIdentity): Holder {
  if (rec.releasedAt !== undefined) return "gone";
  if (rec.hostname !== self.hostname) return "elsewhere";
  if (rec.bootId && self.bootId && rec.bootId !== self.bootId) return "gone";
  try {
    process.kill(rec.pid, 0);
  } catch (err) {
    // EPERM: it exists, under another user.
    if (errCode(err) === "ESRCH") return "gone";
  }
  // Also for our own pid: in a restarted container the new process gets the old one's pid (1).
  if (rec.procStart !== undefined) {
    const now = readProcStart(rec.pid);
    if (now !== undefined && now !== rec.procStart) return "gone";
  }
  return "alive";
}

function inUseMessage(dir: string, rec: LockRecord, holder: Holder): string {
  const where = `pid ${rec.pid} (started ${rec.startedAt} on host ${rec.hostname})`;
  return holder === "elsewhere"
    ? `data dir ${dir} is in use by ${where}, another host, which cannot be checked from here; stop it or use another --data-dir (if it no longer runs, remove ${join(dir, LOCK_FILE)})`
    : `data dir ${dir} is in use by ${where}; stop it or use another --data-dir`;
}

/** The record in `path`, or null when it is missing or unreadable. */
function readRecord(path: string): { rec: LockRecord | null; exists: boolean } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (errCode(err) === "ENOENT") return { rec: null, exists: false };
    return { rec: null, exists: true };
  }
  return { rec: parseLockRecord(text), exists: true };
}

function recordBytes(rec: LockRecord): Buffer {
  const json = JSON.stringify(rec);
  return Buffer.from(`${json.padEnd(RECORD_BYTES - 1)}\n`);
}

/** Writes `rec` over the file's start and cuts what was after it. */
function writeRecordAt(fd: number, rec: LockRecord): void {
  const buf = recordBytes(rec);
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, off);
  ftruncateSync(fd, buf.length);
}

/**
 * Takes `<dir>/lock` for this process, or throws DataDirInUseError naming the holder. Synchronous,
 * so nothing of the data directory is opened before it returns. On a disk too full to write the
 * record it returns an unlocked handle with the reason rather than refusing a start that worked
 * before the lock existed.
 */
export function acquireDataDirLock(dir: string, options: LockOptions = {}): DataDirLock {
  const self = options.self ?? currentIdentity();
  const now = options.now ?? (() => new Date());
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const acquirePath = join(dir, ACQUIRE_FILE);

  try {
    closeSync(openSync(acquirePath, "wx"));
  } catch (err) {
    if (isNoSpace(err)) {
      // Not even an empty file fits (no inode left): refuse a live holder, else run unlocked.
      refuseLiveHolder(dir, path, self);
      return unlocked(dir, path, "lock.acquire could not be created");
    }
    if (errCode(err) !== "EEXIST") {
      throw new Error(
        `data dir ${dir}: cannot create ${acquirePath} to take the lock: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    // Someone is judging the lock right now (and will hold it), or was killed doing so.
    refuseLiveHolder(dir, path, self);
    throw new DataDirInUseError(
      dir,
      null,
      `data dir ${dir} is being locked by another process (${acquirePath} exists); if no other mim runs on this data dir, a start was killed while taking the lock: remove ${acquirePath}`,
    );
  }
  try {
    options.onAcquiring?.();
    return takeLock(dir, path, self, now);
  } finally {
    try {
      unlinkSync(acquirePath);
    } catch {
      // Gone already (removed by hand): nothing to undo.
    }
  }
}

/** Throws DataDirInUseError if `lock` names a holder that still runs (or cannot be checked). */
function refuseLiveHolder(dir: string, path: string, self: LockIdentity): void {
  const { rec } = readRecord(path);
  if (!rec) return;
  const holder = judgeHolder(rec, self);
  if (holder !== "gone") throw new DataDirInUseError(dir, rec, inUseMessage(dir, rec, holder));
}

function unlocked(dir: string, path: string, what: string): DataDirLock {
  return {
    path,
    locked: false,
    warning: `data dir ${dir}: the disk is full, so ${what}: running without the data-dir lock (a second process on this data dir is not refused); free space and restart to lock it`,
    release: () => {},
  };
}

/** Judges and writes `lock`; only ever called while holding lock.acquire. */
function takeLock(dir: string, path: string, self: LockIdentity, now: () => Date): DataDirLock {
  refuseLiveHolder(dir, path, self);
  const mine: LockRecord = {
    pid: self.pid,
    hostname: self.hostname,
    startedAt: now().toISOString(),
    ...(self.bootId ? { bootId: self.bootId } : {}),
    ...(self.procStart ? { procStart: self.procStart } : {}),
    id: randomBytes(8).toString("hex"),
  };
  let fd: number;
  let created = false;
  try {
    // In place when it exists (a stale, released or damaged record), so its block is reused.
    fd = openSync(path, "r+");
  } catch (err) {
    if (errCode(err) !== "ENOENT") {
      throw new Error(`data dir ${dir}: cannot open the lock file ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      fd = openSync(path, "wx");
    } catch (err) {
      if (isNoSpace(err)) return unlocked(dir, path, `the lock file ${path} could not be created`);
      throw new Error(`data dir ${dir}: cannot create the lock file ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    created = true;
  }
  try {
    writeRecordAt(fd, mine);
  } catch (err) {
    closeSync(fd);
    if (!isNoSpace(err)) {
      throw new Error(`data dir ${dir}: cannot write the lock file ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    // A file left empty or half-written would only be garbage for the next start to take over.
    if (created) unlinkQuietly(path);
    return unlocked(dir, path, `the lock file ${path} could not be written`);
  }
  closeSync(fd);
  let released = false;
  return {
    path,
    locked: true,
    release: () => {
      if (released) return;
      released = true;
      releaseRecord(path, mine);
    },
  };
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Nothing to remove.
  }
}

/** Marks `mine` released in place if `lock` still holds it (never another holder's record). */
function releaseRecord(path: string, mine: LockRecord): void {
  let fd: number;
  try {
    fd = openSync(path, "r+");
  } catch {
    return; // Removed by hand: nothing of ours is left.
  }
  try {
    const buf = Buffer.alloc(RECORD_BYTES * 2);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const rec = parseLockRecord(buf.subarray(0, n).toString("utf8"));
    if (rec?.id !== mine.id || rec.pid !== mine.pid) return;
    try {
      writeRecordAt(fd, { ...mine, releasedAt: new Date().toISOString() });
    } catch {
      // A file system that needs new space for any write (copy-on-write) and is full: removing
      // the file frees the lock as well, and always works.
      closeSync(fd);
      fd = -1;
      unlinkQuietly(path);
    }
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

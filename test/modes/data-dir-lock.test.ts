/**
 * The data directory's lock (src/modes/data-dir-lock.ts, issue 14) on its own: what counts as a
 * live holder (pid, reused pid, reboot, other host), stale and garbage records taken over,
 * release only of our own record, a race for a stale lock with exactly one winner (in-process,
 * interleaved at the one point where two processes could meet, and with real processes), and a
 * full disk (real tmpfs; root only).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type RunningService, startService } from "../../src/cli/service.js";
import {
  ACQUIRE_FILE,
  acquireDataDirLock,
  currentIdentity,
  DataDirInUseError,
  LOCK_FILE,
  type LockRecord,
  parseLockRecord,
} from "../../src/modes/data-dir-lock.js";
import { capturedLogs, testServiceConfig } from "../support/service-config.js";
import { canMountTmpfs, fillDisk, mountTmpfs, unmountTmpfs } from "../support/tmpfs.js";

const RACE_CHILD = fileURLToPath(new URL("../support/lock-race-child.ts", import.meta.url));

/** Above Linux's largest possible pid_max (2^22): never a live process. */
const DEAD_PID = 2 ** 22 + 1;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "mim-lock-"));
}

function record(over: Partial<LockRecord> = {}): LockRecord {
  const me = currentIdentity();
  return {
    pid: DEAD_PID,
    hostname: me.hostname,
    startedAt: "2026-01-02T03:04:05.000Z",
    ...(me.bootId ? { bootId: me.bootId } : {}),
    id: "0123456789abcdef",
    ...over,
  };
}

function writeRecord(dir: string, rec: LockRecord | string): void {
  writeFileSync(join(dir, LOCK_FILE), typeof rec === "string" ? rec : JSON.stringify(rec));
}

function readLock(dir: string): LockRecord | null {
  return parseLockRecord(readFileSync(join(dir, LOCK_FILE), "utf8"));
}

function assertInUse(fn: () => unknown, holder: RegExp): DataDirInUseError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DataDirInUseError, `expected DataDirInUseError, got ${String(caught)}`);
  assert.match(caught.message, holder);
  return caught;
}

describe("the data-dir lock", () => {
  it("writes the record, refuses a second taker naming the holder, and frees it on release", () => {
    const dir = tempDir();
    try {
      const lock = acquireDataDirLock(dir, { now: () => new Date("2026-12-07T10:00:00Z") });
      assert.equal(lock.locked, true);
      assert.equal(lock.path, join(dir, LOCK_FILE));
      const rec = readLock(dir);
      assert.ok(rec);
      assert.equal(rec.pid, process.pid);
      assert.equal(rec.hostname, hostname());
      assert.equal(rec.startedAt, "2026-12-07T10:00:00.000Z");
      assert.equal(rec.releasedAt, undefined);
      assert.equal(statSync(lock.path).size, 512);
      assert.equal(existsSync(join(dir, ACQUIRE_FILE)), false);
      // This process again (a second service in it): alive, so refused.
      const err = assertInUse(() => acquireDataDirLock(dir), /./);
      assert.equal(
        err.message,
        `data dir ${dir} is in use by pid ${process.pid} (started 2026-12-07T10:00:00.000Z on host ${hostname()}); stop it or use another --data-dir`,
      );
      assert.equal(err.holder?.pid, process.pid);

      lock.release();
      lock.release();
      const released = readLock(dir);
      assert.ok(released?.releasedAt, "the record stays, marked released");
      const again = acquireDataDirLock(dir);
      assert.equal(again.locked, true);
      assert.equal(readLock(dir)?.releasedAt, undefined);
      // A stale handle's release never frees another holder's lock.
      lock.release();
      assert.equal(readLock(dir)?.releasedAt, undefined);
      again.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes over a dead pid's lock, a reused pid's, one from before a reboot, and garbage", () => {
    const me = currentIdentity();
    assert.ok(me.procStart, "Linux: /proc/self/stat is readable");
    const stale: Array<[string, LockRecord | string]> = [
      ["dead pid", record()],
      // Our own pid, as a restarted container's pid 1 would see it, but an earlier process.
      ["reused pid", record({ pid: process.pid, procStart: "1" })],
      ["before a reboot", record({ pid: process.pid, bootId: "00000000-0000-0000-0000-000000000000" })],
      ["garbage", "\u0000\u0000not json at all"],
      ["empty (a power cut)", ""],
      ["a record of the wrong shape", JSON.stringify({ pid: "1234", hostname: 7 })],
    ];
    for (const [what, rec] of stale) {
      const dir = tempDir();
      try {
        writeRecord(dir, rec);
        const lock = acquireDataDirLock(dir);
        assert.equal(lock.locked, true, what);
        assert.equal(readLock(dir)?.pid, process.pid, what);
        lock.release();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it("refuses a live holder with its start time matching, and one on another host", () => {
    const dir = tempDir();
    try {
      const me = currentIdentity();
      writeRecord(dir, record({ pid: process.pid, procStart: me.procStart }));
      assertInUse(() => acquireDataDirLock(dir), new RegExp(`in use by pid ${process.pid} \\(started`));
      writeRecord(dir, record({ hostname: "elsewhere-host" }));
      assertInUse(
        () => acquireDataDirLock(dir),
        new RegExp(
          `in use by pid ${DEAD_PID} \\(started 2026-01-02T03:04:05.000Z on host elsewhere-host\\), another host, .*remove ${join(dir, LOCK_FILE)}`,
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("of two racing for a stale lock exactly one wins, the other is refused naming it", () => {
    const dir = tempDir();
    try {
      writeRecord(dir, record());
      const other = { ...currentIdentity(), pid: DEAD_PID - 1 };
      let loser: unknown;
      // The second taker arrives while the first is judging and writing (the only window).
      const winner = acquireDataDirLock(dir, {
        onAcquiring: () => {
          try {
            acquireDataDirLock(dir, { self: other });
          } catch (err) {
            loser = err;
          }
        },
      });
      assert.equal(winner.locked, true);
      assert.ok(loser instanceof DataDirInUseError, String(loser));
      assert.match(loser.message, /is being locked by another process/);
      assert.equal(readLock(dir)?.pid, process.pid);
      // Arriving just after: refused too, naming the winner.
      assertInUse(() => acquireDataDirLock(dir, { self: other }), new RegExp(`pid ${process.pid}`));
      winner.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says what to do about a lock.acquire left by a start killed while taking the lock", () => {
    const dir = tempDir();
    try {
      writeRecord(dir, record());
      writeFileSync(join(dir, ACQUIRE_FILE), "");
      assertInUse(
        () => acquireDataDirLock(dir),
        new RegExp(`a start was killed while taking the lock: remove ${join(dir, ACQUIRE_FILE)}`),
      );
      unlinkSync(join(dir, ACQUIRE_FILE));
      acquireDataDirLock(dir).release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("of processes racing for a stale lock exactly one wins", async () => {
    const dir = tempDir();
    const children: ChildProcess[] = [];
    try {
      writeRecord(dir, record());
      const results = await Promise.all(
        Array.from({ length: 4 }, () => {
          const child = spawn(process.execPath, ["--import", "tsx", RACE_CHILD, dir], {
            stdio: ["pipe", "pipe", "inherit"],
          });
          children.push(child);
          return new Promise<string>((resolve) => {
            let out = "";
            child.stdout?.on("data", (d: Buffer) => {
              out += String(d);
              if (out.includes("\n")) resolve(out.trim());
            });
            child.once("exit", () => resolve(out.trim()));
          });
        }),
      );
      // Each answered while the winner still held the lock (it holds until its stdin ends).
      assert.equal(results.filter((r) => r === "won").length, 1, results.join("\n"));
      for (const r of results.filter((r) => r !== "won")) {
        assert.match(r, /^lost data dir .* (is in use by pid \d+|is being locked by another process)/);
      }
    } finally {
      for (const c of children) c.stdin?.end();
      await Promise.all(
        children.map((c) =>
          c.exitCode !== null ? undefined : new Promise((resolve) => c.once("exit", resolve)),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the data-dir lock on a full disk", {
  skip: canMountTmpfs() ? false : "needs root and tmpfs mounts",
}, () => {
  it("reuses the lock file of an earlier run in place, and refuses a second taker", () => {
    const dir = mountTmpfs("1m", "mim-lock-full-");
    assert.ok(dir);
    try {
      acquireDataDirLock(dir).release();
      writeRecord(dir, JSON.stringify(record()).padEnd(511)); // a crash's stale record
      fillDisk(join(dir, "filler"));
      const lock = acquireDataDirLock(dir);
      assert.equal(lock.locked, true, lock.warning);
      assert.equal(readLock(dir)?.pid, process.pid);
      assertInUse(() => acquireDataDirLock(dir), new RegExp(`pid ${process.pid}`));
      lock.release();
      assert.ok(readLock(dir)?.releasedAt);
    } finally {
      unmountTmpfs(dir);
    }
  });

  it("without a lock file from before, runs unlocked and says why", () => {
    const dir = mountTmpfs("1m", "mim-lock-full-");
    assert.ok(dir);
    try {
      fillDisk(join(dir, "filler"));
      const lock = acquireDataDirLock(dir);
      assert.equal(lock.locked, false);
      assert.match(String(lock.warning), /the disk is full, so the lock file .* could not be written/);
      assert.equal(existsSync(join(dir, LOCK_FILE)), false, "no empty file left to be taken for garbage");
      assert.equal(existsSync(join(dir, ACQUIRE_FILE)), false);
      lock.release();
    } finally {
      unmountTmpfs(dir);
    }
  });

  it("with no inode left for lock.acquire, still refuses a live holder, else runs unlocked", () => {
    // tmpfs's inode limit rides on the size option (mountTmpfs passes it through).
    const dir = mountTmpfs("1m,nr_inodes=64", "mim-lock-full-");
    assert.ok(dir);
    try {
      const me = currentIdentity();
      writeRecord(dir, record({ pid: process.pid, procStart: me.procStart }));
      for (let i = 0; ; i++) {
        try {
          writeFileSync(join(dir, `f${i}`), "");
        } catch (err) {
          assert.equal((err as NodeJS.ErrnoException).code, "ENOSPC");
          break;
        }
      }
      assertInUse(() => acquireDataDirLock(dir), new RegExp(`in use by pid ${process.pid} `));
      writeRecord(dir, record());
      const lock = acquireDataDirLock(dir);
      assert.equal(lock.locked, false);
      assert.match(
        String(lock.warning),
        /lock\.acquire could not be created: running without the data-dir lock/,
      );
    } finally {
      unmountTmpfs(dir);
    }
  });

  it("a service on a data dir from before the lock existed still starts, and logs why it is not locked", async () => {
    const dir = mountTmpfs("4m", "mim-lock-full-");
    assert.ok(dir);
    const { logs, logDestination } = capturedLogs();
    const config = testServiceConfig(dir, "mim_adm_lock-full-disk-key-0123456789", {
      queryWorkers: 1,
      builtinRules: false,
      logLevel: "warn",
      logDestination,
    });
    let s: RunningService | null = null;
    try {
      s = await startService(config);
      await s.close();
      s = null;
      unlinkSync(join(dir, LOCK_FILE));
      fillDisk(join(dir, "filler"));
      s = await startService(config);
      assert.equal(s.dataDirLock.locked, false);
      assert.match(logs.join(""), /"component":"data-dir".*running without the data-dir lock/);
      assert.equal((await fetch(`${s.url}/-/ready`)).status, 200);
    } finally {
      await s?.close();
      unmountTmpfs(dir);
    }
  });
});

/**
 * Real full disks for tests: a small tmpfs mounted on a fresh temp directory (root only, in a
 * container that allows mounts), filled to the last block. Tests use `canMountTmpfs()` to skip
 * with a reason where mounting is not possible.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A tmpfs of `size` (e.g. "2m"), when this process may mount one; null otherwise. */
export function mountTmpfs(size: string, prefix = "mim-disk-full-"): string | null {
  if (process.getuid?.() !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return dir;
}

/** Unmounts (lazily if something still holds a file there, so the mount never outlives the test). */
export function unmountTmpfs(dir: string): void {
  if (spawnSync("umount", [dir]).status !== 0) spawnSync("umount", ["-l", dir]);
  rmSync(dir, { recursive: true, force: true });
}

/** Writes `file` until ENOSPC: afterwards not one more block can be allocated on its filesystem. */
export function fillDisk(file: string): void {
  try {
    writeFileSync(file, Buffer.alloc(64 << 20));
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, "ENOSPC");
    return;
  }
  assert.fail("the filler fitted: the tmpfs is larger than expected");
}

let mountable: boolean | undefined;

/** Whether this process can mount a tmpfs (checked once, with a 64 KiB mount). */
export function canMountTmpfs(): boolean {
  if (mountable === undefined) {
    const dir = mountTmpfs("64k");
    if (dir) unmountTmpfs(dir);
    mountable = dir !== null;
  }
  return mountable;
}

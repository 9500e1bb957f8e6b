/**
 * A process racing for a data-dir lock (test/modes/data-dir-lock.test.ts): tries the lock in
 * argv[2], prints "won" or "lost <message>", and a winner holds it until its stdin ends, so every
 * racer answers while the winner still holds it.
 */
import { acquireDataDirLock, DataDirInUseError } from "../../src/modes/data-dir-lock.js";

const dir = process.argv[2];
if (!dir) throw new Error("usage: lock-race-child.ts DATA_DIR");
try {
  const lock = acquireDataDirLock(dir);
  process.stdout.write("won\n");
  process.stdin.resume();
  process.stdin.on("end", () => {
    lock.release();
    process.exit(0);
  });
} catch (err) {
  process.stdout.write(`lost ${(err as Error).message}\n`);
  process.exit(err instanceof DataDirInUseError ? 3 : 1);
}

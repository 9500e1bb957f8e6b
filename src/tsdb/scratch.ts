/**
 * A TSDB in a fresh temporary directory that is deleted when it closes: for test scripts and
 * tools that load data, query it once and throw it away (the PromQL test runner's storage).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Storage } from "../storage/index.js";
import { Tsdb } from "./tsdb.js";

/** A thousand years of retention, so samples near Unix time 0 are never outside the window. */
const RETENTION_MS = 1000 * 365 * 86_400_000;

/** Opens a scratch TSDB under `parentDir` (default: the OS temp dir); close() removes it. */
export function openScratchTsdb(parentDir: string = tmpdir()): Storage {
  const dir = mkdtempSync(join(parentDir, "scratch-tsdb-"));
  let db: Tsdb;
  try {
    db = Tsdb.open({ dir, maintenanceIntervalMs: 0, retentionMs: RETENTION_MS, verifyOnOpen: false });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    appender: () => db.appender(),
    querier: (mint, maxt) => db.querier(mint, maxt),
    close() {
      try {
        db.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

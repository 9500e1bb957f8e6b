/**
 * One process per data directory (issue 14), through the service and the `mim` binary:
 * - a second service on a live data dir (embedded or remote mode) is refused before it opens
 *   anything, and the first is unaffected; closing releases the lock for the next start;
 * - a second `mim serve` process is refused with one line naming the holder and exit code 1, and
 *   so is `mim inspect` (which would replay and checkpoint the store);
 * - the lock of a `mim serve` killed with SIGKILL is taken over by the next start.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type RunningService, startService } from "../../src/cli/service.js";
import { DataDirInUseError, LOCK_FILE, parseLockRecord } from "../../src/modes/data-dir-lock.js";
import { type MimProcess, spawnMimServe } from "../support/mim-process.js";
import { testServiceConfig } from "../support/service-config.js";

const ADMIN_KEY = "mim_adm_data-dir-lock-test-0123456789";
const SERVE_FLAGS = [
  "--listen",
  "127.0.0.1:0",
  "--gateway-listen",
  "127.0.0.1:0",
  "--no-cli-config",
  "--no-builtin-rules",
  "--log-level",
  "silent",
  "--query-workers",
  "1",
];

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "mim-lock-cli-"));
}

function inUseLine(dir: string, pid: number): RegExp {
  return new RegExp(
    `^mim: data dir ${dir} is in use by pid ${pid} \\(started \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z on host ${hostname()}\\); stop it or use another --data-dir\\n$`,
  );
}

function mim(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "src/cli/mim.ts", ...args], {
    encoding: "utf8",
    env: { ...process.env, MIM_ADMIN_KEY: ADMIN_KEY },
    timeout: 60_000,
  });
}

const modes: Array<[string, Parameters<typeof testServiceConfig>[2]]> = [
  ["embedded", { queryWorkers: 1 }],
  // Nothing listens on port 9 (discard): the queue keeps its rows, and nothing here needs them sent.
  [
    "remote",
    {
      remote: { writeUrl: "http://127.0.0.1:9/api/v1/write", queryUrl: "http://127.0.0.1:9" },
      builtinRules: false,
    },
  ],
];

describe("one process per data dir", () => {
  for (const [mode, extra] of modes) {
    it(`${mode}: refuses a second service on a live data dir, and the first still answers`, async () => {
      const dir = tempDir();
      let first: RunningService | null = null;
      let third: RunningService | null = null;
      try {
        first = await startService(testServiceConfig(dir, ADMIN_KEY, extra));
        const before = readdirSync(dir).sort();
        await assert.rejects(startService(testServiceConfig(dir, ADMIN_KEY, extra)), (err: Error) => {
          assert.ok(err instanceof DataDirInUseError, String(err));
          assert.match(err.message, new RegExp(`^data dir ${dir} is in use by pid ${process.pid} `));
          return true;
        });
        assert.deepEqual(readdirSync(dir).sort(), before, "the refused start made or left no file");
        assert.equal((await fetch(`${first.url}/-/ready`)).status, 200);
        const token = await first.tokens.create("alpha", "after-refusal", null);
        assert.ok(token.token);

        await first.close();
        first = null;
        assert.ok(
          parseLockRecord(readFileSync(join(dir, LOCK_FILE), "utf8"))?.releasedAt,
          "released on close",
        );
        third = await startService(testServiceConfig(dir, ADMIN_KEY, extra));
        assert.equal(third.dataDirLock.locked, true);
        assert.equal((await fetch(`${third.url}/-/ready`)).status, 200);
      } finally {
        await first?.close();
        await third?.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("mim serve and mim inspect refuse a data dir a running mim serve holds", async () => {
    const dir = tempDir();
    let first: MimProcess | null = null;
    try {
      first = await spawnMimServe(["--data-dir", dir, ...SERVE_FLAGS], {
        ...process.env,
        MIM_ADMIN_KEY: ADMIN_KEY,
      });
      const pid = first.child.pid;
      assert.ok(pid);
      const serve = mim(["serve", "--data-dir", dir, ...SERVE_FLAGS]);
      assert.equal(serve.status, 1, serve.stderr);
      assert.match(serve.stderr, inUseLine(dir, pid));
      const inspect = mim(["inspect", "--data-dir", dir]);
      assert.equal(inspect.status, 1, inspect.stderr);
      assert.match(inspect.stderr, inUseLine(dir, pid));
      assert.equal(inspect.stdout, "");
      assert.equal((await fetch(`${first.url}/-/ready`)).status, 200, "the first is unaffected");
      assert.equal(await first.stop(), 0);
      first = null;
      // Stopped cleanly: inspect may open it now.
      const after = mim(["inspect", "--data-dir", dir]);
      assert.equal(after.status, 0, after.stderr);
    } finally {
      await first?.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes over the lock of a mim serve killed with SIGKILL", async () => {
    const dir = tempDir();
    let s: RunningService | null = null;
    try {
      const killed = await spawnMimServe(["--data-dir", dir, ...SERVE_FLAGS], {
        ...process.env,
        MIM_ADMIN_KEY: ADMIN_KEY,
      });
      const pid = killed.child.pid;
      await killed.stop("SIGKILL");
      const stale = parseLockRecord(readFileSync(join(dir, LOCK_FILE), "utf8"));
      assert.equal(stale?.pid, pid, "the dead process's record is left behind");
      assert.equal(stale?.releasedAt, undefined);
      s = await startService(testServiceConfig(dir, ADMIN_KEY, { queryWorkers: 1 }));
      assert.equal(s.dataDirLock.locked, true);
      assert.equal(parseLockRecord(readFileSync(join(dir, LOCK_FILE), "utf8"))?.pid, process.pid);
      assert.equal((await fetch(`${s.url}/-/ready`)).status, 200);
      assert.equal(existsSync(join(dir, "lock.acquire")), false);
    } finally {
      await s?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

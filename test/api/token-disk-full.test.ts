/**
 * A token store whose disk is full answers token creation with 503 and Retry-After (the store can
 * still be read, so verification and listings keep working), not 500 "internal". SQLite: a real
 * full tmpfs when this runs as root and may mount one, else the store made to throw SQLite's own
 * SQLITE_FULL error. PostgreSQL: its disk_full error (SQLSTATE 53100) from the pool.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DatabaseError, type Pool } from "pg";
import { isDiskFull } from "../../src/auth/errors.js";
import { PgTokenTable } from "../../src/auth/pg/token-table.js";
import type { TokenTable } from "../../src/auth/token-table.js";
import { MONITORING_TOKENS } from "../../src/auth/tokens.js";
import { type Answer, INJECT_ADMIN_KEY, type InjectService, startInjectService } from "./inject-harness.js";

function assertDiskFull(a: Answer): void {
  assert.equal(a.status, 503, a.text);
  assert.equal(a.json.status, "error");
  assert.equal(a.json.errorType, "unavailable");
  assert.match(String(a.json.error), /out of disk space/);
  assert.ok(Number(a.headers["retry-after"]) >= 1, String(a.headers["retry-after"]));
}

const create = (s: InjectService, auth: string) =>
  s.request({ method: "POST", url: s.tokensPath("alpha"), token: auth, body: { name: "t" } });

/** A 1 MiB tmpfs, when this process may mount one (root in a container that allows it). */
function mountTmpfs(): string | null {
  if (process.getuid?.() !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), "mim-full-"));
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return dir;
}

function sqliteFullError(): Error {
  // better-sqlite3's SqliteError: message and code as SQLite reports a full disk.
  return Object.assign(new Error("database or disk is full"), { name: "SqliteError", code: "SQLITE_FULL" });
}

describe("token creation on a full disk", () => {
  it("SQLite: 503 with Retry-After; the store still verifies and lists", async () => {
    const dir = mountTmpfs();
    let failing = false;
    const s = await startInjectService({
      limits: { authFailuresPerMinute: 0 },
      ...(dir
        ? { metaDir: dir }
        : {
            monitoringTable: (sqlite: TokenTable): TokenTable => ({
              insert: (row, maxLive) => {
                if (failing) throw sqliteFullError();
                return sqlite.insert(row, maxLive);
              },
              byHash: (hash) => sqlite.byHash(hash),
              listLive: (p) => sqlite.listLive(p),
              revoke: (id, p, at) => sqlite.revoke(id, p, at),
              writeLastUsed: (uses) => sqlite.writeLastUsed(uses),
            }),
          }),
    });
    const filler = dir ? join(dir, "filler") : "";
    try {
      const first = await create(s, INJECT_ADMIN_KEY);
      assert.equal(first.status, 201, first.text);
      const token = String(first.json.token);
      if (dir) {
        try {
          writeFileSync(filler, Buffer.alloc(2 << 20));
        } catch {
          // ENOSPC: the disk is now full, which is the point.
        }
      } else {
        failing = true;
      }
      assertDiskFull(await create(s, INJECT_ADMIN_KEY));
      // Minted by a monitoring token too, and the token still works for reading.
      assertDiskFull(await create(s, token));
      const listed = await s.request({ url: s.tokensPath("alpha"), token: INJECT_ADMIN_KEY });
      assert.equal(listed.status, 200, listed.text);
      assert.equal(
        (await s.request({ url: `${s.base("alpha")}/api/v1/status/buildinfo`, token })).status,
        200,
      );
      if (dir) unlinkSync(filler);
      failing = false;
      assert.equal((await create(s, INJECT_ADMIN_KEY)).status, 201);
    } finally {
      await s.close();
      if (dir) {
        spawnSync("umount", [dir]);
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it("PostgreSQL: disk_full (53100) is 503 with Retry-After, capped or not", async () => {
    const diskFull = () => {
      const e = new DatabaseError(
        'could not extend file "base/5/16384": No space left on device',
        0,
        "error",
      );
      e.code = "53100";
      return e;
    };
    // Only what the store calls: a pool that cannot write.
    const fail = async () => {
      throw diskFull();
    };
    const pool = {
      query: fail,
      connect: async () => ({ query: fail, release: () => {} }),
    } as unknown as Pool;
    for (const maxTokensPerProject of [0, 100]) {
      const s = await startInjectService({
        limits: { maxTokensPerProject },
        monitoringTable: () => new PgTokenTable(pool, MONITORING_TOKENS),
      });
      try {
        assertDiskFull(await create(s, INJECT_ADMIN_KEY));
      } finally {
        await s.close();
      }
    }
  });

  it("recognises the stores' disk-full errors, wrapped or not, and nothing else", () => {
    assert.equal(isDiskFull(sqliteFullError()), true);
    assert.equal(
      isDiskFull(new Error("wrapped", { cause: Object.assign(new Error("x"), { code: "53100" }) })),
      true,
    );
    assert.equal(isDiskFull(Object.assign(new Error("x"), { code: "ENOSPC" })), true);
    assert.equal(isDiskFull(Object.assign(new Error("x"), { code: "SQLITE_BUSY" })), false);
    assert.equal(isDiskFull(Object.assign(new Error("x"), { code: "53300" })), false);
    assert.equal(isDiskFull("SQLITE_FULL"), false);
  });
});

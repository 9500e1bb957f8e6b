/**
 * The embedded service on a full disk (issue 12, point 8), on a real tmpfs filled to the last
 * block (root only; skipped otherwise):
 * - it starts with its data directory on the full disk, after a clean stop and after a crash
 *   (log records to replay, whose start-up checkpoint is deferred), serves the stored data, and
 *   /-/healthy and /-/ready answer 200, holding the data dir's lock (a second start is refused);
 * - every write path refuses with 503, Retry-After and Prometheus's error shape ("out of disk
 *   space"): remote write, token creation and revocation (monitoring and ingest); the metering
 *   gateway's flush reports the failure without throwing and keeps its totals for the next flush;
 * - once space is freed, all of them succeed again without a restart, and after a restart on the
 *   freed disk everything stored before, during and after is there.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type RunningService, startService } from "../../src/cli/service.js";
import { Flusher, Meter } from "../../src/gateway/index.js";
import { encodeRemoteWriteBody } from "../../src/ingest/remote-write/index.js";
import { DataDirInUseError } from "../../src/modes/data-dir-lock.js";
import { DiskFullError, labelsFromObject } from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { capturedLogs, testServiceConfig } from "../support/service-config.js";
import { injectFetch } from "./in-process.js";

const ADMIN_KEY = "mim_adm_disk-full-admin-key-0123456789";
const PROJECT = "alpha";
/** Whole seconds, ten minutes back: inside retention, never in the future. */
const T = Number(process.env.MIM_DISK_FULL_T ?? Math.floor((Date.now() - 600_000) / 1000) * 1000);
const CHILD_ENV = "MIM_DISK_FULL_CHILD_DIR";

// As a child process: commit samples into the store in $CHILD_ENV, then die without closing it
// (a crash: the log records stay, to be replayed on the next start).
const childDir = process.env[CHILD_ENV];
if (childDir) {
  const db = Tsdb.open({ dir: childDir, maintenanceIntervalMs: 0, log: () => {} });
  const app = db.appender();
  for (let i = 0; i < 20; i++) app.append(0, seriesLabels("crashed"), T + i * 1000, 100 + i);
  app.commit();
  process.exit(0);
}

function seriesLabels(name: string) {
  return labelsFromObject({ __name__: name, project_id: PROJECT, job: "disk-full" });
}

/** A tmpfs of `size`, when this process may mount one (root in a container that allows it). */
function mountTmpfs(size: string): string | null {
  if (process.getuid?.() !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), "mim-disk-full-"));
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return dir;
}

function unmount(dir: string): void {
  // Lazily if something still holds a file there, so the mount never outlives the test.
  if (spawnSync("umount", [dir]).status !== 0) spawnSync("umount", ["-l", dir]);
  rmSync(dir, { recursive: true, force: true });
}

/** Writes until ENOSPC: afterwards not one more block can be allocated. */
function fill(file: string): void {
  try {
    writeFileSync(file, Buffer.alloc(64 << 20));
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, "ENOSPC");
    return;
  }
  assert.fail("the filler fitted: the tmpfs is larger than expected");
}

const canMount = (() => {
  const dir = mountTmpfs("64k");
  if (dir) unmount(dir);
  return dir !== null;
})();

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

async function call(
  s: RunningService,
  path: string,
  o: { method?: string; token?: string; body?: unknown; raw?: Uint8Array } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined) headers["content-type"] = "application/json";
  if (o.raw) {
    headers["content-type"] = "application/x-protobuf";
    headers["content-encoding"] = "snappy";
    headers["x-prometheus-remote-write-version"] = "0.1.0";
  }
  // In-process: the disk is the subject, not the socket (startService listens all the same).
  const res = await injectFetch(s.app, s.url)(`${s.url}${path}`, {
    method: o.method ?? (o.body !== undefined || o.raw ? "POST" : "GET"),
    headers,
    body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

function assertDiskFull(a: Answer, what: string): void {
  assert.equal(a.status, 503, `${what}: ${a.text}`);
  assert.equal(a.json.status, "error", what);
  assert.equal(a.json.errorType, "unavailable", what);
  assert.match(String(a.json.error), /out of disk space/, what);
  assert.ok(
    Number(a.headers.get("retry-after")) >= 1,
    `${what}: Retry-After ${a.headers.get("retry-after")}`,
  );
}

const base = `/v1alpha5/projects/${PROJECT}`;
const tsdbBase = `${base}/metrics/timeseries`;

function remoteWrite(name: string, from: number, n: number, v0: number): Uint8Array {
  return encodeRemoteWriteBody({
    timeseries: [
      {
        labels: seriesLabels(name),
        samples: Array.from({ length: n }, (_, i) => ({ timestamp: T + (from + i) * 1000, value: v0 + i })),
      },
    ],
  });
}

/** The values of `name` in [T, T + 600 s], as "offset_s:value" strings. */
async function series(s: RunningService, token: string, name: string): Promise<string[]> {
  const q = new URLSearchParams({ query: `${name}[10m]`, time: String((T + 599_000) / 1000) });
  const a = await call(s, `${tsdbBase}/api/v1/query?${q}`, { token });
  assert.equal(a.status, 200, a.text);
  const result = (a.json.data as { result: Array<{ values: Array<[number, string]> }> }).result;
  return result.flatMap((r) => r.values.map(([t, v]) => `${Math.round(t - T / 1000)}:${v}`));
}

const range = (from: number, n: number, v0: number) =>
  Array.from({ length: n }, (_, i) => `${from + i}:${v0 + i}`);

describe("the embedded service on a full disk", {
  skip: canMount ? false : "needs root and tmpfs mounts",
}, () => {
  it("starts, serves what is stored, refuses every write with 503, and recovers when space is freed", async () => {
    const dir = mountTmpfs("2m");
    assert.ok(dir);
    const filler = join(dir, "filler");
    const { logs, logDestination } = capturedLogs();
    const config = testServiceConfig(dir, ADMIN_KEY, {
      builtinRules: false,
      logLevel: "warn",
      logDestination,
    });
    let s: RunningService | null = null;
    try {
      // Before: tokens and samples stored on a disk with room, then a clean stop.
      s = await startService(config);
      const mon = await call(s, `${base}/monitoring/tokens`, { token: ADMIN_KEY, body: { name: "mon" } });
      assert.equal(mon.status, 201, mon.text);
      const monToken = String(mon.json.token);
      const spare = await call(s, `${base}/monitoring/tokens`, { token: ADMIN_KEY, body: { name: "spare" } });
      assert.equal(spare.status, 201, spare.text);
      const ing = await call(s, "/v1alpha5/ingest-tokens", { token: ADMIN_KEY, body: { name: "ing" } });
      assert.equal(ing.status, 201, ing.text);
      const ingToken = String(ing.json.token);
      assert.equal(
        (await call(s, "/api/v1/write", { token: ingToken, raw: remoteWrite("m", 0, 30, 0) })).status,
        204,
      );
      assert.deepEqual(await series(s, monToken, "m"), range(0, 30, 0));
      await s.close();
      s = null;

      // A crash on top: log records not yet checkpointed, which the next start replays.
      const child = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url)], {
        env: { ...process.env, [CHILD_ENV]: dir, MIM_DISK_FULL_T: String(T) },
        encoding: "utf8",
      });
      assert.equal(child.status, 0, child.stderr);

      // The disk fills up; the service starts anyway and serves everything stored.
      fill(filler);
      s = await startService(config);
      const logText = () => logs.join("");
      // meta.db was closed cleanly, so its WAL index file must be made anew, which the full disk
      // refuses; the crashed tsdb.sqlite still has its own.
      assert.match(logText(), /meta\.db: the disk is full/);
      assert.match(logText(), /start-up checkpoint is deferred/);
      // The lock file of the earlier runs is rewritten in place: held on the full disk as well.
      assert.equal(s.dataDirLock.locked, true);
      await assert.rejects(startService(config), DataDirInUseError);
      assert.equal((await call(s, "/-/healthy")).status, 200);
      const ready = await call(s, "/-/ready");
      assert.equal(ready.status, 200, ready.text);
      assert.deepEqual(await series(s, monToken, "m"), range(0, 30, 0));
      assert.deepEqual(await series(s, monToken, "crashed"), range(0, 20, 100));
      const listed = await call(s, `${base}/monitoring/tokens`, { token: ADMIN_KEY });
      assert.equal(listed.status, 200, listed.text);

      // Every write path: 503, Retry-After, Prometheus's error shape; never 500.
      assertDiskFull(
        await call(s, "/api/v1/write", { token: ingToken, raw: remoteWrite("m", 30, 10, 30) }),
        "remote write",
      );
      assertDiskFull(
        await call(s, "/api/v1/write", { token: ingToken, raw: remoteWrite("new_series", 0, 5, 0) }),
        "remote write of a new series",
      );
      assert.match(
        (await call(s, "/metrics")).text,
        /^mim_remote_write_refused_total\{reason="disk_full"\} 2$/m,
        "the refusals are counted as disk_full",
      );
      assertDiskFull(
        await call(s, `${base}/monitoring/tokens`, { token: ADMIN_KEY, body: { name: "x" } }),
        "monitoring token creation",
      );
      assertDiskFull(
        await call(s, `${base}/monitoring/tokens/${spare.json.id}`, { method: "DELETE", token: ADMIN_KEY }),
        "monitoring token revocation",
      );
      assertDiskFull(
        await call(s, "/v1alpha5/ingest-tokens", { token: ADMIN_KEY, body: { name: "x" } }),
        "ingest token creation",
      );
      assertDiskFull(
        await call(s, `/v1alpha5/ingest-tokens/${ing.json.id}`, { method: "DELETE", token: ADMIN_KEY }),
        "ingest token revocation",
      );
      // The store itself says why, as a StorageError the write route answers with 503.
      const app = s.appendable.appender();
      app.append(0, seriesLabels("m"), T + 45_000, 45);
      assert.throws(() => app.commit(), DiskFullError);
      // The gateway's flush: refused and logged, nothing thrown, its totals kept for the next one.
      const meter = new Meter({ now: () => T + 100_000 });
      const slot = meter.slot(PROJECT, "llama", "pt");
      meter.recordRequest(slot, 10, 20);
      const flushLogs: string[] = [];
      const flusher = new Flusher(meter, s.appendable, {
        intervalMs: 0,
        now: () => T + 120_000,
        log: (m) => flushLogs.push(m),
      });
      const refused = flusher.flush();
      assert.match(String(refused.error), /out of disk space/);
      assert.match(flushLogs.join("\n"), /gateway flush at \d+ failed: .*out of disk space/);
      // Reads are unaffected by the refused writes.
      assert.deepEqual(await series(s, monToken, "m"), range(0, 30, 0));
      const stillMon = await call(s, `${base}/monitoring/tokens`, { token: monToken });
      assert.equal(stillMon.status, 200, stillMon.text);

      // Space is freed: every write path works again, without a restart.
      unlinkSync(filler);
      assert.equal(
        (await call(s, "/api/v1/write", { token: ingToken, raw: remoteWrite("m", 30, 10, 30) })).status,
        204,
      );
      const later = await call(s, `${base}/monitoring/tokens`, { token: ADMIN_KEY, body: { name: "later" } });
      assert.equal(later.status, 201, later.text);
      assert.equal(
        (await call(s, `${base}/monitoring/tokens/${spare.json.id}`, { method: "DELETE", token: ADMIN_KEY }))
          .status,
        204,
      );
      const ing2 = await call(s, "/v1alpha5/ingest-tokens", { token: ADMIN_KEY, body: { name: "ing2" } });
      assert.equal(ing2.status, 201, ing2.text);
      const flushed = flusher.flush();
      assert.equal(flushed.error, undefined);
      assert.ok(flushed.samples > 0);
      s.db?.maintain();
      assert.deepEqual(await series(s, monToken, "m"), range(0, 40, 0));
      assert.deepEqual(await series(s, String(later.json.token), "crashed"), range(0, 20, 100));
      await s.close();
      s = null;

      // After a restart nothing is missing: before, the crash, after; tokens old and new.
      s = await startService(config);
      assert.deepEqual(await series(s, monToken, "m"), range(0, 40, 0));
      assert.deepEqual(await series(s, monToken, "crashed"), range(0, 20, 100));
      assert.deepEqual(await series(s, String(later.json.token), "crusoe_inference_request_count"), [
        "100:0",
        "120:1",
      ]);
      assert.equal(
        (await call(s, "/api/v1/write", { token: String(ing2.json.token), raw: remoteWrite("m", 40, 5, 40) }))
          .status,
        204,
      );
      const tokens = (await call(s, `${base}/monitoring/tokens`, { token: ADMIN_KEY })).json.tokens as Array<{
        name: string;
      }>;
      assert.deepEqual(tokens.map((t) => t.name).sort(), ["later", "mon"]);
    } finally {
      await s?.close();
      unmount(dir);
    }
  });
});

/**
 * Durability under SIGKILL. A child process (crash-child.ts) commits deterministic batches into one
 * store while maintenance, checkpoints, chunk cuts and log truncation run every few ms; the test
 * kills it at a random moment, several rounds on the same directory, and after every kill opens the
 * store and checks that every batch reported committed is there bit for bit, that the one batch
 * possibly in flight is all there or not at all, and that nothing else is.
 *
 * The data seed is random per run (printed as a diagnostic); set CRASH_SEED to replay one.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { getLabel, labelsEqual, Matcher } from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { childOptions, generateBatch, METRIC, seriesBornBy, seriesLabels } from "./crash-child.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const childScript = fileURLToPath(new URL("./crash-child.ts", import.meta.url));

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function hex(hi: number, lo: number): string {
  return `0x${hi.toString(16).padStart(8, "0")}${lo.toString(16).padStart(8, "0")}`;
}

interface KillPlan {
  /** What starts the kill clock. */
  after: "spawn" | "ready" | "first-commit";
  delayMs: number;
}

interface ChildRun {
  committed: number[];
  /** The recovery report the child printed after opening, if it got that far. */
  recovery: Record<string, unknown> | null;
  startupMs: number | null;
  stderr: string;
}

/** Runs the child from batch `first` and SIGKILLs it as planned. */
function runChild(dir: string, seed: number, first: number, plan: KillPlan): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", childScript, dir, String(seed), String(first)],
      {
        cwd: repoRoot,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const run: ChildRun = { committed: [], recovery: null, startupMs: null, stderr: "" };
    let killed = false;
    let armed = false;
    const arm = () => {
      if (armed) return;
      armed = true;
      setTimeout(() => {
        killed = true;
        child.kill("SIGKILL");
      }, plan.delayMs);
    };
    // If the trigger never comes, stop anyway (and fail below).
    const guard = setTimeout(() => {
      if (!killed) {
        killed = true;
        child.kill("SIGKILL");
      }
    }, 20_000);
    if (plan.after === "spawn") arm();
    let pending = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      pending += chunk;
      let nl = pending.indexOf("\n");
      while (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf("\n");
        if (line.startsWith("ready ")) {
          run.recovery = JSON.parse(line.slice(6)) as Record<string, unknown>;
          run.startupMs = performance.now() - started;
          if (plan.after === "ready") arm();
        } else if (line.startsWith("committed ")) {
          run.committed.push(Number(line.slice(10)));
          if (plan.after === "first-commit") arm();
        } else {
          reject(new Error(`unexpected line from the child: ${JSON.stringify(line)}`));
        }
      }
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      run.stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(guard);
      if (signal === "SIGKILL" && killed && armed) resolve(run);
      else
        reject(
          new Error(
            `child ended by itself (code ${code}, signal ${signal}, trigger ${armed ? "seen" : "never seen"}):\n${run.stderr}`,
          ),
        );
    });
  });
}

interface Column {
  ts: number[];
  hi: number[];
  lo: number[];
}

/** Copies a crashed store's files (not the -shm index, which SQLite rebuilds) so it can be inspected elsewhere. */
function copyStore(from: string, to: string): void {
  for (const name of ["tsdb.sqlite", "tsdb.sqlite-wal", "blocks"]) {
    if (existsSync(join(from, name))) cpSync(join(from, name), join(to, name), { recursive: true });
  }
}

/**
 * Opens the store and checks it against the batches: all of [0, committedThrough] present bit for
 * bit, batch committedThrough+1 (possibly in flight when the child died) entirely present or
 * entirely absent, nothing else. Returns whether the in-flight batch is present.
 */
function verifyStore(dir: string, seed: number, committedThrough: number, what: string): boolean {
  const inflight = committedThrough + 1;
  const logs: string[] = [];
  const db = Tsdb.open({ ...childOptions(dir), maintenanceIntervalMs: 0, log: (m) => logs.push(m) });
  try {
    const { durationMs: _, ...r } = db.recovery;
    const ctx = `${what} (seed ${seed}, committed through batch ${committedThrough})`;
    assert.equal(
      r.salvage,
      null,
      `${ctx}: a killed process must not leave a damaged file\n${logs.join("\n")}`,
    );
    assert.deepEqual(
      [r.lostSeries, r.lostHeads, r.lostWalRecords, r.orphanSamples],
      [0, 0, 0, 0],
      `${ctx}: recovery reported damage: ${JSON.stringify(r)}`,
    );

    // Everything the store holds.
    const stored = new Map<number, Column>();
    const q = db.querier(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    const set = q.select(false, undefined, new Matcher("=~", "__name__", ".+"));
    while (set.next()) {
      const s = set.at();
      const idx = Number(getLabel(s.labels, "idx"));
      assert.ok(
        getLabel(s.labels, "__name__") === METRIC &&
          Number.isInteger(idx) &&
          idx >= 0 &&
          idx < seriesBornBy(inflight),
        `${ctx}: unexpected series ${JSON.stringify(s.labels)}`,
      );
      assert.ok(labelsEqual(s.labels, seriesLabels(idx)), `${ctx}: labels of series ${idx} changed`);
      assert.ok(!stored.has(idx), `${ctx}: series ${idx} returned twice`);
      const col: Column = { ts: [], hi: [], lo: [] };
      const it = s.iterator();
      while (it.next()) {
        const t = it.atT();
        f64[0] = it.atV();
        if (col.ts.length > 0 && t <= col.ts[col.ts.length - 1]) {
          assert.fail(`${ctx}: series ${idx} goes from t=${col.ts[col.ts.length - 1]} to t=${t}`);
        }
        col.ts.push(t);
        col.lo.push(u32[0]);
        col.hi.push(u32[1]);
      }
      assert.equal(it.err(), null, `${ctx}: iterating series ${idx} failed`);
      stored.set(idx, col);
    }
    assert.equal(set.err(), null);
    assert.deepEqual(set.warnings(), [], `${ctx}: read warnings`);
    q.close();

    // Walk the batches in order with a cursor per series.
    const cursor = new Int32Array(seriesBornBy(inflight));
    const errors: string[] = [];
    const report = (msg: string) => {
      if (errors.length < 12) errors.push(msg);
    };
    let inflightPresent = false;
    for (let b = 0; b <= inflight; b++) {
      const batch = generateBatch(seed, b);
      const bits = new Uint32Array(batch.vs.buffer);
      let found = 0;
      for (let i = 0; i < batch.count; i++) {
        const s = batch.series[i];
        const t = batch.ts[i];
        const col = stored.get(s);
        const c = cursor[s];
        if (col !== undefined && c < col.ts.length && col.ts[c] === t) {
          if (col.lo[c] !== bits[2 * i] || col.hi[c] !== bits[2 * i + 1]) {
            report(
              `batch ${b}, series ${s}, t=${t}: stored ${hex(col.hi[c], col.lo[c])}, written ${hex(bits[2 * i + 1], bits[2 * i])}`,
            );
          }
          cursor[s] = c + 1;
          found++;
        } else if (b <= committedThrough) {
          report(
            `batch ${b} (committed): series ${s} is missing t=${t}` +
              (col && c < col.ts.length ? ` (next stored sample is at t=${col.ts[c]})` : ""),
          );
        }
      }
      if (b === inflight) {
        if (found !== 0 && found !== batch.count) {
          report(`in-flight batch ${b} is partly stored: ${found} of ${batch.count} samples`);
        }
        inflightPresent = found === batch.count;
      }
    }
    for (const [s, col] of stored) {
      if (cursor[s] < col.ts.length) {
        report(
          `series ${s} has ${col.ts.length - cursor[s]} samples that were never committed, first at t=${col.ts[cursor[s]]}`,
        );
      }
    }
    assert.deepEqual(errors, [], `${ctx}: stored data differs from the committed batches`);

    // Sub-range reads through the persisted/in-memory boundary must agree with the full read.
    const ids = [...stored.keys()];
    for (let k = 0; k < 12 && ids.length; k++) {
      const idx = ids[(k * 7919) % ids.length];
      const col = stored.get(idx)!;
      if (col.ts.length === 0) continue;
      const a = col.ts[Math.floor((col.ts.length * k) / 24)];
      const z = col.ts[Math.min(col.ts.length - 1, Math.floor((col.ts.length * (k + 12)) / 24))];
      const want = col.ts.filter((t) => t >= a && t <= z);
      const sq = db.querier(a, z);
      const sub = sq.select(false, undefined, Matcher.eq("idx", String(idx)));
      const got: number[] = [];
      while (sub.next()) {
        const it = sub.at().iterator();
        while (it.next()) got.push(it.atT());
      }
      sq.close();
      assert.deepEqual(got, want, `${ctx}: range [${a}, ${z}] of series ${idx}`);
    }
    return inflightPresent;
  } finally {
    db.close();
  }
}

test("every committed batch survives SIGKILL at a random moment, bit for bit", {
  timeout: 150_000,
}, async (t) => {
  const seed = process.env.CRASH_SEED
    ? Number(process.env.CRASH_SEED) >>> 0
    : (Math.random() * 2 ** 32) >>> 0;
  t.diagnostic(`data seed ${seed} (CRASH_SEED=${seed} replays the data; kill times stay random)`);
  const dir = mkdtempSync(join(tmpdir(), "tsdb-crash-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
  let startupMs = 700;

  // Kill clock per round; on "copy" rounds the parent checks a copy, so the next child itself has
  // to recover the crashed files.
  const rounds: { plan: () => KillPlan; check: "in place" | "copy" }[] = [
    { plan: () => ({ after: "ready", delayMs: rand(200, 1200) }), check: "in place" },
    { plan: () => ({ after: "first-commit", delayMs: rand(0, 800) }), check: "copy" },
    // Anywhere from process start through loading the store to the first commits.
    { plan: () => ({ after: "spawn", delayMs: rand(0, Math.round(startupMs * 1.3)) }), check: "copy" },
    { plan: () => ({ after: "first-commit", delayMs: rand(0, 1200) }), check: "in place" },
    // Right after open: recovery's own checkpoint, the first maintenance runs.
    { plan: () => ({ after: "ready", delayMs: rand(0, 60) }), check: "copy" },
    { plan: () => ({ after: "first-commit", delayMs: rand(300, 1500) }), check: "copy" },
    { plan: () => ({ after: "spawn", delayMs: rand(0, Math.round(startupMs * 1.3)) }), check: "in place" },
    { plan: () => ({ after: "first-commit", delayMs: rand(0, 1000) }), check: "in place" },
  ];
  let next = 0;
  let totalCommitted = 0;
  for (const [round, { plan, check }] of rounds.entries()) {
    const p = plan();
    const run = await runChild(dir, seed, next, p);
    if (run.startupMs !== null) startupMs = run.startupMs;
    const what = `round ${round} (kill ${p.delayMs} ms after ${p.after}, first batch ${next})`;

    run.committed.forEach((b, i) => {
      assert.equal(b, next + i, `${what}: the child reported batches out of order`);
    });
    if (run.recovery !== null) {
      const r = run.recovery;
      assert.deepEqual(
        [r.lostSeries, r.lostHeads, r.lostWalRecords, r.orphanSamples, r.salvage],
        [0, 0, 0, 0, null],
        `${what}: the child's recovery reported damage: ${JSON.stringify(r)}`,
      );
    }
    assert.doesNotMatch(run.stderr, /failed/i, `${what}: the child logged a failure`);

    const committedThrough = run.committed.length ? run.committed[run.committed.length - 1] : next - 1;
    let inflightPresent: boolean;
    if (check === "copy") {
      const copy = mkdtempSync(join(tmpdir(), "tsdb-crash-copy-"));
      try {
        copyStore(dir, copy);
        inflightPresent = verifyStore(copy, seed, committedThrough, `${what}, checked on a copy`);
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    } else {
      inflightPresent = verifyStore(dir, seed, committedThrough, what);
    }
    t.diagnostic(
      `${what}: ${run.committed.length} batches reported committed, in-flight batch ${inflightPresent ? "present" : "absent"}`,
    );
    totalCommitted += run.committed.length;
    next = committedThrough + 1 + (inflightPresent ? 1 : 0);
  }
  // Not a correctness condition, but without commits the test would prove nothing.
  assert.ok(totalCommitted >= 20, `only ${totalCommitted} batches were committed in all rounds`);
  // A last clean open of the directory the children wrote.
  verifyStore(dir, seed, next - 1, "final check");
});

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { mulberry32 } from "../../../src/sim/random.js";
import { compareLabels, type Labels, Matcher } from "../../../src/storage/index.js";
import { BlockSet } from "../../../src/tsdb/block/block-set.js";
import { BLOCKS_DIR, blockName, CHUNKS_FILE, INDEX_FILE } from "../../../src/tsdb/block/format.js";
import { runBlockJob } from "../../../src/tsdb/block/jobs.js";
import { type BlockChunk, BlockReader } from "../../../src/tsdb/block/reader.js";
import { BlockWriter } from "../../../src/tsdb/block/writer.js";
import { MAX_SAMPLES_PER_CHUNK, PADDING, XorEncoder, XorIterator } from "../../../src/tsdb/chunk/xor.js";
import { tempDir } from "../helpers.js";

interface TestChunk {
  minT: number;
  maxT: number;
  count: number;
  bytes: Uint8Array;
  samples: [number, number][];
}

/** Random series cut into XOR chunks of up to 120 samples, as the head cuts them. */
function makeSeries(
  seed: number,
  n: number,
  from: number,
  to: number,
): { labels: Labels; chunks: TestChunk[] }[] {
  const rand = mulberry32(seed);
  const out: { labels: Labels; chunks: TestChunk[] }[] = [];
  for (let i = 0; i < n; i++) {
    const labels: { name: string; value: string }[] = [
      { name: "__name__", value: i % 3 === 0 ? "requests_total" : "tokens_total" },
      { name: "model", value: `m${i % 5}` },
      { name: "n", value: String(i).padStart(3, "0") },
      { name: "project", value: `p${i % 4}` },
    ];
    if (i % 7 === 0) labels.push({ name: "tier", value: "pt" });
    const chunks: TestChunk[] = [];
    let enc: XorEncoder | null = null;
    let samples: [number, number][] = [];
    const cut = () => {
      if (enc === null) return;
      const bytes = enc.bytes();
      chunks.push({
        minT: enc.minT,
        maxT: enc.maxT,
        count: enc.count,
        bytes: bytes.slice(0, enc.sizeBytes()),
        samples,
      });
      enc = null;
      samples = [];
    };
    let v = 0;
    for (let t = from + Math.floor(rand() * 15_000); t < to; t += 15_000) {
      if (rand() < 0.05) continue;
      v = rand() < 0.01 ? 0 : v + Math.floor(rand() * 100);
      if (enc === null || enc.count >= MAX_SAMPLES_PER_CHUNK) {
        cut();
        enc = new XorEncoder();
      }
      enc.append(t, v);
      samples.push([t, v]);
    }
    cut();
    out.push({ labels, chunks });
  }
  return out;
}

function decode(c: BlockChunk): [number, number][] {
  const it = new XorIterator();
  it.reset(c.data, c.count, c.offset);
  const out: [number, number][] = [];
  while (it.next()) out.push([it.atT(), it.atV()]);
  assert.equal(it.err(), null);
  return out;
}

const HOUR = 3_600_000;

function writeBlock(
  dir: string,
  series: ReturnType<typeof makeSeries>,
  minT: number,
  maxT: number,
  ids: number[],
  pageBytes = 2048,
) {
  const w = new BlockWriter({ dir, minT, maxT, pageBytes });
  const order = series.map((_, i) => i).sort((a, b) => compareLabels(series[a].labels, series[b].labels));
  for (const i of order) {
    w.addSeries(ids[i], series[i].labels);
    for (const c of series[i].chunks) w.addChunk(c.minT, c.maxT, c.count, c.bytes);
  }
  return { meta: w.finish(), name: w.name };
}

describe("block files", () => {
  const tmp = tempDir("mim-block-");
  after(() => tmp.cleanup());

  it("reads back every chunk, label and posting it wrote, across many pages", () => {
    const dir = join(tmp.dir, "rt");
    mkdirSync(dir);
    const series = makeSeries(1, 60, 0, 2 * HOUR);
    const ids = series.map((_, i) => 3 * i + 1);
    const { meta, name } = writeBlock(dir, series, 0, 2 * HOUR, ids);
    assert.equal(name, blockName(0, 2 * HOUR));
    assert.equal(meta.series, 60);
    assert.equal(
      meta.samples,
      series.reduce((n, s) => n + s.chunks.reduce((m, c) => m + c.count, 0), 0),
    );
    const r = BlockReader.open(join(dir, name), name);
    assert.ok(r.meta.chunks > 60);
    const warnings: string[] = [];
    series.forEach((s, i) => {
      assert.deepEqual(r.labels(r.find(ids[i])), s.labels);
      const got = r.chunks(ids[i], 0, 2 * HOUR, warnings);
      assert.equal(got.length, s.chunks.length);
      got.forEach((c, k) => {
        assert.equal(c.minT, s.chunks[k].minT);
        assert.equal(c.maxT, s.chunks[k].maxT);
        assert.ok(c.offset + s.chunks[k].bytes.length + PADDING <= c.data.length, "padding after the chunk");
        assert.deepEqual(decode(c), s.chunks[k].samples);
      });
      // A range inside the block picks only the overlapping chunks.
      const mid = r.chunks(ids[i], HOUR, HOUR + 60_000, warnings);
      assert.ok(mid.every((c) => c.maxT >= HOUR && c.minT <= HOUR + 60_000));
      assert.ok(mid.length >= 1);
    });
    assert.deepEqual(warnings, []);
    assert.equal(r.find(2), -1, "an id the block does not hold");
    assert.deepEqual(r.chunks(2, 0, 2 * HOUR, warnings), []);

    // Matchers select the same positions as a scan of the labels.
    const cases: Matcher[][] = [
      [new Matcher("=", "__name__", "requests_total")],
      [new Matcher("=", "project", "p1"), new Matcher("=~", "model", "m[12]")],
      [new Matcher("!=", "tier", "pt")],
      [new Matcher("=", "tier", "")],
      [new Matcher("!~", "model", "m0|m1"), new Matcher("=", "__name__", "tokens_total")],
      [new Matcher("=", "nope", "x")],
    ];
    for (const ms of cases) {
      const want = series
        .flatMap((s, i) =>
          ms.every((m) => m.matches(s.labels.find((l) => l.name === m.name)?.value ?? "")) ? [ids[i]] : [],
        )
        .sort((a, b) => a - b);
      const positions = r.select(ms);
      assert.deepEqual(
        positions,
        [...positions].sort((a, b) => a - b),
        "positions ascend",
      );
      const got = positions.map((p) => r.seriesId(p)).sort((a, b) => a - b);
      assert.deepEqual(got, want, ms.map(String).join(","));
    }
    r.close();
  });

  it("skips the chunks of a damaged page, and only those", () => {
    const dir = join(tmp.dir, "damaged-page");
    mkdirSync(dir);
    const series = makeSeries(2, 20, 0, 2 * HOUR);
    const ids = series.map((_, i) => i + 1);
    const { name } = writeBlock(dir, series, 0, 2 * HOUR, ids);
    const path = join(dir, name, CHUNKS_FILE);
    const bytes = readFileSync(path);
    bytes[200] ^= 0xff; // inside the first page's compressed bytes
    writeFileSync(path, bytes);
    const r = BlockReader.open(join(dir, name), name);
    const warnings: string[] = [];
    let read = 0;
    for (const id of ids) read += r.chunks(id, 0, 2 * HOUR, warnings).length;
    const total = series.reduce((n, s) => n + s.chunks.length, 0);
    assert.ok(warnings.length > 0 && warnings.every((w) => /page 0 checksum mismatch/.test(w)), warnings[0]);
    assert.equal(read + warnings.length, total);
    r.close();
  });

  it("refuses a block whose index is damaged, and the set keeps it on disk, reported", () => {
    const data = join(tmp.dir, "damaged-index");
    const dir = join(data, BLOCKS_DIR);
    mkdirSync(dir, { recursive: true });
    const series = makeSeries(3, 5, 0, HOUR);
    writeBlock(dir, series, 0, HOUR, [1, 2, 3, 4, 5]);
    const second = writeBlock(dir, makeSeries(4, 5, HOUR, 2 * HOUR), HOUR, 2 * HOUR, [1, 2, 3, 4, 5]);
    const path = join(dir, second.name, INDEX_FILE);
    const bytes = readFileSync(path);
    bytes[20] ^= 1;
    writeFileSync(path, bytes);
    assert.throws(() => BlockReader.open(join(dir, second.name), second.name), /index checksum mismatch/);
    // An interrupted write leaves a .tmp directory: opening deletes it.
    mkdirSync(join(dir, `${blockName(2 * HOUR, 3 * HOUR)}.tmp`));
    const { set, report } = BlockSet.open(data);
    assert.equal(report.opened, 1);
    assert.equal(report.unreadable.length, 1);
    assert.match(report.unreadable[0].reason, /checksum/);
    assert.deepEqual(report.removed, [`${blockName(2 * HOUR, 3 * HOUR)}.tmp`]);
    assert.ok(existsSync(join(dir, second.name)), "the damaged block stays for inspection");
    assert.equal(set.maxT(), 2 * HOUR, "its range still counts as sealed");
    set.close();
  });

  it("compacts adjacent blocks into one that reads the same, and deletes the sources", () => {
    const data = join(tmp.dir, "compact");
    const { set } = BlockSet.open(data);
    const all = new Map<number, [number, number][]>();
    for (let b = 0; b < 4; b++) {
      const series = makeSeries(10 + b, 12, b * 2 * HOUR, (b + 1) * 2 * HOUR);
      // Series come and go: block b holds ids b+1 … b+12.
      const ids = series.map((_, i) => b + 1 + i);
      // A series keeps its labels from block to block, as in a store.
      series.forEach((s, i) => {
        s.labels = [
          { name: "__name__", value: "m" },
          { name: "id", value: String(ids[i]).padStart(3, "0") },
        ];
      });
      const { meta, name } = writeBlock(set.dir, series, b * 2 * HOUR, (b + 1) * 2 * HOUR, ids);
      set.add(meta, name);
      series.forEach((s, i) => {
        all.set(ids[i], [...(all.get(ids[i]) ?? []), ...s.chunks.flatMap((c) => c.samples)]);
      });
    }
    assert.equal(set.planCompaction(24 * HOUR, 6 * HOUR), null, "the day is not sealed yet");
    const plan = set.planCompaction(24 * HOUR, 24 * HOUR);
    assert.equal(plan?.length, 4);
    const sources = (plan ?? []).map((r) => r.name);
    const merged = runBlockJob({ kind: "merge", blocksDir: set.dir, sources });
    assert.deepEqual(merged.warnings, []);
    assert.equal(merged.meta.level, 2);
    assert.equal(merged.meta.series, 15);
    assert.deepEqual(merged.meta.sources, sources);
    // A crash between the merge's rename and the deletion of its sources: opening finishes it.
    const crashed = BlockSet.open(data);
    assert.deepEqual(crashed.report.removed.sort(), [...sources].sort());
    assert.equal(crashed.set.blocks.length, 1);
    crashed.set.close();
    set.replace(sources, merged.meta, merged.name);
    assert.equal(set.blocks.length, 1);
    const warnings: string[] = [];
    for (const [id, samples] of all) {
      const got: [number, number][] = set.chunks(id, 0, 8 * HOUR, warnings).flatMap((c) => decode(c));
      assert.deepEqual(got, samples, `series ${id}`);
    }
    set.close();
    const reopened = BlockSet.open(data);
    assert.equal(reopened.report.opened, 1);
    assert.deepEqual(reopened.report.removed, []);
    assert.equal(reopened.set.deleteBefore(8 * HOUR).length, 1);
    assert.equal(reopened.set.blocks.length, 0);
    reopened.set.close();
  });
});

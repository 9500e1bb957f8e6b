import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Labels, labelsToObject, Matcher, type Querier } from "../../src/storage/index.js";

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** A value's 64 bits as hex, so NaN payloads and -0 compare exactly. */
export function bits(v: number): string {
  f64[0] = v;
  return `${u32[1].toString(16).padStart(8, "0")}${u32[0].toString(16).padStart(8, "0")}`;
}

export interface ReadSeries {
  labels: Record<string, string>;
  /** "t:bits" per sample. */
  samples: string[];
}

/** Reads every matching series in [mint, maxt] with sample values as bit patterns. */
export function readAll(q: Querier, ...matchers: Matcher[]): ReadSeries[] {
  const set = q.select(
    true,
    undefined,
    ...(matchers.length ? matchers : [new Matcher("=~", "__name__", ".+")]),
  );
  const out: ReadSeries[] = [];
  while (set.next()) {
    const s = set.at();
    const it = s.iterator();
    const samples: string[] = [];
    while (it.next()) samples.push(`${it.atT()}:${bits(it.atV())}`);
    if (it.err()) throw it.err();
    out.push({ labels: labelsToObject(s.labels), samples });
  }
  if (set.err()) throw set.err();
  return out;
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function name(labels: Labels): string {
  return labels.find((l) => l.name === "__name__")?.value ?? "";
}

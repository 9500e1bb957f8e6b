/**
 * User regexes (label matchers =~ !~, label_replace), engine by engine (`npm run bench:regex`):
 *
 *  1. throughput: typical matcher regexes against 100k short label values, with
 *     - "backtracking": the RE2 → JS RegExp translation used before (translateRe2 + RegExp),
 *     - "re2js": re2js alone (RE2JS.testExact, DFA), no fast paths,
 *     - "matcher": what label matchers run now (Matcher: literal / set / prefix / suffix /
 *       substring fast paths, re2js for the rest),
 *     - "re2 (native)": Google's RE2 through the `re2` npm addon, when it can be imported (not a
 *       dependency: install it elsewhere and point RE2_MODULE at its directory to compare);
 *  2. pathological patterns, which backtracking takes exponential (or huge polynomial) time on:
 *     the matcher `(.*){70}x` and label_replace's `(a+)+b`, through the real engine; the
 *     backtracking figures are for inputs small enough to finish, with the doubling per character.
 *
 * Figures are ms on this machine; the last line is JSON.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { RE2JS } from "re2js";
import { newEngine } from "../src/promql/engine.js";
import { labelsFromObject, Matcher } from "../src/storage/index.js";
import { translateRe2 } from "../src/storage/re2.js";
import { Tsdb } from "../src/tsdb/tsdb.js";

type Test = (s: string) => boolean;
const results: Record<string, Record<string, number>> = {};
const record = (group: string, name: string, ms: number) => {
  results[group] ??= {};
  results[group][name] = Math.round(ms * 100) / 100;
};

const MODELS = ["llama-3.1-8b", "mistral-7b", "gpt-4o-turbo", "gpt-3.5-turbo", "qwen2-72b", "deepseek-r1"];
const values: string[] = [];
for (let i = 0; i < 100_000; i++) {
  const v = `${MODELS[i % MODELS.length]}-${(i * 7919) % 100_000}`;
  values.push(i % 7 === 0 ? `x${v}foo` : v.slice(0, 6 + (i % 14)));
}

/** Best of `runs` passes over all values, in ms; checks that every engine agrees on the count. */
function time(test: Test, runs = 5): [ms: number, matched: number] {
  let best = Number.POSITIVE_INFINITY;
  let matched = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    matched = 0;
    for (const v of values) if (test(v)) matched++;
    best = Math.min(best, performance.now() - t0);
  }
  return [best, matched];
}

type NativeRe2 = new (pattern: string, flags?: string) => { test(s: string): boolean };
async function loadNative(): Promise<NativeRe2 | undefined> {
  const dir = process.env.RE2_MODULE;
  const spec = dir ? pathToFileURL(join(resolve(dir), "re2.js")).href : "re2";
  try {
    const mod = (await import(spec)) as { default: NativeRe2 };
    return mod.default;
  } catch {
    return undefined;
  }
}

function backtracking(pattern: string): Test {
  const { source, flags } = translateRe2(pattern);
  const re = new RegExp(`^(?:${source})$`, flags);
  return (s) => re.test(s);
}

async function throughput(): Promise<void> {
  const Native = await loadNative();
  console.log(`1. throughput: ms per pass over ${values.length} label values (best of 5)`);
  if (!Native) console.log("   (re2 native addon not importable: set RE2_MODULE=<dir of node_modules/re2>)");
  const patterns = [
    "llama.*|mistral-7b|gpt-.*-turbo",
    ".*foo.*",
    "(?i)llama.*",
    "[a-z]+-[0-9]+b-.*",
    "gpt-.*|llama-.*|qwen.*",
  ];
  for (const p of patterns) {
    const engines: Array<[string, Test]> = [
      ["backtracking", backtracking(p)],
      [
        "re2js",
        (
          (re) => (s: string) =>
            re.testExact(s)
        )(RE2JS.compile(p, RE2JS.DOTALL)),
      ],
      [
        "matcher",
        (
          (m) => (s: string) =>
            m.matches(s)
        )(new Matcher("=~", "model_name", p)),
      ],
    ];
    if (Native)
      engines.push([
        "re2 (native)",
        (
          (re) => (s: string) =>
            re.test(s)
        )(new Native(`^(?s:${p})$`, "u")),
      ]);
    const row: string[] = [];
    let expected: number | undefined;
    for (const [name, test] of engines) {
      const [ms, matched] = time(test);
      if (expected !== undefined && matched !== expected) throw new Error(`${name} disagrees on ${p}`);
      expected = matched;
      record(p, name, ms);
      row.push(`${name} ${ms.toFixed(1)}`);
    }
    console.log(`   ${JSON.stringify(p).padEnd(36)} ${row.join("  ")}  (${expected} match)`);
  }
}

function elapsed(f: () => unknown): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

function pathological(): void {
  console.log("2. pathological patterns (ms)");
  // Backtracking on (a+)+b doubles per `a`: measured on short inputs, extrapolated to 28.
  const jsNested = backtracking("(a+)+b");
  for (let n = 10; n < 16; n++) jsNested(`${"a".repeat(n)}!`); // JIT warm-up
  const small = [18, 20, 22].map((n) => elapsed(() => jsNested(`${"a".repeat(n)}!`)));
  const perChar = (small[2] / small[0]) ** (1 / 4);
  console.log(
    `   backtracking (a+)+b on a{18,20,22}!: ${small.map((t) => t.toFixed(1)).join(", ")}` +
      ` (x${perChar.toFixed(2)} per a: ~${((small[2] * perChar ** 6) / 1000).toFixed(1)} s at 28)`,
  );
  record("backtracking", "(a+)+b a{22}!", small[2]);
  const jsRepeat = backtracking("(.*){70}x");
  const repeatSmall = [2, 3, 4].map((n) => elapsed(() => jsRepeat("p".repeat(n))));
  console.log(
    `   backtracking (.*){70}x on p{2,3,4}: ${repeatSmall.map((t) => t.toFixed(1)).join(", ")}` +
      " (grows like length^70: a 10-character value does not finish)",
  );
  record("backtracking", "(.*){70}x p{4}", repeatSmall[2]);

  const dir = mkdtempSync(join(tmpdir(), "bench-regex-"));
  const db = Tsdb.open({ dir, maintenanceIntervalMs: 0 });
  try {
    const app = db.appender();
    for (let i = 0; i < 200; i++) {
      const labels = {
        __name__: "crusoe_inference_request_count",
        project_id: `project-${i}-${"a".repeat(i % 40)}`,
      };
      app.append(0, labelsFromObject(labels), 60_000, i);
    }
    app.commit();
    const engine = newEngine();
    const queries: Array<[string, string]> = [
      ["matcher (.*){70}x, 200 series", '{project_id=~"(.*){70}x"}'],
      ["matcher (.*){1000}x, 200 series", '{project_id=~"(.*){1000}x"}'],
      ["matcher (.*){70}project-1.*, 200 series", '{project_id=~"(.*){70}project-1.*"}'],
      [
        "label_replace (a+)+b, a{28}!",
        'label_replace(label_replace(vector(1),"src","aaaaaaaaaaaaaaaaaaaaaaaaaaaa!","",""),"dst","$1","src","(a+)+b")',
      ],
      [
        "label_replace (a+)+b, a{10000}!",
        `label_replace(label_replace(vector(1),"src","${"a".repeat(10_000)}!","",""),"dst","$1","src","(a+)+b")`,
      ],
      [
        "label_replace (a+)+(b?), a{10000}",
        `label_replace(label_replace(vector(1),"src","${"a".repeat(10_000)}","",""),"dst","$1","src","(a+)+(b?)")`,
      ],
    ];
    for (const [name, q] of queries) {
      engine.instantQuery(db, q, 60_000); // compile caches warm
      const ms = Math.min(...[0, 1, 2].map(() => elapsed(() => engine.instantQuery(db, q, 60_000))));
      record("re2js (engine)", name, ms);
      console.log(`   re2js, through the engine: ${name}: ${ms.toFixed(1)}`);
    }
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await throughput();
pathological();
console.log(JSON.stringify(results));

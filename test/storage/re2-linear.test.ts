/**
 * User regexes run in linear time with RE2 semantics (src/storage/re2.ts: Go's parser port validates,
 * re2js matches): the pathological patterns that stalled the backtracking translation finish fast
 * through the real engine, and answers equal Go's on ordinary patterns (matcher-cases.ts, computed
 * with Go's regexp) and the old translation's (checked against Go in re2.test.ts) on generated ones.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { expandTemplate } from "../../src/promql/engine/functions/labels.js";
import { newEngine } from "../../src/promql/engine.js";
import { labelsFromObject, Matcher } from "../../src/storage/index.js";
import { compileRe2, Re2SyntaxError, translateRe2 } from "../../src/storage/re2.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { tempDir } from "../tsdb/helpers.js";
import { matcherCases } from "./matcher-cases.js";

/** Generous: these take tens of seconds (or never finish) with backtracking, milliseconds here. */
const BOUND_MS = 5000;

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const out = f();
  return [out, performance.now() - t0];
}

describe("re2: pathological patterns through the engine", () => {
  let db: Tsdb;
  let cleanup: () => void;
  const engine = newEngine();
  const projects = ["p1", "project-1234567890", `project-${"a".repeat(60)}`, "x", "abcx", ""];

  before(() => {
    const t = tempDir("mim-re2-");
    cleanup = t.cleanup;
    db = Tsdb.open({ dir: t.dir, maintenanceIntervalMs: 0 });
    const app = db.appender();
    projects.forEach((project_id, i) => {
      const labels: Record<string, string> =
        project_id === "" ? { __name__: "m", n: String(i) } : { __name__: "m", project_id };
      app.append(0, labelsFromObject(labels), 60_000, i);
    });
    app.commit();
  });
  after(() => {
    db.close();
    cleanup();
  });

  const selected = (query: string): string[] => {
    const r = engine.instantQuery(db, query, 60_000);
    assert.equal(r.value.type, "vector");
    if (r.value.type !== "vector") return [];
    return r.value.samples.map((s) => s.metric.find((l) => l.name === "project_id")?.value ?? "").sort();
  };

  for (const [query, want] of [
    ['m{project_id=~"(.*){70}x"}', ["abcx", "x"]],
    ['m{project_id=~"(.*){1000}x"}', ["abcx", "x"]],
    ['m{project_id!~"(.*){70}x"}', ["", "p1", "project-1234567890", `project-${"a".repeat(60)}`]],
    ['m{project_id=~"(.*){70}project-(a+)+"}', [`project-${"a".repeat(60)}`]],
    ['m{project_id=~"((a|aa)+)+b"}', []],
  ] as const) {
    it(`${query.slice(0, 60)} in < ${BOUND_MS} ms`, () => {
      const [got, ms] = timed(() => selected(query));
      assert.deepEqual(got, [...want].sort());
      assert.ok(ms < BOUND_MS, `${ms} ms`);
    });
  }

  const labelReplace = (src: string, regex: string, replacement = "$1") =>
    `label_replace(label_replace(vector(1),"src","${src}","",""),"dst","${replacement}","src","${regex}")`;
  const dst = (query: string): string | undefined => {
    const r = engine.instantQuery(db, query, 60_000);
    assert.equal(r.value.type, "vector");
    if (r.value.type !== "vector") return undefined;
    assert.equal(r.value.samples.length, 1);
    return r.value.samples[0].metric.find((l) => l.name === "dst")?.value;
  };

  it(`label_replace with (a+)+b on a{28}! (2.5 s with backtracking, doubling per a) in < ${BOUND_MS} ms`, () => {
    const [got, ms] = timed(() => dst(labelReplace("aaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "(a+)+b")));
    assert.equal(got, undefined);
    assert.ok(ms < BOUND_MS, `${ms} ms`);
  });

  it("label_replace stays linear: (a+)+b on 20,000 a's, and a match with captures", () => {
    const long = "a".repeat(20_000);
    const [miss, ms] = timed(() => dst(labelReplace(`${long}!`, "(a+)+b")));
    assert.equal(miss, undefined);
    assert.ok(ms < BOUND_MS, `${ms} ms`);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Go's template syntax, not a JS template.
    const [hit, ms2] = timed(() => dst(labelReplace(`${long}b`, "(a+)+(b)", "$2-${2}")));
    assert.equal(hit, "b-b");
    assert.ok(ms2 < BOUND_MS, `${ms2} ms`);
  });

  it("work grows linearly with the input: (.*){1000}x on 2,000 vs 8,000 characters", () => {
    const re = compileRe2("(.*){1000}x");
    re.test("a".repeat(100)); // warm
    const [, t1] = timed(() => re.test("a".repeat(2000)));
    const [, t4] = timed(() => re.test("a".repeat(8000)));
    // Linear: ~4x. Backtracking would not finish; allow noise on a loaded machine.
    assert.ok(t4 < BOUND_MS && t4 < 20 * t1 + 50, `${t1} ms, then ${t4} ms`);
  });

  it("keeps Prometheus's errors for invalid regexes", () => {
    assert.throws(
      () => engine.instantQuery(db, 'm{project_id=~"a**"}', 60_000),
      /error parsing regexp: invalid nested repetition operator: `\*\*`/,
    );
    assert.throws(
      () => engine.instantQuery(db, 'm{project_id=~"(a){1001}"}', 60_000),
      /error parsing regexp: invalid repeat count: `\{1001\}`/,
    );
    assert.throws(
      () => engine.instantQuery(db, labelReplace("a", "(a"), 60_000),
      /invalid regular expression in label_replace\(\): \(a/,
    );
  });
});

describe("re2: Go's answers on Prometheus's matcher cases", () => {
  const cases = matcherCases.filter((c) => c.type === "=~" || c.type === "!~");

  it(`compileRe2 and Matcher agree with Go on all ${cases.length} regex cases`, () => {
    const compiled = new Map<string, ReturnType<typeof compileRe2>>();
    for (const c of cases) {
      const re = compiled.get(c.value) ?? compileRe2(c.value);
      compiled.set(c.value, re);
      const why = `${c.type}${JSON.stringify(c.value)} on ${JSON.stringify(c.input)}`;
      assert.equal(re.test(c.input) === (c.type === "=~"), c.match, why);
      assert.equal(new Matcher(c.type, c.name, c.value).matches(c.input), c.match, why);
    }
  });
});

// [pattern, inputs Go matches, inputs Go does not match] — Go semantics, fully anchored with (?s).
const GO: Array<[string, string[], string[]]> = [
  ["(?i)llama.*", ["LLaMA-3", "llama", "Llama\n"], ["xllama", "lama"]],
  ["(?i)k", ["k", "K", "\u212a"], ["x"]],
  ["(?i)s", ["s", "S", "ſ"], ["ß"]],
  ["\\pL+", ["abc", "日本語", "é"], ["a1", ""]],
  ["\\p{Greek}+", ["αβγ"], ["abc"]],
  ["\\PL", ["1", " "], ["a"]],
  ["\\pC", ["\u0001", "\u00ad"], ["\u0378", "a"]],
  ["[[:alpha:]]+[[:digit:]]", ["abc1"], ["abc", "1"]],
  ["\\d\\s\\w", ["1 a", "1\tz"], ["1\u00a0a", "١ a"]],
  ["a.b", ["a\nb", "axb", "a😀b"], ["ab", "a😀😀b"]],
  ["(?-s:a.b)", ["axb"], ["a\nb"]],
  ["^foo$|bar", ["foo", "bar"], ["foobar"]],
  ["a^b", [], ["ab", "a^b"]],
  ["(?m)a$\\n^b", ["a\nb"], ["ab"]],
  ["\\Qa.b\\E+", ["a.b", "a.bbb"], ["axb"]],
  ["\\Qa.b", ["a.b"], ["axb"]],
  ["x{2,}y?", ["xx", "xxxy"], ["x", "xyy"]],
  ["a{,2}", ["a{,2}"], ["a", "aa"]],
  ["[]a]+", ["]a]"], ["b"]],
  ["[[:]", ["[", ":"], ["]"]],
  ["\\x{1F600}|\\x41", ["😀", "A"], ["a"]],
  ["(?U)a+", ["aaa"], [""]],
  ["(?P<n>a)(?P<n>b)", ["ab"], ["a"]],
  ["\\bfoo\\b", ["foo"], []],
  ["$*bar", ["bar"], ["foo-bar"]],
];

describe("re2: RE2 features, as Go answers them", () => {
  for (const [pattern, yes, no] of GO) {
    it(JSON.stringify(pattern), () => {
      const re = compileRe2(pattern);
      for (const s of yes) assert.ok(re.test(s), `matches ${JSON.stringify(s)}`);
      for (const s of no) assert.ok(!re.test(s), `does not match ${JSON.stringify(s)}`);
    });
  }

  it("Go's error messages, from the parser port rather than re2js", () => {
    for (const [pattern, message] of [
      ["\\", "error parsing regexp: trailing backslash at end of expression: ``"],
      ["a)", "error parsing regexp: unexpected ): `a)`"],
      ["(?<=a)b", "error parsing regexp: invalid named capture: `(?<=a)b`"],
      ["\\C", "error parsing regexp: invalid escape sequence: `\\C`"],
      ["a\ud800", "error parsing regexp: invalid UTF-8: `\ud800`"],
    ]) {
      assert.throws(
        () => compileRe2(pattern),
        (err: unknown) => err instanceof Re2SyntaxError && err.message === message,
        message,
      );
    }
  });
});

describe("re2: the same answers as the backtracking translation on generated patterns", () => {
  // Small patterns over a small alphabet, so backtracking stays cheap; every construct the matcher
  // fast paths and re2js see: literals, `.`, classes, anchors, flags, groups, quantifiers.
  const atom = fc.constantFrom(
    "a",
    "b",
    "A",
    "k",
    "-",
    "\\.",
    ".",
    "[ab]",
    "[^a]",
    "\\w",
    "\\pL",
    "[[:upper:]]",
    "^",
    "$",
    "\\b",
  );
  const piece = fc
    .tuple(atom, fc.constantFrom("", "", "*", "+", "?", "{2}", "{1,2}", "*?"))
    .map((p) => p.join(""));
  const seq = fc.array(piece, { minLength: 0, maxLength: 4 }).map((p) => p.join(""));
  const group = fc
    .tuple(fc.constantFrom("(", "(?:", "(?i:", "(?i)(", "(?-s:"), seq, fc.constantFrom(")", ")*", ")+"))
    .map((p) => p.join(""));
  const branch = fc.array(fc.oneof(seq, group, fc.constantFrom(".*", ".+")), { minLength: 1, maxLength: 3 });
  const pattern = fc
    .array(
      branch.map((b) => b.join("")),
      { minLength: 1, maxLength: 3 },
    )
    .map((bs) => bs.join("|"));
  const input = fc.string({
    unit: fc.constantFrom("a", "b", "A", "K", "k", "\u212a", "-", ".", "\n", "😀"),
    maxLength: 6,
  });

  it("agrees on matches (5,000 patterns x 10 inputs)", () => {
    fc.assert(
      fc.property(pattern, fc.array(input, { minLength: 10, maxLength: 10 }), (p, inputs) => {
        let re: ReturnType<typeof compileRe2>;
        try {
          re = compileRe2(p);
        } catch (err) {
          assert.throws(() => translateRe2(p), Re2SyntaxError, `only re2js rejects ${p}: ${err}`);
          return;
        }
        const { source, flags } = translateRe2(p);
        const js = new RegExp(`^(?:${source})$`, flags);
        const matcher = new Matcher("=~", "l", p);
        for (const s of inputs) {
          assert.equal(re.test(s), js.test(s), `${JSON.stringify(p)} on ${JSON.stringify(s)}`);
          assert.equal(
            matcher.matches(s),
            js.test(s),
            `Matcher ${JSON.stringify(p)} on ${JSON.stringify(s)}`,
          );
          // Groups are not compared: JS resets a repeated group's captures on each iteration, Go
          // keeps them (`(a|(b))+` on "ba": Go's $2 is "b"), and label_replace needs Go's.
          assert.equal(re.exec(s) !== null, js.test(s), `exec ${JSON.stringify(p)} on ${JSON.stringify(s)}`);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it("fast-path globs agree with re2js", () => {
    const lit = fc.string({ unit: fc.constantFrom("a", "b", "😀", "\\."), minLength: 1, maxLength: 3 });
    const wild = fc.constantFrom("", ".*", ".+");
    const glob = fc
      .tuple(wild, fc.array(fc.tuple(lit, wild), { minLength: 0, maxLength: 3 }))
      .map(([first, rest]) => first + rest.map(([l, w]) => l + w).join(""));
    const globs = fc.array(glob, { minLength: 1, maxLength: 3 }).map((g) => g.join("|"));
    const text = fc.string({ unit: fc.constantFrom("a", "b", ".", "😀"), maxLength: 8 });
    fc.assert(
      fc.property(
        globs,
        fc.boolean(),
        fc.array(text, { minLength: 10, maxLength: 10 }),
        (g, wrap, inputs) => {
          const p = wrap ? `(${g})` : g;
          if (/\.[*+]\.[*+]/.test(p)) return; // not a fast path
          const fast = compileRe2(p);
          const { source, flags } = translateRe2(p);
          const js = new RegExp(`^(?:${source})$`, flags);
          for (const s of inputs) assert.equal(fast.test(s), js.test(s), `${p} on ${JSON.stringify(s)}`);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("label_replace's template expansion (Go's regexp.Expand)", () => {
  const expand = (pattern: string, input: string, template: string) => {
    const m = compileRe2(pattern).exec(input);
    assert.ok(m, `${pattern} matches ${input}`);
    return expandTemplate(template, m);
  };

  it("numbers, names, braces, $$ and malformed references", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Go's template syntax, not a JS template.
    assert.equal(expand("(a)(b)?(?P<name>c)", "ac", "$1-$2-$3-${name}-$name-$$-$"), "a--c-c-c-$-$");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Go's template syntax, not a JS template.
    assert.equal(expand("(a)", "a", "$1x|${1}x|${x|$ |$!"), "|ax|${x|$ |$!");
    assert.equal(expand("(a)", "a", "$01|$0|$9|$123456789|$1234567890"), "|a|||");
    // Unicode letters belong to a name, as in Go: `$1é` names group "1é".
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Go's template syntax, not a JS template.
    assert.equal(expand("(a)", "a", "$1é|${1}é"), "|aé");
  });

  it("a duplicate name expands to the first group of that name that took part", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Go's template syntax, not a JS template.
    assert.equal(expand("(?P<n>x)?(?P<n>y)", "y", "${n}"), "y");
    assert.equal(expand("(?P<n>x)(?P<n>y)", "xy", "$n"), "x");
    assert.equal(expand("(?P<__proto__>x)", "x", "$__proto__"), "x");
  });
});

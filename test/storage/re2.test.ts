/**
 * translateRe2 (src/storage/re2.ts) against Go's regexp, which Prometheus's label matchers use.
 *
 * Every expectation below was computed with Go's regexp package (a throwaway program, not kept): a
 * pattern RE is valid iff syntax.Parse(RE, syntax.Perl|syntax.DotNL) accepts it, as in Prometheus's
 * NewFastRegexMatcher, and then matches v iff regexp.MustCompile("^(?s:" + RE + ")$").MatchString(v)
 * (with RE re-serialised by the parser, as Prometheus does, where a trailing \Q... would eat the ")$").
 * The Go at hand was 1.19, patched to behave like the Go 1.23+ that Prometheus 3.x is built with:
 * `(?<name>...)` is accepted (Go 1.22), alternation factoring respects case folding (golang/go#59007:
 * Go 1.19 matches "k" with `(?i:K,(?-i){2}|K)`), and the size limit reports "expression too large".
 * Characters whose Unicode properties changed since Unicode 13 (Go 1.19's tables) are not used.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Re2SyntaxError, translateRe2 } from "../../src/storage/re2.js";
import { labelNamesCases, labelValuesCases, matcherCases, postingsCases } from "./matcher-cases.js";

function compile(pattern: string): RegExp {
  const { source, flags } = translateRe2(pattern);
  return new RegExp(`^(?:${source})$`, flags);
}

function assertMatches(pattern: string, yes: string[], no: string[]): void {
  const re = compile(pattern);
  const why = (input: string, verb: string) =>
    `Go: ${JSON.stringify(pattern)} ${verb} ${JSON.stringify(input)} (JS: /${re.source}/${re.flags})`;
  for (const input of yes) assert.ok(re.test(input), why(input, "matches"));
  for (const input of no) assert.ok(!re.test(input), why(input, "does not match"));
}

const label = (pattern: string) => {
  const s = JSON.stringify(pattern);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

describe("translateRe2: Prometheus's matcher cases", () => {
  // matcher-cases.ts records each case as the matcher's answer; for !~ that is the regex's negation.
  const byPattern = new Map<string, { yes: string[]; no: string[]; re2Only: boolean }>();
  for (const c of matcherCases) {
    if (c.type !== "=~" && c.type !== "!~") continue;
    const entry = byPattern.get(c.value) ?? { yes: [], no: [], re2Only: false };
    byPattern.set(c.value, entry);
    (c.match === (c.type === "=~") ? entry.yes : entry.no).push(c.input);
    entry.re2Only ||= c.re2Only !== undefined;
  }

  it("covers every =~ and !~ case, including the re2Only ones", () => {
    const cases = [...byPattern.values()].reduce((n, e) => n + e.yes.length + e.no.length, 0);
    assert.equal(cases, matcherCases.filter((c) => c.type === "=~" || c.type === "!~").length);
    assert.ok([...byPattern.values()].some((e) => e.re2Only));
  });

  for (const [pattern, { yes, no, re2Only }] of byPattern) {
    it(`${label(pattern)}: ${yes.length + no.length} inputs${re2Only ? " (re2Only)" : ""}`, () => {
      assertMatches(pattern, yes, no);
    });
  }

  it("translates the regexes of the postings, label values and label names cases", () => {
    const all = [...postingsCases, ...labelValuesCases, ...labelNamesCases].flatMap((c) => c.matchers);
    for (const [, type, value] of all) if (type === "=~" || type === "!~") compile(value);
  });
});

// feature → [pattern, inputs Go matches, inputs Go does not match]
const FEATURES: Record<string, Array<[string, string[], string[]]>> = {
  flags: [
    ["(?i:foo)bar", ["FOObar", "fOobar", "foobar"], ["fooBAR", "FOOBAR"]],
    ["(?i)foo|bar", ["FOO", "BAR", "bAr"], ["baz"]],
    ["a(?i)b|c", ["ab", "aB", "c", "C"], ["AB"]],
    ["x|(?i)y|z", ["x", "Y", "Z", "z"], ["X"]],
    ["(?i)a(?-i)b", ["Ab", "ab"], ["AB", "aB"]],
    ["(?i)((?-i)api|rpc)", ["api", "rpc"], ["API", "RPC"]],
    ["(x(?i)y)Z", ["xYZ", "xyZ"], ["xyz", "XYZ"]],
    ["(?i)(?-i:A)b", ["AB", "Ab"], ["aB"]],
    ["(?i:a(?-i:b)|c)", ["Ab", "C", "c"], ["AB", "aB"]],
    ["(?i)(?)a", ["a", "A"], []],
    ["(?i-i)a", ["a"], ["A"]],
    ["(?im-s:^a.b$)", ["AxB", "axb"], ["A\nB"]],
    ["(?is:a.b)", ["A\nB", "a\nb", "axb"], []],
    ["(?i-s:a.b)", ["AxB"], ["A\nB"]],
    ["(?-s:a.b)", ["axb"], ["a\nb"]],
    ["(?-s)a.(?s:.)", ["ab\n", "abc"], ["a\nb"]],
    ["(?-s).*|x", ["", "abc", "x"], ["a\nb"]],
    ["(?s).", ["\n", "a"], []],
    [".", ["\n", "a", "😀", "\r", "\u2028"], [""]],
    ["..", ["ab"], ["😀"]],
    ["(?-s:.)", ["\r", "\u2028", "a", "😀"], ["\n"]],
  ],
  fold: [
    ["(?i:k)", ["k", "K", "\u212a"], ["x"]],
    ["(?i)\u212a", ["k", "K", "\u212a"], []],
    ["(?i)s", ["s", "S", "ſ"], ["ß"]],
    ["(?i)ſ", ["s", "S", "ſ"], []],
    ["(?i)ſſs", ["ſſs", "SSS", "sſS"], ["ssß"]],
    ["(?i)σ", ["σ", "Σ", "ς"], ["s"]],
    ["(?i)\u00b5", ["\u00b5", "\u03bc", "\u039c"], ["m"]],
    ["(?i)ǅ", ["Ǆ", "ǅ", "ǆ"], ["DŽ"]],
    ["(?i)ß", ["ß", "ẞ"], ["ss", "SS"]],
    ["(?i)İ", ["İ"], ["i", "I"]],
    ["(?i)ı", ["ı"], ["I", "i"]],
    ["(?i)i", ["i", "I"], ["ı", "İ"]],
    ["(?i)ω", ["ω", "Ω", "\u2126"], []],
    ["(?i)𐐀", ["𐐀", "𐐨"], ["a"]],
    ["(?i)[a-c]x", ["Ax", "bX", "Cx"], ["dx"]],
    ["(?i)[^k]", ["j"], ["k", "K", "\u212a"]],
    ["(?i)[k-m]", ["\u212a", "L"], ["n"]],
    ["(?i)[[:upper:]]", ["a", "Z", "ſ", "\u212a"], ["1"]],
    ["(?i)[[:^lower:]]", ["1"], ["a", "Z", "ſ", "\u212a"]],
    ["(?i)\\w", ["ſ", "\u212a", "_"], ["-", "é"]],
    ["(?i)\\W", ["-"], ["ſ", "\u212a", "a"]],
    ["(?i)[\\W\\d]", ["-", "5"], ["ſ", "\u212a", "a"]],
    ["(?i)\\Qk.\\E", ["k.", "K.", "\u212a."], ["kx"]],
    ["(?i)\\x{212a}\\x53", ["kſ", "Ks", "\u212aS"], []],
    ["(?i)\\p{Greek}", ["\u00b5", "\u2126", "ω"], ["a"]],
    ["(?i)\\P{Greek}", ["a"], ["\u00b5", "\u2126", "ω"]],
    ["(?i)\\p{Lu}", ["a", "A", "ǅ"], ["1"]],
    ["(?i)\\P{Lu}", ["1"], ["a", "A", "ǅ"]],
    ["(?i)[^\\p{Lu}]", ["1"], ["a", "A", "ǅ"]],
    ["(?i)\\p{Lo}", ["中"], ["a"]],
    ["(?i)zQPbMkNO|NNSPdvMi", ["zqpbmkno", "ZQPBMKNO", "nnspdvmi"], ["zqpbmkn0"]],
  ],
  boundary: [
    ["a\\b.*", ["a", "a b", "aſ", "a\u212a"], ["ab"]],
    ["(?i)a\\B.", ["ab"], ["aſ", "a\u212a", "a-"]],
    ["\\bfoo\\b", ["foo"], []],
    [".*\\bé", ["aé"], ["é", "a é"]],
  ],
  multiline: [
    ["(?m)a$\\n^b", ["a\nb"], ["ab"]],
    ["a\\n^b", [], ["a\nb"]],
    ["a$\\nb", [], ["a\nb"]],
    ["x(?m:$)\\ny", ["x\ny"], ["xy"]],
    ["(?m).*^x$.*", ["a\nx\nb", "x"], ["ax", "a\nxb"]],
    ["(?m:^$)\\n?", ["", "\n"], []],
    ["(?m)\\Aa$\\n^b\\z", ["a\nb"], []],
  ],
  ungreedy: [
    ["(?U)a+b", ["aab"], ["b"]],
    ["(?U)(a*?)b", ["aab", "b"], []],
    ["(?U:a+?)a", ["aa", "aaa"], ["a"]],
    ["a*?b|a??", ["aab", "a", ""], []],
  ],
  escapes: [
    ["\\Aab\\z", ["ab"], ["a"]],
    ["a\\Ab", [], ["ab"]],
    ["a\\zb", [], ["ab"]],
    ["\\Qa.b*\\E+", ["a.b*", "a.b**"], ["axb", "a.b"]],
    ["\\Q(?i)k", ["(?i)k"], ["(?i)K", "k"]],
    ["x\\Q\\E*", ["", "x", "xx"], []],
    ["\\Q[]{}\\E", ["[]{}"], []],
    ["\\x41\\x{1F600}\\x{41}", ["A😀A"], ["AA"]],
    ["\\x{10FFFF}", ["\u{10ffff}"], []],
    ["\\101\\0\\08", ["A\u0000\u00008"], ["A\u00008"]],
    ["\\141\\1411\\07", ["aa1\u0007"], ["aa1"]],
    ["\\Qab\\", ["ab\\"], ["ab"]],
    ["\\a\\f\\t\\n\\r\\v", ["\u0007\f\t\n\r\u000b"], []],
    ["\\-\\_\\!\\@\\#\\%\\&\\=\\~\\'\\\"\\,\\<\\>\\/\\:\\;\\`\\ ", ["-_!@#%&=~'\",<>/:;` "], []],
    ["\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\", [".*+?()[]{}|^$\\"], []],
    ["a\\{2}", ["a{2}"], ["aa"]],
  ],
  unicode: [
    ["\\pL+", ["héllo", "中文", "Ǆ"], ["h1"]],
    ["\\PL", ["1", "-"], ["a"]],
    ["\\p{^L}\\P{^L}", ["1a"], ["a1"]],
    ["\\pN", ["٣", "5", "Ⅻ"], ["x"]],
    ["\\p{Nd}", ["٣"], ["Ⅻ"]],
    ["\\p{Greek}+", ["αβγ", "Ω"], ["abc", "\u00b5"]],
    ["\\p{Han}\\p{Hiragana}", ["中ひ"], ["ひ中"]],
    ["\\p{Latin}", ["a", "é", "ſ"], ["1"]],
    ["\\p{Common}", ["1", "-"], ["a"]],
    ["\\pC", ["\u0000", "\u200b", "\ue000"], ["\u0378", "a"]],
    ["\\PC", ["\u0378", "a"], ["\u0000"]],
    ["[\\pC]", ["\u00ad"], ["\u0378"]],
    ["[^\\PC]", ["\u00ad"], ["\u0378", "a"]],
    ["\\p{Cs}|\\p{Co}", ["\ue000"], ["a"]],
    ["\\p{Any}", ["\n", "😀", "a"], [""]],
    ["\\P{Any}|b", ["b"], ["a", ""]],
    ["[\\p{Lu}\\d]", ["A", "5", "É"], ["a"]],
    ["[^\\pL\\d]", ["-", "😀"], ["a", "5"]],
    ["[\\P{L}a]", ["a", "1"], ["b"]],
    ["\\p{Zs}\\p{Sc}\\p{Pd}", [" $-", "\u00a0€—"], ["a$-"]],
  ],
  posix: [
    ["[[:alpha:]]+", ["abcXYZ"], ["ab1", "é"]],
    ["[[:^digit:]]", ["a", "٣"], ["5"]],
    ["[[:space:]]", ["\u000b", " ", "\n"], ["\u00a0"]],
    ["\\s", [" ", "\f"], ["\u000b", "\u00a0", "\u2028"]],
    ["[[:word:][:punct:]]+", ["a_-!"], ["a b"]],
    ["[[:xdigit:]]+", ["09afAF"], ["g"]],
    ["[[:cntrl:]]", ["\u0000", "\u007f"], ["\u0080", "a"]],
    ["[[:print:]][[:graph:]]", [" a"], ["a ", "é!"]],
    ["[[:blank:]][[:ascii:]]", ["\ta", " \u007f"], [" é"]],
    ["[[:lower:][:upper:]]", ["a", "Z"], ["1"]],
    ["[[:alnum:]]", ["a", "1"], ["_"]],
    ["[x[:digit:]y]", ["x", "5", "y"], ["z"]],
    ["[:alpha:]", [":", "a"], ["x"]],
    ["[[:]", ["[", ":"], []],
  ],
  perl: [
    ["\\d", ["5"], ["٣", "a"]],
    ["\\D", ["٣", "a"], ["5"]],
    ["\\S", ["\u000b", "a", "\u00a0"], [" "]],
    ["\\w+", ["abc_123"], ["é", "ab-"]],
    ["\\W", ["é", "-"], ["a"]],
    ["[\\d\\s]+", ["1 2"], ["1\u000b2"]],
    ["[^\\w]", ["-", "é"], ["a"]],
    ["[\\w-]+", ["a-b"], ["a b"]],
  ],
  anchors: [
    ["^*a", ["a"], []],
    ["x^*y", ["xy"], []],
    ["x$?y", ["xy"], []],
    ["a$+", ["a"], []],
    ["(?:^)*a(?:$)+", ["a"], []],
    ["\\b+a", ["a"], []],
    ["a\\B{2}b", ["ab"], ["a b"]],
    ["a\\b*b", ["ab"], []],
    ["(?m)a$*\\n", ["a\n"], []],
    ["\\A{2}a\\z{1,}", ["a"], []],
  ],
  repeat: [
    ["a{2}", ["aa"], ["a", "aaa"]],
    ["a{2,}", ["aa", "aaaaa"], ["a"]],
    ["a{2,3}", ["aa", "aaa"], ["a", "aaaa"]],
    ["a{0}b", ["b"], ["ab"]],
    ["a{0,0}", [""], ["a"]],
    ["a{2}?", ["aa"], []],
    ["(?:ab){1000}", ["ab".repeat(1000)], ["ab".repeat(999)]],
    ["((a{10}){10}){10}", ["a".repeat(1000)], ["a".repeat(999)]],
    ["(a{1000}){0}b", ["b"], []],
    ["(a{2}){500}", ["a".repeat(1000)], []],
    ["a{,2}", ["a{,2}"], ["aa"]],
    ["a{01}", ["a{01}"], ["a"]],
    ["a{1,01}", ["a{1,01}"], []],
    ["a{", ["a{"], []],
    ["a{1", ["a{1"], []],
    ["a{1,", ["a{1,"], []],
    ["a{x}", ["a{x}"], []],
    ["{", ["{"], []],
    ["{}", ["{}"], []],
    ["x}", ["x}"], []],
    ["{,1}", ["{,1}"], []],
    ["a(?i)*", ["", "aa"], ["A"]],
    ["a*(?i)*", ["", "aaa"], []],
  ],
  class: [
    ["[]a]", ["]", "a"], ["b"]],
    ["[^]a]", ["b"], ["]", "a"]],
    ["]", ["]"], []],
    ["a]", ["a]"], []],
    ["[a-]", ["a", "-"], ["b"]],
    ["[-a]", ["a", "-"], []],
    ["[a\\-z]", ["a", "-", "z"], ["b"]],
    ["[a-c-e]", ["b", "-", "e"], ["d"]],
    ["[[]", ["["], []],
    ["[a[]", ["[", "a"], []],
    ["[[=a=]]", ["a]", "=]"], ["[=a=]"]],
    ["[\\[\\]\\^\\-]", ["[", "]", "^", "-"], ["\\"]],
    ["[\\x00-\\x{10FFFF}]", ["\u0000", "😀", "\n"], []],
    ["[^\\x00-\\x{10FFFF}]|x", ["x"], ["a"]],
    ["[^\\n]", ["a"], ["\n"]],
    ["[^a]", ["\n", "b", "😀"], ["a"]],
    ["[😀-😂]", ["😁"], ["😃", "\ud83d"]],
    ["[\\x{1F600}-\\x{1F602}a]", ["😁", "a"], []],
    ["[.*+?(){}|^$]+", [".*+?(){}|^$"], ["a"]],
    ["[\\d-z]", ["5", "-", "z"], ["y"]],
    ["[^-]", ["a"], ["-"]],
    ["[\\n-\\r]", ["\n", "\u000b", "\r"], [" "]],
    ["[a-a]", ["a"], []],
  ],
  groups: [
    ["(?P<year>\\d{4})-(?P<m>\\d\\d)", ["2024-01"], ["24-01"]],
    ["(?<x>a)|b", ["a", "b"], []],
    ["(?P<n>a)(?P<n>b)", ["ab"], []],
    ["(?P<1x>a)", ["a"], []],
    ["(?:a|b)+(c)?", ["abba", "abc"], ["c"]],
    ["()", [""], ["a"]],
    ["(|a)+", ["", "aa"], []],
    ["a|", ["a", ""], []],
    ["|a", ["a", ""], []],
    ["((((a))))", ["a"], []],
  ],
  plain: [
    ["foo.*|bar.+", ["foo", "foox", "barx"], ["bar"]],
    ["^foo$|^$", ["foo", ""], []],
    ["(api|rpc)_(v1|prom)_push", ["api_v1_push", "rpc_prom_push"], ["api_v2_push"]],
    ["日本語|😀+", ["日本語", "😀😀"], ["日本"]],
    ["a/b", ["a/b"], []],
    ["-,:;=!<>'\"", ["-,:;=!<>'\""], []],
  ],
};

describe("translateRe2: RE2 features, checked against Go", () => {
  for (const [feature, cases] of Object.entries(FEATURES)) {
    describe(feature, () => {
      for (const [pattern, yes, no] of cases) it(label(pattern), () => assertMatches(pattern, yes, no));
    });
  }
});

// [pattern, Go's error message]
const ERRORS: Array<[string, string]> = [
  ["\\C", "error parsing regexp: invalid escape sequence: `\\C`"],
  ["\\8", "error parsing regexp: invalid escape sequence: `\\8`"],
  ["\\1", "error parsing regexp: invalid escape sequence: `\\1`"],
  ["\\Z", "error parsing regexp: invalid escape sequence: `\\Z`"],
  ["\\E", "error parsing regexp: invalid escape sequence: `\\E`"],
  ["\\q", "error parsing regexp: invalid escape sequence: `\\q`"],
  ["\\é", "error parsing regexp: invalid escape sequence: `\\é`"],
  ["\\x{110000}", "error parsing regexp: invalid escape sequence: `\\x{110000`"],
  ["\\xZZ", "error parsing regexp: invalid escape sequence: `\\xZZ`"],
  ["\\xA", "error parsing regexp: invalid escape sequence: `\\xA`"],
  ["\\x", "error parsing regexp: invalid escape sequence: `\\x`"],
  ["\\x{}", "error parsing regexp: invalid escape sequence: `\\x{}`"],
  ["\\x{12", "error parsing regexp: invalid escape sequence: `\\x{12`"],
  ["\\x{12G}", "error parsing regexp: invalid escape sequence: `\\x{12G`"],
  ["\\p{Foo}", "error parsing regexp: invalid character class range: `\\p{Foo}`"],
  ["\\pX", "error parsing regexp: invalid character class range: `\\pX`"],
  ["\\p{Greek", "error parsing regexp: invalid character class range: `\\p{Greek`"],
  ["\\p", "error parsing regexp: invalid character class range: `\\p`"],
  ["\\p{}", "error parsing regexp: invalid character class range: `\\p{}`"],
  ["\\p{^}", "error parsing regexp: invalid character class range: `\\p{^}`"],
  ["\\pé", "error parsing regexp: invalid character class range: `\\pé`"],
  ["[[:foo:]]", "error parsing regexp: invalid character class range: `[:foo:]`"],
  ["[[:^foo:]]", "error parsing regexp: invalid character class range: `[:^foo:]`"],
  ["[z-a]", "error parsing regexp: invalid character class range: `z-a`"],
  ["[a", "error parsing regexp: missing closing ]: `[a`"],
  ["[]", "error parsing regexp: missing closing ]: `[]`"],
  ["[^]", "error parsing regexp: missing closing ]: `[^]`"],
  ["[a-\\d]", "error parsing regexp: invalid escape sequence: `\\d`"],
  ["a[bc", "error parsing regexp: missing closing ]: `[bc`"],
  ["a**", "error parsing regexp: invalid nested repetition operator: `**`"],
  ["a*+", "error parsing regexp: invalid nested repetition operator: `*+`"],
  ["a*??", "error parsing regexp: invalid nested repetition operator: `*??`"],
  ["a+*", "error parsing regexp: invalid nested repetition operator: `+*`"],
  ["a?{2}", "error parsing regexp: invalid nested repetition operator: `?{2}`"],
  ["x{2}{3}", "error parsing regexp: invalid nested repetition operator: `{2}{3}`"],
  ["x{2}*", "error parsing regexp: invalid nested repetition operator: `{2}*`"],
  ["*a", "error parsing regexp: missing argument to repetition operator: `*`"],
  ["(*)", "error parsing regexp: missing argument to repetition operator: `*`"],
  ["a|*", "error parsing regexp: missing argument to repetition operator: `*`"],
  ["(?i)*", "error parsing regexp: missing argument to repetition operator: `*`"],
  ["+", "error parsing regexp: missing argument to repetition operator: `+`"],
  ["?", "error parsing regexp: missing argument to repetition operator: `?`"],
  ["{2}", "error parsing regexp: missing argument to repetition operator: `{2}`"],
  ["a(|*)", "error parsing regexp: missing argument to repetition operator: `*`"],
  ["a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"],
  ["a{2,1}", "error parsing regexp: invalid repeat count: `{2,1}`"],
  ["a{1000,1001}", "error parsing regexp: invalid repeat count: `{1000,1001}`"],
  ["a{99999999999}", "error parsing regexp: invalid repeat count: `{99999999999}`"],
  ["(a{500}){3}", "error parsing regexp: invalid repeat count: `{3}`"],
  ["((a{10}){10}){11}", "error parsing regexp: invalid repeat count: `{11}`"],
  ["(a{2}){501}", "error parsing regexp: invalid repeat count: `{501}`"],
  ["(?:a{1000}){1,2}", "error parsing regexp: invalid repeat count: `{1,2}`"],
  ["(", "error parsing regexp: missing closing ): `(`"],
  [")", "error parsing regexp: unexpected ): `)`"],
  ["a)|(b", "error parsing regexp: unexpected ): `a)|(b`"],
  ["(a", "error parsing regexp: missing closing ): `(a`"],
  ["((a)", "error parsing regexp: missing closing ): `((a)`"],
  ["a)", "error parsing regexp: unexpected ): `a)`"],
  ["(?x)", "error parsing regexp: invalid or unsupported Perl syntax: `(?x`"],
  ["(?P<>a)", "error parsing regexp: invalid named capture: `(?P<>`"],
  ["(?P<a-b>x)", "error parsing regexp: invalid named capture: `(?P<a-b>`"],
  ["(?P<n", "error parsing regexp: invalid named capture: `(?P<n`"],
  ["(?P<n>", "error parsing regexp: missing closing ): `(?P<n>`"],
  ["(?P=n)", "error parsing regexp: invalid or unsupported Perl syntax: `(?P`"],
  ["(?P>n)", "error parsing regexp: invalid or unsupported Perl syntax: `(?P`"],
  ["(?<=a)b", "error parsing regexp: invalid named capture: `(?<=a)b`"],
  ["(?<!a)b", "error parsing regexp: invalid named capture: `(?<!a)b`"],
  ["(?=a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"],
  ["(?!a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?!`"],
  ["(?-)", "error parsing regexp: invalid or unsupported Perl syntax: `(?-)`"],
  ["(?i-)", "error parsing regexp: invalid or unsupported Perl syntax: `(?i-)`"],
  ["(?--i)", "error parsing regexp: invalid or unsupported Perl syntax: `(?--`"],
  ["(?i", "error parsing regexp: invalid or unsupported Perl syntax: `(?i`"],
  ["(?", "error parsing regexp: invalid or unsupported Perl syntax: `(?`"],
  ["(?é)", "error parsing regexp: invalid or unsupported Perl syntax: `(?é`"],
  ["(?'n'a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?'`"],
  ["(?#comment)", "error parsing regexp: invalid or unsupported Perl syntax: `(?#`"],
  ["\\", "error parsing regexp: trailing backslash at end of expression: ``"],
  ["a\\", "error parsing regexp: trailing backslash at end of expression: ``"],
  ["[\\b]", "error parsing regexp: invalid escape sequence: `\\b`"],
  ["[\\Q]", "error parsing regexp: invalid escape sequence: `\\Q`"],
  ["[\\A]", "error parsing regexp: invalid escape sequence: `\\A`"],
  ["(a{2}){1000}", "error parsing regexp: invalid repeat count: `{1000}`"],
  ["(?<n", "error parsing regexp: invalid named capture: `(?<n`"],
  ["(?<>a)", "error parsing regexp: invalid named capture: `(?<>`"],
  ["(?i)(?P<é>a)", "error parsing regexp: invalid named capture: `(?P<é>`"],
];

describe("translateRe2: patterns Go rejects, with Go's message", () => {
  for (const [pattern, message] of ERRORS) {
    it(label(pattern), () => {
      assert.throws(
        () => translateRe2(pattern),
        (err: unknown) => err instanceof Re2SyntaxError && err.message === message,
        message,
      );
    });
  }

  it("Go's nesting and size limits", () => {
    // Go: 998 nested captures compile; 999 exceed 1000 levels once Prometheus wraps them in ^(?s:...)$.
    const nested = (n: number) => `${"(".repeat(n)}a${")".repeat(n)}`;
    assert.ok(compile(nested(998)).test("a"));
    assert.throws(() => translateRe2(nested(999)), /expression nests too deeply/);
    // Go: flattened nesting of non-capturing groups does not count.
    assert.ok(compile(`${"(?:a*".repeat(1000)}${")".repeat(1000)}`).test("aa"));
    // Go: 4000 instructions repeated 1000 times exceed 128 MB; 3200 do not.
    assert.throws(() => translateRe2(`(?:${"abcd".repeat(1000)}){1000}`), /expression too large/);
    assert.ok(compile(`(?:${"abcd".repeat(800)}){1000}`));
  });

  it("rejects unpaired surrogates, which cannot reach Prometheus as UTF-8", () => {
    assert.throws(() => translateRe2("a\ud800b"), /invalid UTF-8: `\ud800b`/);
    assert.ok(compile("😀").test("😀"));
  });
});

describe("translateRe2: output", () => {
  it("always uses the flags su, never i or m, whose semantics differ", () => {
    const patterns = [
      ...Object.values(FEATURES)
        .flat()
        .map(([p]) => p),
      ...matcherCases.map((c) => c.value),
    ];
    for (const p of patterns) assert.equal(translateRe2(p).flags, "su", p);
  });

  it("returns plain patterns unchanged", () => {
    for (const p of ["foo", "foo.*|bar.+", "(api|rpc)_(v1|prom)_.+", "^foo$", "ſſs", "a?b*?c+", "日本語"]) {
      assert.deepEqual(translateRe2(p), { source: p, flags: "su" });
    }
  });

  it("sends what JS reads differently through the parser", () => {
    const translated: Array<[string, string]> = [
      ["$*bar", "(?:$)*bar"],
      ["a{,2}]", "a\\{,2\\}\\]"],
      ["[]a]", "[\\]a]"],
      ["(?i:k)", "(?:[Kk\\u{212a}])"],
      ["(?-s:.)", "(?:[^\\n])"],
      ["(?m)^a$", "(?<![^\\n])a(?![^\\n])"],
      ["\\s\\pL\\p{Greek}", "[\\t\\n\\f\\r ][\\p{L}][\\p{Script=Greek}]"],
      ["(?U)a*b+?", "a*?b+"],
    ];
    for (const [pattern, source] of translated) assert.equal(translateRe2(pattern).source, source, pattern);
  });

  it("keeps Go's capture group numbering", () => {
    const m = compile("(a)(?:b)(?P<n>c)(?<m>d)(?i)(e)").exec("abcdE");
    assert.deepEqual(m?.slice(1), ["a", "c", "d", "E"]);
  });
});

/**
 * User regexes (label matchers, label_replace) with RE2 syntax and semantics in linear time:
 * compileRe2 validates a pattern with the port of Go's parser (re2-parser.ts, Go's messages) and
 * matches it with re2js, a port of Go's regexp that never backtracks (`(.*){1000}x`, `(a+)+b` stay
 * linear), with prefix / suffix / substring fast paths for glob-like patterns. The JS translation
 * (translateRe2, also in re2-parser.ts) remains for the promqltest script format, whose regexes are
 * not user input.
 */

import { RE2JS } from "re2js";
import { isAlnum, LONE_SURROGATE, Re2Parser, Re2SyntaxError } from "./re2-parser.js";

export { Re2SyntaxError, type Re2Translation, translateRe2 } from "./re2-parser.js";

/** A full match's groups: [0] the whole input, then each group's text or undefined if it took no part. */
export type Re2Match = Array<string | undefined> & { groups: Record<string, string | undefined> };

type Wildcard = "" | "*" | "+"; // nothing, `.*`, `.+`
/** Literals with the wildcard before each and after the last: gaps.length === literals.length + 1. */
type Glob = { literals: string[]; gaps: Wildcard[] };

/**
 * A glob's test. Each literal is placed leftmost after the previous one (with a unit between after
 * `.+`), which leaves the most room for the rest; an anchored first (last) literal is a prefix
 * (suffix). Literals are well-formed UTF-16, so every cut is between code points, and a gap of one
 * unit or more holds the one code point `.+` needs.
 */
function globTest({ literals, gaps }: Glob): (s: string) => boolean {
  const k = literals.length;
  if (k === 0) return gaps[0] === "*" ? () => true : gaps[0] === "+" ? (s) => s.length > 0 : (s) => s === "";
  const min = (w: Wildcard) => (w === "+" ? 1 : 0);
  if (k === 1 && gaps[0] === "" && gaps[1] === "") return (s) => s === literals[0];
  return (s) => {
    let pos = 0; // end of the literals placed so far
    let i = 0;
    if (gaps[0] === "") {
      if (!s.startsWith(literals[0])) return false;
      pos = literals[0].length;
      i = 1;
    }
    const floating = gaps[k] === "" ? k - 1 : k;
    for (; i < floating; i++) {
      const at = s.indexOf(literals[i], pos + min(gaps[i]));
      if (at < 0) return false;
      pos = at + literals[i].length;
    }
    if (gaps[k] !== "") return s.length >= pos + min(gaps[k]);
    const last = literals[k - 1];
    return s.length - last.length >= pos + min(gaps[k - 1]) && s.endsWith(last);
  };
}

/**
 * The everyday shapes matched without a regex engine: an alternation (optionally in one group) of
 * globs, literals joined by `.*` or `.+` (`llama.*|mistral-7b|gpt-.*-turbo`, `.*foo.*`, `(a|b)`).
 * `.` matches every code point (Prometheus's (?s)), so these are prefix, suffix and substring tests.
 * Undefined for anything else (classes, other quantifiers, flags, `.` alone, adjacent wildcards).
 */
function literalShape(pattern: string): ((s: string) => boolean) | undefined {
  const group = /^\((?:\?:)?(.*)\)$/s.exec(pattern);
  const body = group ? group[1] : pattern;
  const globs: Glob[] = [];
  let glob: Glob = { literals: [], gaps: [""] };
  let literal: string | undefined; // the literal being read, if any
  const endLiteral = () => {
    if (literal === undefined) return;
    glob.literals.push(literal);
    glob.gaps.push("");
    literal = undefined;
  };
  for (let i = 0; i <= body.length; i++) {
    const ch = body[i];
    if (ch === undefined || ch === "|") {
      endLiteral();
      globs.push(glob);
      glob = { literals: [], gaps: [""] };
    } else if (ch === "." && (body[i + 1] === "*" || body[i + 1] === "+")) {
      endLiteral();
      if (glob.gaps[glob.gaps.length - 1] !== "") return undefined; // `.*.*`, `.+.+`
      glob.gaps[glob.gaps.length - 1] = body[++i] as Wildcard;
    } else if (ch === "\\") {
      // Escaped ASCII punctuation is itself.
      const c = body.charCodeAt(i + 1);
      if (!(c > 0x20 && c < 0x7f && !isAlnum(c))) return undefined;
      literal = (literal ?? "") + body[++i];
    } else if ("^$.*+?()[]{}".includes(ch)) return undefined;
    else literal = (literal ?? "") + ch;
  }
  const plain = globs.every((g) => g.literals.length === 1 && g.gaps.every((w) => w === ""));
  if (plain) {
    const set = new Set(globs.map((g) => g.literals[0]));
    return (s) => set.has(s);
  }
  const tests = globs.map(globTest);
  if (tests.length === 1) return tests[0];
  return (s) => tests.some((t) => t(s));
}

/**
 * A Prometheus regex compiled for linear-time matching with re2js (a port of Go's regexp: RE2
 * semantics, no backtracking, time linear in the input for any pattern). Go's parser port above
 * validates it first, so invalid patterns fail with Go's messages, and tells where re2js reads the
 * pattern differently from Go (Go's `\pC`, `[[:]`, duplicate group names), which is rewritten.
 * Matching is fully anchored with `.` matching `\n`, as Prometheus's `^(?s:RE)$`.
 */
export class Re2Regex {
  /** Whether `s` matches as a whole. */
  readonly test: (s: string) => boolean;
  private readonly re: RE2JS;
  private readonly names: Array<string | undefined>;

  constructor(readonly pattern: string) {
    const surrogate = pattern.search(LONE_SURROGATE);
    if (surrogate >= 0) throw new Re2SyntaxError("invalid UTF-8", pattern.slice(surrogate));
    const parser = new Re2Parser(pattern);
    parser.parse();
    let source = "";
    let at = 0;
    for (const [start, end, text] of parser.edits) {
      source += pattern.slice(at, start) + text;
      at = end;
    }
    source += pattern.slice(at);
    this.names = parser.captureNames;
    // No wrapping in ^(?s:...)$ (a trailing \Q would take the `)$` literally): the DOTALL flag and
    // full matches (testExact, Matcher.matches) mean the same.
    try {
      this.re = RE2JS.compile(source, RE2JS.DOTALL);
    } catch (err) {
      // Go accepts what re2js may still reject: programs of 1.4M to 3.4M instructions (re2js's
      // size limit is lower). Reported as Go reports its own limit.
      const code = /^error parsing regexp: ([^:`]+)/.exec((err as Error).message)?.[1];
      if (code) throw new Re2SyntaxError(code, pattern);
      throw err;
    }
    const re = this.re;
    this.test = literalShape(pattern) ?? ((s) => re.testExact(s));
  }

  /** The groups of a full match of `s` (Go's leftmost-first submatches), or null. */
  exec(s: string): Re2Match | null {
    if (!this.re.testExact(s)) return null;
    const m = this.re.matcher(s);
    if (!m.matches()) return null;
    const out = [s] as Re2Match;
    out.groups = Object.create(null);
    for (let i = 1; i <= this.names.length; i++) {
      const text = m.group(i) ?? undefined;
      out.push(text);
      // Go's Expand takes the first group of that name that took part in the match.
      const name = this.names[i - 1];
      if (name !== undefined && out.groups[name] === undefined) out.groups[name] = text;
    }
    return out;
  }
}

/** Compiles a Prometheus (RE2) regex for linear-time full matches; throws Re2SyntaxError as Go would. */
export function compileRe2(pattern: string): Re2Regex {
  return new Re2Regex(pattern);
}

/**
 * RE2 → JavaScript regex translation, so that label matchers accept exactly what Prometheus accepts.
 *
 * Prometheus parses a matcher's regex with Go's regexp/syntax (RE2 syntax, `syntax.Perl` flags plus
 * DotNL, i.e. `.` matches `\n` unless `(?-s)`) and matches it fully anchored. JavaScript's RegExp
 * agrees on the everyday syntax but not on the corners, so anything beyond the plainest patterns goes
 * through a port of Go's parser (regexp/syntax/parse.go: same grammar, same error messages) that
 * emits a body for `new RegExp("^(?:" + source + ")$", "su")`. What it lowers, and why:
 *  - Flags. Node 20 has no inline modifier groups, so flag state lives in the parser, as in Go:
 *    `(?i)` and friends apply up to the end of the enclosing group (across `|`), `(?flags:...)` to
 *    the group only. Case folding is done by rewriting (literal `k` → `[kKK]`, classes get the other
 *    cases of their members) because JS's `i` flag folds differently from Go (its `\b` and `\w`
 *    fold under `iu`, and it cannot be scoped). `.` becomes `[^\n]` where s is off, `^`/`$` become
 *    lookarounds on `\n` where m is on. `(?U)` just swaps greedy and lazy quantifiers.
 *  - Escapes JS lacks or spells differently (`\A \z \Q..\E \x{..} \123 \pL \p{Greek}`, POSIX
 *    `[[:alpha:]]`, escaped punctuation that `u` mode rejects) become plain u-mode syntax; Perl
 *    classes are emitted as explicit ASCII sets since JS's `\s` is much wider than RE2's.
 *  - Every literal and class is re-emitted escaped, so RE2's literal `{`, `]` and `a{,5}` stay
 *    literals and RE2's class grammar (`[]a]`, `[^]a]`) is what counts, not JS's.
 *  - Quantified empty-width assertions (`$*`, `^+`, `\b{2}`), valid in RE2 and a syntax error in
 *    JS, are wrapped in a non-capturing group.
 * Capturing groups (named ones included) stay capturing and keep Go's numbering; all groups this
 * module adds are non-capturing. Go's limits are enforced too: repeat counts up to 1000 (also as a
 * product of nested counts), and approximately its nesting (1000) and size (128 MB) limits.
 * Known drift: Unicode tables are Node's (newer than Go's), so properties and case folding of
 * recently added characters may differ. Greediness never changes what a fully anchored match accepts.
 */

export interface Re2Translation {
  source: string;
  flags: string;
}

/** A pattern Go's regexp/syntax rejects; the message is Go's, e.g. "error parsing regexp: ...". */
export class Re2SyntaxError extends Error {
  override readonly name = "Re2SyntaxError";
  constructor(
    readonly code: string,
    readonly expr: string,
  ) {
    super(`error parsing regexp: ${code}: \`${expr}\``);
  }
}

// Go's ErrorCode strings.
const INVALID_CHAR_RANGE = "invalid character class range";
const INVALID_ESCAPE = "invalid escape sequence";
const INVALID_NAMED_CAPTURE = "invalid named capture";
const INVALID_PERL_OP = "invalid or unsupported Perl syntax";
const INVALID_REPEAT_OP = "invalid nested repetition operator";
const INVALID_REPEAT_SIZE = "invalid repeat count";
const MISSING_BRACKET = "missing closing ]";
const MISSING_PAREN = "missing closing )";
const MISSING_REPEAT_ARGUMENT = "missing argument to repetition operator";

const MAX_REPEAT = 1000;
const MAX_HEIGHT = 1000;
const MAX_SIZE = Math.floor((128 << 20) / 40); // Go's maxSize: 128 MB of 40-byte instructions
const MAX_RUNE = 0x10ffff;
const LONE_SURROGATE = /[\ud800-\udfff]/u; // with `u`, only unpaired surrogates match

/** Sorted, merged inclusive code point ranges. */
type Range = [number, number];

/** Parses ASCII range shorthand like "0-9A-Z_" (for the fixed Perl and POSIX tables below). */
function ascii(spec: string): Range[] {
  const out: Range[] = [];
  for (let i = 0; i < spec.length; i++) {
    const lo = spec.charCodeAt(i);
    if (spec[i + 1] === "-" && i + 2 < spec.length) {
      out.push([lo, spec.charCodeAt(i + 2)]);
      i += 2;
    } else out.push([lo, lo]);
  }
  return out;
}

// RE2's Perl classes are ASCII-only; `\s` is [\t\n\f\r ] (no \v, unlike [[:space:]] and JS's \s).
const PERL_CLASSES = new Map<string, [Range[], boolean]>([
  ["\\d", [ascii("0-9"), false]],
  ["\\D", [ascii("0-9"), true]],
  ["\\s", [ascii("\t\n\f\r "), false]],
  ["\\S", [ascii("\t\n\f\r "), true]],
  ["\\w", [ascii("0-9A-Z_a-z"), false]],
  ["\\W", [ascii("0-9A-Z_a-z"), true]],
]);

const POSIX_CLASSES = new Map<string, Range[]>([
  ["alnum", ascii("0-9A-Za-z")],
  ["alpha", ascii("A-Za-z")],
  ["ascii", [[0, 0x7f]]],
  ["blank", ascii("\t ")],
  [
    "cntrl",
    [
      [0, 0x1f],
      [0x7f, 0x7f],
    ],
  ],
  ["digit", ascii("0-9")],
  ["graph", ascii("!-~")],
  ["lower", ascii("a-z")],
  ["print", ascii(" -~")],
  ["punct", ascii("!-/:-@[-`{-~")],
  ["space", ascii("\t-\r ")],
  ["upper", ascii("A-Z")],
  ["word", ascii("0-9A-Z_a-z")],
  ["xdigit", ascii("0-9A-Fa-f")],
]);

// The names Go's \p{...} knows (unicode.Categories and unicode.Scripts as of Unicode 15, Go 1.21+).
const GO_CATEGORIES = new Set(
  "C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs".split(
    " ",
  ),
);
const GO_SCRIPTS = new Set(
  `Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali
  Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian Chakma
  Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot Cypro_Minoan Cyrillic Deseret Devanagari
  Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic
  Grantha Greek Gujarati Gunjala_Gondi Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana
  Imperial_Aramaic Inherited Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada
  Katakana Kawi Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin Lepcha Limbu
  Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen
  Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi
  Mongolian Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa Nko Nushu
  Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian Old_Permic Old_Persian
  Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong Palmyrene
  Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian
  Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri Syriac Tagalog
  Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh
  Tirhuta Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square`.split(/\s+/),
);

/** JS class contents for Go's Unicode table `name` and for its complement; undefined if Go lacks it. */
function unicodeTable(name: string): [string, string] | undefined {
  if (name === "Any") return ["\\u{0}-\\u{10ffff}", ""];
  // Go's C is Cc|Cf|Co|Cs; JS's \p{C} also has the unassigned code points (Cn).
  if (name === "C") return ["\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}", "\\P{C}\\p{Cn}"];
  if (GO_CATEGORIES.has(name)) return [`\\p{${name}}`, `\\P{${name}}`];
  if (GO_SCRIPTS.has(name)) return [`\\p{Script=${name}}`, `\\P{Script=${name}}`];
  return undefined;
}

function normalize(ranges: Range[]): Range[] {
  const sorted = ranges.slice().sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(ranges: Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of normalize(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE]);
  return out;
}

let foldOrbits: Map<number, number[]> | undefined;

/**
 * Go's case-folding orbits (unicode.SimpleFold): each cased code point → all code points it folds
 * with, e.g. k → [K, k, K (Kelvin sign)], s → [S, s, ſ]. Built once from JS's simple one-to-one
 * case mappings, which give the same orbits as Go's tables except for dotless ı (U+0131): its
 * uppercase is I, but Unicode's CaseFolding.txt folds it only under Turkic rules, which Go ignores.
 */
function orbits(): Map<number, number[]> {
  if (foldOrbits) return foldOrbits;
  const orbit = new Map<number, number[]>();
  const link = (a: number, b: number) => {
    const oa = orbit.get(a) ?? [a];
    const ob = orbit.get(b) ?? [b];
    if (oa === ob) return;
    const merged = [...oa, ...ob].sort((x, y) => x - y);
    for (const c of merged) orbit.set(c, merged);
  };
  for (let c = 0x41; c <= 0x1ffff; c++) {
    if (c === 0x131 || (c >= 0xd800 && c <= 0xdfff)) continue;
    const s = String.fromCodePoint(c);
    for (const mapped of [s.toLowerCase(), s.toUpperCase()]) {
      const d = mapped.codePointAt(0)!;
      // Multi-character results (ß → SS) are full case mappings, which RE2 does not use.
      if (mapped.length === (d > 0xffff ? 2 : 1) && d !== c && d !== 0x131) link(c, d);
    }
  }
  foldOrbits = orbit;
  return orbit;
}

/** Adds the other cases of every member, as Go's appendFoldedRange does. */
function foldRanges(ranges: Range[]): Range[] {
  const table = orbits();
  const out = normalize(ranges);
  const add = (orbit: number[] | undefined) => {
    for (const c of orbit ?? []) out.push([c, c]);
  };
  for (const [lo, hi] of out.slice()) {
    if (hi - lo < 256) for (let c = lo; c <= hi; c++) add(table.get(c));
    else for (const [c, orbit] of table) if (c >= lo && c <= hi) add(orbit);
  }
  return normalize(out);
}

const tableCache = new Map<string, Range[]>();

/** Code points outside a Unicode table that fold to one inside it (Go's unicode.FoldCategory etc.). */
function foldExtras(contents: string): Range[] {
  let extras = tableCache.get(`fold:${contents}`);
  if (!extras) {
    const inTable = new RegExp(`[${contents}]`, "u");
    extras = [];
    for (const orbit of new Set(orbits().values())) {
      const outside = orbit.filter((c) => !inTable.test(String.fromCodePoint(c)));
      if (outside.length < orbit.length) for (const c of outside) extras.push([c, c]);
    }
    tableCache.set(`fold:${contents}`, extras);
  }
  return extras;
}

/** All code points of a Unicode table, by brute force (only for `(?i)\P{...}`, which needs them). */
function enumerate(contents: string): Range[] {
  let ranges = tableCache.get(contents);
  if (!ranges) {
    const inTable = new RegExp(`[${contents}]`, "u");
    ranges = [];
    for (let c = 0; c <= MAX_RUNE; c++) {
      if (inTable.test(c > 0xffff ? String.fromCodePoint(c) : String.fromCharCode(c))) ranges.push([c, c]);
    }
    ranges = normalize(ranges);
    tableCache.set(contents, ranges);
  }
  return ranges;
}

/** A code point as JS u-mode source: printable ASCII as is or identity-escaped, the rest as \u{...}. */
function escapeChar(c: number, inClass: boolean): string {
  if (c < 0x20 || c > 0x7e) return `\\u{${c.toString(16)}}`;
  const ch = String.fromCharCode(c);
  // u mode allows identity escapes of syntax characters (and `-` in classes) only, so escape exactly those.
  return (inClass ? /[\\\]^[-]/ : /[\\^$.*+?()[\]{}|/]/).test(ch) ? `\\${ch}` : ch;
}

/** A character class being built: explicit ranges plus JS property escapes. */
class CharSet {
  private readonly plain: Range[] = []; // folded at the end when case-insensitive
  private readonly fixed: Range[] = []; // already folded (or negated after folding)
  private readonly props: string[] = [];

  constructor(private readonly fold: boolean) {}

  addRange(lo: number, hi: number): void {
    this.plain.push([lo, hi]);
  }

  /** A Perl or POSIX class; Go folds it before negating it, so `(?i)\W` excludes ſ and K. */
  addGroup(ranges: Range[], negate: boolean): void {
    const folded = this.fold ? foldRanges(ranges) : ranges;
    this.fixed.push(...(negate ? complement(folded) : folded));
  }

  /** A Unicode table: with folding, Go adds the table's fold extras, then negates. */
  addUnicode([contents, negated]: [string, string], negate: boolean): void {
    const extras = this.fold ? foldExtras(contents) : [];
    if (extras.length === 0) this.props.push(negate ? negated : contents);
    else if (!negate) {
      this.props.push(contents);
      this.fixed.push(...extras);
    } else this.fixed.push(...complement([...enumerate(contents), ...extras]));
  }

  source(negate: boolean): string {
    const ranges = normalize([...(this.fold ? foldRanges(this.plain) : this.plain), ...this.fixed]);
    if (!negate && this.props.length === 0 && ranges.length === 1 && ranges[0][0] === ranges[0][1]) {
      return escapeChar(ranges[0][0], false);
    }
    let body = "";
    for (const [lo, hi] of ranges) {
      body += escapeChar(lo, true) + (hi > lo + 1 ? "-" : "") + (hi > lo ? escapeChar(hi, true) : "");
    }
    return `[${negate ? "^" : ""}${body}${this.props.join("")}]`;
  }
}

interface Flags {
  i: boolean; // case-insensitive
  m: boolean; // ^ and $ match at line boundaries
  s: boolean; // . matches \n
  U: boolean; // ungreedy: swap x* and x*?
}

/** A translated subexpression, with what Go's parser knows about its tree for the limit checks. */
interface Node {
  src: string;
  atom: boolean; // takes a JS quantifier as is
  size: number; // Go's calcSize: approximate compiled instructions
  height: number; // parse-tree height
  prod: number; // largest product of {n,m} counts on a path down the tree (Go's repeatIsValid)
}

const leaf = (src: string, atom = true): Node => ({ src, atom, size: 1, height: 1, prod: 1 });

function concat(items: Node[]): Node {
  if (items.length === 1) return items[0];
  return {
    src: items.map((n) => n.src).join(""),
    atom: false,
    size: Math.max(
      1,
      items.reduce((s, n) => s + n.size, 0),
    ),
    height: 1 + Math.max(0, ...items.map((n) => n.height)),
    prod: Math.max(1, ...items.map((n) => n.prod)),
  };
}

function alternate(branches: Node[]): Node {
  if (branches.length === 1) return branches[0];
  return {
    src: branches.map((n) => n.src).join("|"),
    atom: false,
    size: branches.reduce((s, n) => s + n.size, branches.length - 1),
    height: 1 + Math.max(...branches.map((n) => n.height)),
    prod: Math.max(...branches.map((n) => n.prod)),
  };
}

/** A group being parsed: the flags to restore at its `)`, finished branches, the current one. */
interface Frame {
  flags: Flags;
  capture: boolean;
  branches: Node[];
  items: Node[];
}

const isDigit = (ch: string | undefined) => ch !== undefined && ch >= "0" && ch <= "9";
const isOctal = (ch: string | undefined) => ch !== undefined && ch >= "0" && ch <= "7";
const isAlnum = (c: number) => (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
const hexValue = (c: number) =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;

/** A port of Go's regexp/syntax parser that emits JS source instead of a syntax tree. */
class Re2Parser {
  private pos = 0;
  private flags: Flags = { i: false, m: false, s: true, U: false };
  private readonly open: Frame[] = [];
  private frame: Frame = { flags: this.flags, capture: false, branches: [], items: [] };

  constructor(private readonly re: string) {}

  parse(): string {
    const re = this.re;
    let lastRepeat = -1; // start of the repetition operator just before, if any (a** is an error)
    while (this.pos < re.length) {
      const start = this.pos;
      let repeated = false;
      switch (re[start]) {
        case "(":
          if (re[start + 1] === "?") this.parsePerlFlags();
          else this.openGroup(true, start + 1);
          break;
        case "|":
          this.frame.branches.push(concat(this.frame.items));
          this.frame.items = [];
          this.pos++;
          break;
        case ")":
          this.closeGroup();
          break;
        case "^":
          this.push(leaf(this.flags.m ? "(?<![^\\n])" : "^", false));
          break;
        case "$":
          this.push(leaf(this.flags.m ? "(?![^\\n])" : "$", false));
          break;
        case ".":
          this.push(leaf(this.flags.s ? "." : "[^\\n]"));
          break;
        case "[":
          this.parseClass();
          break;
        case "*":
        case "+":
        case "?":
          this.repeat(re[start] === "+" ? 1 : 0, re[start] === "?" ? 1 : -1, false, start + 1, lastRepeat);
          repeated = true;
          break;
        case "{": {
          const r = this.parseRepeat(start);
          if (!r) {
            this.literal(0x7b); // not a well-formed {n,m}: RE2 takes { literally
            break;
          }
          const [min, max, end] = r;
          if (min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && min > max)) {
            throw new Re2SyntaxError(INVALID_REPEAT_SIZE, re.slice(start, end));
          }
          this.repeat(min, max, true, end, lastRepeat);
          repeated = true;
          break;
        }
        case "\\":
          this.parseBackslash();
          break;
        default:
          this.literal(re.codePointAt(start)!);
      }
      lastRepeat = repeated ? start : -1;
    }
    if (this.open.length > 0) throw new Re2SyntaxError(MISSING_PAREN, re);
    const top = alternate([...this.frame.branches, concat(this.frame.items)]);
    if (top.height > MAX_HEIGHT) throw new Re2SyntaxError("expression nests too deeply", re);
    if (top.size > MAX_SIZE) throw new Re2SyntaxError("expression too large", re);
    return top.src;
  }

  /** Appends a node; every case of the main loop ends here or in repeat(), which sets pos itself. */
  private push(node: Node, next = this.pos + 1): void {
    this.frame.items.push(node);
    this.pos = next;
  }

  /** A literal code point; under (?i) it becomes the class of its fold orbit. */
  private literal(c: number, next = this.pos + (c > 0xffff ? 2 : 1)): void {
    const orbit = this.flags.i ? orbits().get(c) : undefined;
    if (!orbit) return this.push(leaf(escapeChar(c, false)), next);
    const set = new CharSet(false);
    for (const o of orbit) set.addRange(o, o);
    this.push(leaf(set.source(false)), next);
  }

  private openGroup(capture: boolean, next: number): void {
    this.open.push(this.frame);
    this.frame = { flags: { ...this.flags }, capture, branches: [], items: [] };
    this.pos = next;
  }

  private closeGroup(): void {
    const frame = this.frame;
    const parent = this.open.pop();
    if (!parent) throw new Re2SyntaxError("unexpected )", this.re);
    const body = alternate([...frame.branches, concat(frame.items)]);
    this.frame = parent;
    this.flags = frame.flags; // flags set inside the group end with it
    this.push(
      frame.capture
        ? { ...body, src: `(${body.src})`, atom: true, size: body.size + 2, height: body.height + 1 }
        : { ...body, src: `(?:${body.src})`, atom: true },
    );
  }

  /** `(?P<name>`, `(?<name>` (Go 1.22+), `(?flags)` and `(?flags:`, with Go's validation. */
  private parsePerlFlags(): void {
    const re = this.re;
    const start = this.pos;
    const nameAt = re.startsWith("(?P<", start) ? start + 4 : re.startsWith("(?<", start) ? start + 3 : -1;
    if (nameAt >= 0 && nameAt < re.length) {
      const end = re.indexOf(">", start);
      if (end < 0) throw new Re2SyntaxError(INVALID_NAMED_CAPTURE, re.slice(start));
      // Go allows [A-Za-z0-9_]+ and duplicates, JS does not: emit a plain capturing group.
      if (!/^\w+$/.test(re.slice(nameAt, end))) {
        throw new Re2SyntaxError(INVALID_NAMED_CAPTURE, re.slice(start, end + 1));
      }
      return this.openGroup(true, end + 1);
    }
    const flags = { ...this.flags };
    let on = true; // false after '-'
    let sawFlag = false;
    let i = start + 2;
    while (i < re.length) {
      const c = String.fromCodePoint(re.codePointAt(i)!);
      i += c.length;
      if (c === "i" || c === "m" || c === "s" || c === "U") {
        flags[c] = on;
        sawFlag = true;
      } else if (c === "-" && on) {
        on = false;
        sawFlag = false;
      } else if ((c === ":" || c === ")") && (on || sawFlag)) {
        if (c === ":") this.openGroup(false, i);
        else this.pos = i;
        this.flags = flags;
        return;
      } else break;
    }
    throw new Re2SyntaxError(INVALID_PERL_OP, re.slice(start, i));
  }

  /** Go's parseRepeat: {n}, {n,} or {n,m} without leading zeros; undefined means a literal `{`. */
  private parseRepeat(start: number): [number, number, number] | undefined {
    const re = this.re;
    let i = start + 1;
    const int = (): number | undefined => {
      if (!isDigit(re[i]) || (re[i] === "0" && isDigit(re[i + 1]))) return undefined;
      const from = i;
      while (isDigit(re[i])) i++;
      return Number(re.slice(from, i)); // Go turns huge values into errors; > 1000 is an error anyway
    };
    const min = int();
    if (min === undefined || i >= re.length) return undefined;
    let max = min;
    if (re[i] === ",") {
      i++;
      if (re[i] === "}") max = -1;
      else {
        const m = int();
        if (m === undefined) return undefined;
        max = m;
      }
    }
    return re[i] === "}" ? [min, max, i + 1] : undefined;
  }

  /** Applies a repetition (max -1 = unbounded) to the last node, as Go's parser.repeat does. */
  private repeat(min: number, max: number, counted: boolean, end: number, lastRepeat: number): void {
    const re = this.re;
    const start = this.pos;
    let lazy = this.flags.U;
    if (re[end] === "?") {
      end++;
      lazy = !lazy;
    }
    if (lastRepeat >= 0) throw new Re2SyntaxError(INVALID_REPEAT_OP, re.slice(lastRepeat, end));
    const sub = this.frame.items.pop();
    if (!sub) throw new Re2SyntaxError(MISSING_REPEAT_ARGUMENT, re.slice(start, end));
    let op = re[start];
    let size = op === "*" ? 2 + sub.size : 1 + sub.size;
    let prod = sub.prod;
    if (counted) {
      op = `{${min}${max === min ? "" : `,${max < 0 ? "" : max}`}}`;
      if (max < 0) size = min === 0 ? 2 + sub.size : 1 + min * sub.size;
      else size = max * sub.size + (max - min);
      prod = max === 0 ? 1 : Math.max(1, max < 0 ? min : max) * sub.prod;
      if ((min >= 2 || max >= 2) && prod > MAX_REPEAT) {
        throw new Re2SyntaxError(INVALID_REPEAT_SIZE, re.slice(start, end));
      }
    }
    // A JS quantifier needs an atom: assertions (`$*`), sequences and quantified nodes get a group.
    const src = `${sub.atom ? sub.src : `(?:${sub.src})`}${op}${lazy ? "?" : ""}`;
    this.push({ src, atom: false, size: Math.max(1, size), height: sub.height + 1, prod }, end);
  }

  private parseBackslash(): void {
    const re = this.re;
    const start = this.pos;
    switch (re[start + 1]) {
      case "A": // beginning of text: JS ^ without the m flag
        return this.push(leaf("^", false), start + 2);
      case "z": // end of text
        return this.push(leaf("$", false), start + 2);
      case "b": // ASCII word boundary, as JS's \b without the i flag
        return this.push(leaf("\\b", false), start + 2);
      case "B":
        return this.push(leaf("\\B", false), start + 2);
      case "C": // any byte: RE2 rejects it too
        throw new Re2SyntaxError(INVALID_ESCAPE, "\\C");
      case "Q": {
        // \Q...\E (or to the end): literal text, still subject to (?i).
        const end = re.indexOf("\\E", start + 2);
        for (const ch of re.slice(start + 2, end < 0 ? re.length : end)) this.literal(ch.codePointAt(0)!);
        this.pos = end < 0 ? re.length : end + 2;
        return;
      }
      case "p":
      case "P": {
        const set = new CharSet(this.flags.i);
        const next = this.parseUnicodeClass(start, set);
        return this.push(leaf(set.source(false)), next);
      }
    }
    const perl = PERL_CLASSES.get(re.slice(start, start + 2));
    if (perl) {
      const set = new CharSet(this.flags.i);
      set.addGroup(...perl);
      return this.push(leaf(set.source(false)), start + 2);
    }
    const [c, next] = this.parseEscape(start);
    this.literal(c, next);
  }

  /** Go's parseEscape: a single-character escape at `start`, returning the code point and next index. */
  private parseEscape(start: number): [number, number] {
    const re = this.re;
    let i = start + 1;
    const next = (): number => {
      if (i >= re.length) return -1;
      const c = re.codePointAt(i)!;
      i += c > 0xffff ? 2 : 1;
      return c;
    };
    const invalid = () => new Re2SyntaxError(INVALID_ESCAPE, re.slice(start, i));
    const c = next();
    if (c < 0) throw new Re2SyntaxError("trailing backslash at end of expression", "");
    if (c < 0x80 && !isAlnum(c)) return [c, i]; // escaped punctuation is itself (\_ too)
    if (c === 0x30 || (c >= 0x31 && c <= 0x37 && isOctal(re[i]))) {
      // Octal: \0, or \1-\7 followed by another octal digit (a lone \1 would be a backreference).
      let r = c - 0x30;
      for (let k = 0; k < 2 && isOctal(re[i]); k++) r = r * 8 + (re.charCodeAt(i++) - 0x30);
      return [r, i];
    }
    if (c === 0x78 && i < re.length) {
      const d = next();
      if (d !== 0x7b) {
        // \xHH: exactly two hex digits.
        const hi = hexValue(d);
        const lo = hexValue(next());
        if (hi >= 0 && lo >= 0) return [hi * 16 + lo, i];
        throw invalid();
      }
      // \x{H...}: at least one hex digit, at most U+10FFFF.
      let r = 0;
      let digits = 0;
      for (let h = next(); h !== 0x7d; h = next(), digits++) {
        r = r * 16 + hexValue(h);
        if (hexValue(h) < 0 || r > MAX_RUNE) throw invalid();
      }
      if (digits > 0) return [r, i];
      throw invalid();
    }
    const control = "afnrtv".indexOf(String.fromCodePoint(c));
    if (control >= 0) return ["\x07\f\n\r\t\v".charCodeAt(control), i];
    throw invalid();
  }

  /** Go's parseUnicodeClass: \pL, \p{Greek}, \P{Lu}, \p{^Lu}, at `start`; returns the next index. */
  private parseUnicodeClass(start: number, set: CharSet): number {
    const re = this.re;
    let negate = re[start + 1] === "P";
    let end = start + 2; // one-letter name (or none, at the end of the pattern)
    if (re[end] === "{") {
      end = re.indexOf("}", start) + 1;
      if (end === 0) throw new Re2SyntaxError(INVALID_CHAR_RANGE, re.slice(start));
    } else if (end < re.length) end += re.codePointAt(end)! > 0xffff ? 2 : 1;
    let name = re[start + 2] === "{" ? re.slice(start + 3, end - 1) : re.slice(start + 2, end);
    if (name.startsWith("^")) {
      negate = !negate;
      name = name.slice(1);
    }
    const table = unicodeTable(name);
    if (!table) throw new Re2SyntaxError(INVALID_CHAR_RANGE, re.slice(start, end));
    set.addUnicode(table, negate);
    return end;
  }

  /** Go's parseClass: `[...]` at pos, with POSIX, Perl and Unicode classes and escapes inside. */
  private parseClass(): void {
    const re = this.re;
    const start = this.pos;
    let i = start + 1;
    const negate = re[i] === "^";
    if (negate) i++;
    const set = new CharSet(this.flags.i);
    const classChar = (): number => {
      if (i >= re.length) throw new Re2SyntaxError(MISSING_BRACKET, re.slice(start));
      if (re[i] === "\\") {
        const [c, next] = this.parseEscape(i);
        i = next;
        return c;
      }
      const c = re.codePointAt(i)!;
      i += c > 0xffff ? 2 : 1;
      return c;
    };
    for (let first = true; i >= re.length || re[i] !== "]" || first; first = false) {
      if (re.startsWith("[:", i) && i + 2 < re.length) {
        const close = re.indexOf(":]", i + 2);
        if (close >= 0) {
          const name = re.slice(i, close + 2);
          const negated = name[2] === "^";
          const table = POSIX_CLASSES.get(name.slice(negated ? 3 : 2, -2));
          if (!table) throw new Re2SyntaxError(INVALID_CHAR_RANGE, name);
          set.addGroup(table, negated);
          i = close + 2;
          continue;
        }
      }
      if (re[i] === "\\" && (re[i + 1] === "p" || re[i + 1] === "P")) {
        i = this.parseUnicodeClass(i, set);
        continue;
      }
      const perl = PERL_CLASSES.get(re.slice(i, i + 2));
      if (perl) {
        set.addGroup(...perl);
        i += 2;
        continue;
      }
      const rangeStart = i;
      const lo = classChar();
      let hi = lo;
      if (re[i] === "-" && i + 1 < re.length && re[i + 1] !== "]") {
        i++;
        hi = classChar();
        if (hi < lo) throw new Re2SyntaxError(INVALID_CHAR_RANGE, re.slice(rangeStart, i));
      }
      set.addRange(lo, hi);
    }
    this.push(leaf(set.source(negate)), i + 1);
  }
}

/** Patterns without escapes, classes, braces or (? mean the same in JS u mode, when JS accepts them. */
const FAST_PATH = /^[^\\[\]{}]*$/;

/**
 * Translates an RE2 pattern (as Prometheus matches it) into a JS pattern body and flags, to be used as
 * `new RegExp("^(?:" + source + ")$", flags)`. Throws Re2SyntaxError where Go's regexp rejects it.
 */
export function translateRe2(pattern: string): Re2Translation {
  if (LONE_SURROGATE.test(pattern)) {
    // Not valid UTF-8 once sent to Prometheus; Go reports the rest of the pattern from the bad rune.
    throw new Re2SyntaxError("invalid UTF-8", pattern.slice(pattern.search(LONE_SURROGATE)));
  }
  if (FAST_PATH.test(pattern) && !pattern.includes("(?") && pattern.split("(").length <= 100) {
    try {
      // Left: literals . * + ? | ( ) ^ $, identical in both when JS compiles them. JS rejects what
      // RE2 also rejects (a**, (*), unbalanced parens) or accepts differently ($*): the parser decides.
      // Compiled bare, since the caller's wrapping would balance `a)|(b`.
      new RegExp(pattern, "su");
      return { source: pattern, flags: "su" };
    } catch {}
  }
  return { source: new Re2Parser(pattern).parse(), flags: "su" };
}

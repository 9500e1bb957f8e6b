/**
 * The port of Go's regexp/syntax parser behind src/storage/re2.ts: validation with Go's messages
 * (for compileRe2) and the translation to a JavaScript pattern (translateRe2).
 *
 * RE2 → JavaScript regex translation, so that label matchers accept exactly what Prometheus accepts.
 *
 * Prometheus parses a matcher's regex with Go's regexp/syntax (RE2 syntax, Perl flags, `.` matching
 * `\n` unless `(?-s)`) and matches it fully anchored. JS's RegExp agrees on everyday syntax but not on
 * the corners, so anything but the plainest patterns goes through a port of Go's parser (parse.go: same
 * grammar, same error messages) that emits a body for `new RegExp("^(?:" + source + ")$", "su")`:
 *  - Flags. Node 20 has no inline modifier groups, so flag state lives in the parser as in Go: `(?i)`
 *    etc. last to the end of the enclosing group (across `|`), `(?i:...)` to the group's end. Case
 *    folding rewrites literals (`k` → `[Kk\u{212a}]`) and adds other cases to classes, because JS's `i`
 *    cannot be scoped and folds differently (under `iu` its `\b` treats ſ and K as word characters).
 *    `.` is `[^\n]` where s is off; `^`/`$` are lookarounds on `\n` where m is on; (?U) swaps laziness.
 *  - Escapes JS lacks or spells differently (`\A \z \Q..\E \x{..} \123 \pL \p{Greek}`, `[[:alpha:]]`,
 *    escaped punctuation that u mode rejects) become plain u-mode syntax. Perl classes become explicit
 *    ASCII sets: RE2's `\s` is [\t\n\f\r ], JS's is much wider.
 *  - Literals and classes are re-emitted escaped, so RE2's literal `{`, `]`, `a{,5}` and its class
 *    grammar (`[]a]`, `[^]a]`) keep their RE2 meaning.
 *  - Quantified assertions (`$*`, `^+`, `\b{2}`: valid RE2, JS syntax errors) get a (?:) group.
 * Capturing groups (named ones too) stay capturing with Go's numbering; added groups never capture.
 * Go's limits are enforced: repeat counts ≤ 1000 (also as a product of nested counts), and, closely
 * approximated, its nesting depth (1000) and compiled size limits.
 * Known drift: Unicode tables are Node's (newer than Go's), so properties and case folding of recently
 * added characters may differ. (Greediness never changes what a fully anchored match accepts.)
 */

export type Re2Translation = { source: string; flags: string };

/** A pattern Go's regexp/syntax rejects, with Go's message ("error parsing regexp: <code>: `<expr>`"). */
export class Re2SyntaxError extends Error {
  override readonly name = "Re2SyntaxError";
  constructor(
    readonly code: string,
    readonly expr: string,
  ) {
    super(`error parsing regexp: ${code}: \`${expr}\``);
  }
}

const BAD_RANGE = "invalid character class range";
const BAD_ESCAPE = "invalid escape sequence";
const BAD_NAME = "invalid named capture";
const BAD_REPEAT = "invalid repeat count";
const MAX_REPEAT = 1000;
const MAX_HEIGHT = 1000;
const MAX_SIZE = Math.floor((128 << 20) / 40); // Go's maxSize: 128 MB of 40-byte instructions
const MAX_RUNE = 0x10ffff;
export const LONE_SURROGATE = /[\ud800-\udfff]/u; // with `u`, only unpaired surrogates match

type Range = [number, number]; // inclusive code point range

/** Range shorthand for the fixed ASCII tables: "0-9A-Z_". */
const ascii = (spec: string): Range[] =>
  [...spec.matchAll(/(.)(?:-(.))?/gs)].map((m) => [m[1].charCodeAt(0), (m[2] ?? m[1]).charCodeAt(0)]);

// RE2's Perl classes are ASCII-only and its \s is [\t\n\f\r ] (JS's is much wider); \D \S \W negate.
const PERL_CLASSES = new Map<string, [Range[], boolean]>(
  [..."dswDSW"].map((c, i) => [`\\${c}`, [ascii(["0-9", "\t\n\f\r ", "0-9A-Z_a-z"][i % 3]), i >= 3]]),
);
// biome-ignore format: table
const POSIX_CLASSES = new Map<string, Range[]>(
  Object.entries({
    alnum: "0-9A-Za-z", alpha: "A-Za-z", ascii: "\0-\x7f", blank: "\t ", cntrl: "\0-\x1f\x7f", digit: "0-9",
    graph: "!-~", lower: "a-z", print: " -~", punct: "!-/:-@[-`{-~", space: "\t-\r ", upper: "A-Z",
    word: "0-9A-Z_a-z", xdigit: "0-9A-Fa-f",
  }).map(([name, spec]) => [name, ascii(spec)]),
);

// The names Go's \p{...} knows: unicode.Categories and unicode.Scripts (Unicode 15, Go 1.21+).
// biome-ignore format: table
const GO_CATEGORIES = new Set("C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs".split(" "));
const GO_SCRIPTS = new Set(
  `Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali Bhaiksuki
  Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham Cherokee
  Chorasmian Common Coptic Cuneiform Cypriot Cypro_Minoan Cyrillic Deseret Devanagari Dives_Akuru Dogra Duployan
  Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi
  Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inherited
  Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kawi Kayah_Li Kharoshthi
  Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani
  Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui
  Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari
  New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian
  Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong
  Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian
  Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le
  Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta Toto Ugaritic Vai
  Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square`.split(/\s+/),
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

/** Sorts and merges ranges. */
function normalize(ranges: Range[]): Range[] {
  const out: Range[] = [];
  for (const [lo, hi] of ranges.slice().sort((a, b) => a[0] - b[0])) {
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
 * with, e.g. k → [K, k, K (Kelvin sign)], s → [S, s, ſ]. Built once (~40 ms) from JS's one-to-one case
 * mappings, which give Go's orbits except for dotless ı: its uppercase is I, but CaseFolding.txt folds
 * it only under Turkic rules, which Go ignores. Multi-character mappings (ß → SS) are not simple folds.
 */
function orbits(): Map<number, number[]> {
  if (foldOrbits) return foldOrbits;
  const orbit = new Map<number, number[]>();
  for (let c = 0x41; c <= 0x1ffff; c++) {
    if (c === 0x131 || (c >= 0xd800 && c <= 0xdfff)) continue;
    const s = String.fromCodePoint(c);
    for (const mapped of [s.toLowerCase(), s.toUpperCase()]) {
      const d = mapped.codePointAt(0)!;
      if (mapped.length !== (d > 0xffff ? 2 : 1) || d === c || d === 0x131) continue;
      const [a, b] = [orbit.get(c) ?? [c], orbit.get(d) ?? [d]];
      if (a === b) continue;
      const merged = [...a, ...b].sort((x, y) => x - y);
      for (const m of merged) orbit.set(m, merged);
    }
  }
  foldOrbits = orbit;
  return orbit;
}

/** Adds the other cases of every member, as Go's appendFoldedRange does. */
function foldRanges(ranges: Range[]): Range[] {
  const table = orbits();
  const out = normalize(ranges);
  const add = (orbit: number[] = []) => {
    for (const c of orbit) out.push([c, c]);
  };
  for (const [lo, hi] of out.slice()) {
    if (hi - lo < 256) for (let c = lo; c <= hi; c++) add(table.get(c));
    else for (const [c, orbit] of table) if (c >= lo && c <= hi) add(orbit);
  }
  return normalize(out);
}

const tableCache = new Map<string, Range[]>();

/**
 * For a Unicode table: with `extras`, the code points outside it that fold to one inside (what Go's
 * unicode.FoldCategory/FoldScript add under (?i)); else all of its code points by brute force (~100 ms,
 * cached), only needed for `(?i)\P{...}`, whose complement JS cannot subtract the extras from.
 */
function tableRanges(contents: string, extras: boolean): Range[] {
  const key = `${extras}${contents}`;
  if (tableCache.has(key)) return tableCache.get(key)!;
  const inTable = new RegExp(`[${contents}]`, "u");
  const has = (c: number) => inTable.test(String.fromCodePoint(c));
  const out: Range[] = [];
  const add = (c: number) => {
    const last = out[out.length - 1];
    if (last?.[1] === c - 1) last[1] = c;
    else out.push([c, c]);
  };
  if (!extras) for (let c = 0; c <= MAX_RUNE; c++) if (has(c)) add(c);
  for (const orbit of extras ? new Set(orbits().values()) : []) {
    if (orbit.some(has)) for (const c of orbit) if (!has(c)) add(c);
  }
  tableCache.set(key, normalize(out));
  return tableCache.get(key)!;
}

/** A code point as u-mode source: printable ASCII as is or escaped if syntax, the rest as \u{...}. */
function escapeChar(c: number, inClass: boolean): string {
  if (c >= 9 && c <= 13) return `\\${"tnvfr"[c - 9]}`;
  if (c < 0x20 || c > 0x7e) return `\\u{${c.toString(16)}}`;
  const ch = String.fromCharCode(c);
  // u mode only allows identity escapes of syntax characters (and of `-` in classes).
  return (inClass ? /[\\\]^[-]/ : /[\\^$.*+?()[\]{}|/]/).test(ch) ? `\\${ch}` : ch;
}

/** A character class being built: explicit ranges plus JS property escapes. */
class CharSet {
  readonly plain: Range[] = []; // single characters and ranges, folded at the end under (?i)
  private readonly fixed: Range[] = []; // final as they are
  private readonly props: string[] = [];

  constructor(private readonly fold: boolean) {}

  /** A Perl or POSIX class: Go folds it before negating, so `(?i)\W` excludes ſ and K. */
  addGroup(ranges: Range[], negate: boolean): void {
    const folded = this.fold ? foldRanges(ranges) : ranges;
    this.fixed.push(...(negate ? complement(folded) : folded));
  }

  /** A Unicode table: under (?i) Go adds the fold extras, then negates. */
  addUnicode([contents, negated]: [string, string], negate: boolean): void {
    const extras = this.fold ? tableRanges(contents, true) : [];
    if (extras.length === 0) this.props.push(negate ? negated : contents);
    else if (negate) this.fixed.push(...complement([...tableRanges(contents, false), ...extras]));
    else {
      this.props.push(contents);
      this.fixed.push(...extras);
    }
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

/** i: case-insensitive, m: ^ and $ at line breaks, s: . matches \n, U: ungreedy. */
type Flags = Record<"i" | "m" | "s" | "U", boolean>;

/** A translated subexpression, with what Go's parser knows about its tree for the limit checks. */
interface Node {
  src: string;
  atom: boolean; // takes a JS quantifier as is
  size: number; // Go's calcSize: compiled instructions
  height: number; // parse-tree height
  prod: number; // largest product of {n,m} counts on a path down the tree (Go's repeatIsValid)
  flat?: "concat" | "alt"; // Go flattens a concatenation (alternation) nested in another one
}

const leaf = (src: string, atom = true): Node => ({ src, atom, size: 1, height: 1, prod: 1 });

/** Joins a concatenation or an alternation, measured the way Go builds its tree. */
function join(nodes: Node[], flat: "concat" | "alt"): Node {
  if (nodes.length === 1) return nodes[0];
  let [size, height, prod] = [flat === "alt" ? nodes.length - 1 : 0, 1, 1];
  for (const n of nodes) {
    size += n.size;
    height = Math.max(height, 1 + n.height - (n.flat === flat ? 1 : 0));
    prod = Math.max(prod, n.prod);
  }
  const src = nodes.map((n) => n.src).join(flat === "alt" ? "|" : "");
  return { src, atom: false, size: Math.max(1, size), height, prod, flat };
}

/** A group being parsed: the flags to restore at its `)`, finished branches, the current one. */
type Frame = { flags: Flags; capture: boolean; branches: Node[]; items: Node[] };

const isDigit = (ch: string | undefined) => ch !== undefined && ch >= "0" && ch <= "9";
const isOctal = (ch: string | undefined) => ch !== undefined && ch >= "0" && ch <= "7";
export const isAlnum = (c: number) => (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
const hexValue = (c: number) =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
const cpLength = (c: number) => (c > 0xffff ? 2 : 1);
// Empty-width escapes: \A and \z are JS's ^ and $ without the m flag; \b \B are ASCII in both.
const ASSERTIONS: Record<string, string> = { A: "^", z: "$", b: "\\b", B: "\\B" };

/** A port of Go's regexp/syntax parser that emits JS source instead of a syntax tree. */
export class Re2Parser {
  private pos = 0;
  private flags: Flags = { i: false, m: false, s: true, U: false };
  private readonly open: Frame[] = [];
  /** Each capturing group's name (undefined if unnamed), in Go's numbering from group 1. */
  readonly captureNames: Array<string | undefined> = [];
  /** [start, end, text]: where re2js reads the pattern differently from Go (see compileRe2). */
  readonly edits: Array<[number, number, string]> = [];
  private frame: Frame = { flags: this.flags, capture: false, branches: [], items: [] };

  constructor(private readonly re: string) {}

  parse(): string {
    const re = this.re;
    let lastRepeat = -1; // start of the repetition operator just before, if any (a** is an error)
    while (this.pos < re.length) {
      const start = this.pos;
      const ch = re[start];
      let repeated = false;
      if (ch === "(" && re[start + 1] === "?") this.parsePerlFlags();
      else if (ch === "(") this.openGroup(true, start + 1);
      else if (ch === "|") {
        this.frame.branches.push(join(this.frame.items, "concat"));
        this.frame.items = [];
        this.pos++;
      } else if (ch === ")") this.closeGroup();
      else if (ch === "^") this.push(leaf(this.flags.m ? "(?<![^\\n])" : "^", false));
      else if (ch === "$") this.push(leaf(this.flags.m ? "(?![^\\n])" : "$", false));
      else if (ch === ".") this.push(leaf(this.flags.s ? "." : "[^\\n]"));
      else if (ch === "[") this.parseClass();
      else if (ch === "*" || ch === "+" || ch === "?") {
        repeated = this.repeat(ch === "+" ? 1 : 0, ch === "?" ? 1 : -1, false, start + 1, lastRepeat);
      } else if (ch === "{") {
        const r = this.parseRepeat(start);
        // Not a well-formed {n}, {n,} or {n,m}: RE2 takes the { literally.
        if (!r) this.literal(0x7b);
        else if (r[0] > MAX_REPEAT || r[1] > MAX_REPEAT || (r[1] >= 0 && r[0] > r[1])) {
          throw new Re2SyntaxError(BAD_REPEAT, re.slice(start, r[2]));
        } else repeated = this.repeat(r[0], r[1], true, r[2], lastRepeat);
      } else if (ch === "\\") this.parseBackslash();
      else this.literal(re.codePointAt(start)!);
      lastRepeat = repeated ? start : -1;
    }
    if (this.open.length > 0) throw new Re2SyntaxError("missing closing )", re);
    const top = join([...this.frame.branches, join(this.frame.items, "concat")], "alt");
    // Prometheus compiles ^(?s:RE)$, one level deeper than RE.
    if (top.height + 1 > MAX_HEIGHT) throw new Re2SyntaxError("expression nests too deeply", re);
    if (top.size > MAX_SIZE) throw new Re2SyntaxError("expression too large", re);
    return top.src;
  }

  /** Appends a node and moves past its syntax. */
  private push(node: Node, next = this.pos + 1): void {
    this.frame.items.push(node);
    this.pos = next;
  }

  /** A literal code point; under (?i) it becomes the class of its fold orbit. */
  private literal(c: number, next = this.pos + cpLength(c)): void {
    const orbit = this.flags.i ? orbits().get(c) : undefined;
    this.push(
      leaf(orbit ? `[${orbit.map((o) => escapeChar(o, true)).join("")}]` : escapeChar(c, false)),
      next,
    );
  }

  private openGroup(capture: boolean, next: number, name?: string): void {
    if (capture) this.captureNames.push(name);
    this.open.push(this.frame);
    this.frame = { flags: { ...this.flags }, capture, branches: [], items: [] };
    this.pos = next;
  }

  private closeGroup(): void {
    const frame = this.frame;
    const parent = this.open.pop();
    if (!parent) throw new Re2SyntaxError("unexpected )", this.re);
    const body = join([...frame.branches, join(frame.items, "concat")], "alt");
    this.frame = parent;
    this.flags = frame.flags; // flags set inside the group end with it
    // A capture is a node of its own in Go's tree; a non-capturing group is just its contents.
    const [src, size, height] = frame.capture
      ? [`(${body.src})`, body.size + 2, body.height + 1]
      : [`(?:${body.src})`, body.size, body.height];
    this.push({ ...body, src, atom: true, size, height, flat: frame.capture ? undefined : body.flat });
  }

  /** `(?P<name>`, `(?<name>` (Go 1.22+), `(?flags)` and `(?flags:`, validated as Go does. */
  private parsePerlFlags(): void {
    const re = this.re;
    const start = this.pos;
    const nameAt = re.startsWith("(?P<", start) ? start + 4 : re.startsWith("(?<", start) ? start + 3 : -1;
    if (nameAt >= 0 && nameAt < re.length) {
      const end = re.indexOf(">", start);
      if (end < 0) throw new Re2SyntaxError(BAD_NAME, re.slice(start));
      if (!/^\w+$/.test(re.slice(nameAt, end))) throw new Re2SyntaxError(BAD_NAME, re.slice(start, end + 1));
      // Go allows names JS does not (`1x`, duplicates): a plain capturing group numbers the same.
      // re2js rejects a duplicate name, which Go accepts: it gets an unnamed group there.
      const name = re.slice(nameAt, end);
      if (this.captureNames.includes(name)) this.edits.push([start, end + 1, "("]);
      this.openGroup(true, end + 1, name);
      return;
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
    throw new Re2SyntaxError("invalid or unsupported Perl syntax", re.slice(start, i));
  }

  /** Go's parseRepeat: {n}, {n,} or {n,m} without leading zeros → [min, max (-1: none), end]. */
  private parseRepeat(start: number): [number, number, number] | undefined {
    const re = this.re;
    let i = start + 1;
    const int = (): number => {
      if (!isDigit(re[i]) || (re[i] === "0" && isDigit(re[i + 1]))) return Number.NaN;
      const from = i;
      while (isDigit(re[i])) i++;
      return Number(re.slice(from, i)); // Go caps huge values, but anything over 1000 fails anyway
    };
    const min = int();
    let max = min;
    if (re[i] === ",") {
      i++;
      max = re[i] === "}" ? -1 : int();
    }
    return re[i] === "}" && !Number.isNaN(min + max) ? [min, max, i + 1] : undefined;
  }

  /** Applies a repetition to the last node, as Go's parser.repeat does; returns true. */
  private repeat(min: number, max: number, counted: boolean, end: number, lastRepeat: number): true {
    const re = this.re;
    const start = this.pos;
    const lazy = this.flags.U !== (re[end] === "?");
    if (re[end] === "?") end++;
    if (lastRepeat >= 0)
      throw new Re2SyntaxError("invalid nested repetition operator", re.slice(lastRepeat, end));
    const sub = this.frame.items.pop();
    if (!sub) throw new Re2SyntaxError("missing argument to repetition operator", re.slice(start, end));
    let [op, size, prod] = [re[start], (re[start] === "*" ? 2 : 1) + sub.size, sub.prod];
    if (counted) {
      op = `{${min}${max === min ? "" : `,${max < 0 ? "" : max}`}}`;
      size = max >= 0 ? max * sub.size + max - min : min === 0 ? 2 + sub.size : 1 + min * sub.size;
      prod = max === 0 ? 1 : Math.max(1, max < 0 ? min : max) * sub.prod;
      if ((min >= 2 || max >= 2) && prod > MAX_REPEAT)
        throw new Re2SyntaxError(BAD_REPEAT, re.slice(start, end));
    }
    // A JS quantifier needs an atom: assertions (`$*`), sequences and quantified nodes get a group.
    const src = `${sub.atom ? sub.src : `(?:${sub.src})`}${op}${lazy ? "?" : ""}`;
    this.push({ src, atom: false, size: Math.max(1, size), height: sub.height + 1, prod }, end);
    return true;
  }

  private parseBackslash(): void {
    const re = this.re;
    const start = this.pos;
    const assertion = ASSERTIONS[re[start + 1]] as string | undefined;
    const perl = PERL_CLASSES.get(re.slice(start, start + 2));
    // \C (any byte) is the one escape RE2 parses only to reject it.
    if (re[start + 1] === "C") throw new Re2SyntaxError(BAD_ESCAPE, "\\C");
    if (assertion) this.push(leaf(assertion, false), start + 2);
    else if (re[start + 1] === "Q") {
      // \Q...\E (or to the end): literal text, still subject to (?i).
      const end = re.indexOf("\\E", start + 2);
      for (const ch of re.slice(start + 2, end < 0 ? re.length : end)) this.literal(ch.codePointAt(0)!);
      this.pos = end < 0 ? re.length : end + 2;
    } else if (re[start + 1] === "p" || re[start + 1] === "P" || perl) {
      const set = new CharSet(this.flags.i);
      const next = perl ? start + 2 : this.parseUnicodeClass(start, set, false);
      if (perl) set.addGroup(...perl);
      this.push(leaf(set.source(false)), next);
    } else this.literal(...this.parseEscape(start));
  }

  /** Go's parseEscape: a single-character escape at `start` → [code point, next index]. */
  private parseEscape(start: number): [number, number] {
    const re = this.re;
    let i = start + 1;
    const next = (): number => {
      const c = i < re.length ? re.codePointAt(i)! : -1;
      i += c < 0 ? 0 : cpLength(c);
      return c;
    };
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
        const [hi, lo] = [hexValue(d), hexValue(next())];
        if (hi >= 0 && lo >= 0) return [hi * 16 + lo, i];
      } else {
        // \x{H...}: at least one hex digit, at most U+10FFFF.
        const digitsAt = i;
        let [r, h] = [0, next()];
        for (; h !== 0x7d && hexValue(h) >= 0 && r * 16 + hexValue(h) <= MAX_RUNE; h = next()) {
          r = r * 16 + hexValue(h);
        }
        if (h === 0x7d && i - 1 > digitsAt) return [r, i];
      }
    } else {
      const control = "afnrtv".indexOf(String.fromCodePoint(c));
      if (control >= 0) return ["\x07\f\n\r\t\v".charCodeAt(control), i];
    }
    throw new Re2SyntaxError(BAD_ESCAPE, re.slice(start, i));
  }

  /** Go's parseUnicodeClass: \pL, \p{Greek}, \P{Lu}, \p{^Lu} at `start` → next index. */
  private parseUnicodeClass(start: number, set: CharSet, inClass: boolean): number {
    const re = this.re;
    const braced = re[start + 2] === "{";
    let end = braced ? re.indexOf("}", start) + 1 : start + 2; // one-letter name (or none at the end)
    if (braced && end === 0) throw new Re2SyntaxError(BAD_RANGE, re.slice(start));
    if (!braced && end < re.length) end += cpLength(re.codePointAt(end)!);
    let name = re.slice(start + (braced ? 3 : 2), braced ? end - 1 : end);
    const negate = (re[start + 1] === "P") !== name.startsWith("^");
    if (name.startsWith("^")) name = name.slice(1);
    const table = unicodeTable(name);
    if (!table) throw new Re2SyntaxError(BAD_RANGE, re.slice(start, end));
    set.addUnicode(table, negate);
    // re2js's C also has the unassigned code points (Cn), Go's does not: spell Go's table out.
    if (name === "C") {
      const ranges = goOtherRanges();
      const body = (negate ? complement(ranges) : ranges).map(re2Range).join("");
      this.edits.push([start, end, inClass ? body : `[${body}]`]);
    }
    return end;
  }

  /** Go's parseClass: `[...]` at pos, with POSIX, Perl and Unicode classes and escapes inside. */
  private parseClass(): void {
    const re = this.re;
    const start = this.pos;
    const negate = re[start + 1] === "^";
    let i = start + (negate ? 2 : 1);
    const set = new CharSet(this.flags.i);
    const classChar = (): number => {
      if (i >= re.length) throw new Re2SyntaxError("missing closing ]", re.slice(start));
      const [c, next] =
        re[i] === "\\" ? this.parseEscape(i) : [re.codePointAt(i)!, i + cpLength(re.codePointAt(i)!)];
      i = next;
      return c;
    };
    // `]` right after `[` or `[^` is a literal.
    for (let first = true; i >= re.length || re[i] !== "]" || first; first = false) {
      const posixEnd = re.startsWith("[:", i) && i + 2 < re.length ? re.indexOf(":]", i + 2) : -1;
      const perl = PERL_CLASSES.get(re.slice(i, i + 2));
      // Go looks for the `:]` of `[:name:]` after the `[:`, re2js from the `:`: in `[[:]` it is a `[`.
      if (posixEnd < 0 && re.startsWith("[:]", i)) this.edits.push([i, i + 1, "\\["]);
      if (posixEnd >= 0) {
        const name = re.slice(i, posixEnd + 2);
        const table = POSIX_CLASSES.get(name.slice(name[2] === "^" ? 3 : 2, -2));
        if (!table) throw new Re2SyntaxError(BAD_RANGE, name);
        set.addGroup(table, name[2] === "^");
        i = posixEnd + 2;
      } else if (re[i] === "\\" && (re[i + 1] === "p" || re[i + 1] === "P"))
        i = this.parseUnicodeClass(i, set, true);
      else if (perl) {
        set.addGroup(...perl);
        i += 2;
      } else {
        const rangeStart = i;
        const lo = classChar();
        // [a-] is a and -.
        const isRange = re[i] === "-" && i + 1 < re.length && re[i + 1] !== "]";
        if (isRange) i++;
        const hi = isRange ? classChar() : lo;
        if (hi < lo) throw new Re2SyntaxError(BAD_RANGE, re.slice(rangeStart, i));
        set.plain.push([lo, hi]);
      }
    }
    this.push(leaf(set.source(negate)), i + 1);
  }
}

/** Patterns without escapes, classes or braces mean the same in JS u mode when JS accepts them. */
const FAST_PATH = /^[^\\[\]{}]*$/;

/**
 * Translates an RE2 pattern (as Prometheus matches it) into a JS pattern body and flags, to be used as
 * `new RegExp("^(?:" + source + ")$", flags)`. Throws Re2SyntaxError where Go's regexp rejects it.
 */
export function translateRe2(pattern: string): Re2Translation {
  const surrogate = pattern.search(LONE_SURROGATE);
  // Not valid UTF-8 once sent to Prometheus; Go reports the rest of the pattern from the bad rune.
  if (surrogate >= 0) throw new Re2SyntaxError("invalid UTF-8", pattern.slice(surrogate));
  if (FAST_PATH.test(pattern) && !pattern.includes("(?") && pattern.split("(").length <= 100) {
    try {
      // What is left (literals . * + ? | ( ) ^ $) means the same in both. JS rejects what RE2 rejects
      // (a**, (*), unbalanced parens, compiled bare since the wrapping would balance `a)|(b`), and
      // some of what RE2 accepts ($*): the parser decides those.
      new RegExp(pattern, "su");
      return { source: pattern, flags: "su" };
    } catch {}
  }
  return { source: new Re2Parser(pattern).parse(), flags: "su" };
}

/** Go's \pC (Cc, Cf, Co, Cs) as ranges, from Node's tables (brute force once, cached). */
const goOtherRanges = (): Range[] => tableRanges("\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}", false);
const re2Range = ([lo, hi]: Range): string =>
  lo === hi ? `\\x{${lo.toString(16)}}` : `\\x{${lo.toString(16)}}-\\x{${hi.toString(16)}}`;

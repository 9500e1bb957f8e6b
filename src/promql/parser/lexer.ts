/**
 * A port of Prometheus 3.5's PromQL lexer (promql/parser/lex.go, without the series-description
 * modes). lezer-promql builds the syntax tree, but Prometheus's error messages are worded in terms
 * of these tokens and its lexer errors ("unclosed left parenthesis", "bad number or duration
 * syntax: …") come from here. Positions are UTF-16 indices into the query.
 */
import { goQuote, goQuoteRune, goUnicode } from "./gostr.js";
import { type Item, KEYWORDS, Tok } from "./tokens.js";

const EOF = -1;
const RUNE_ERROR = 0xfffd;

type StateFn = (l: Lexer) => StateFn | null;

const isSpace = (r: number) => r === 0x20 || r === 0x09 || r === 0x0a || r === 0x0d;
const isDigit = (r: number) => r >= 0x30 && r <= 0x39;
const isAlpha = (r: number) => r === 0x5f || (r >= 0x61 && r <= 0x7a) || (r >= 0x41 && r <= 0x5a);
const isAlphaNumeric = (r: number) => isAlpha(r) || isDigit(r);
const ch = (c: string) => c.charCodeAt(0);

class Lexer {
  pos = 0;
  start = 0;
  width = 0;
  item: Item | undefined;
  parenDepth = 0;
  braceOpen = false;
  bracketOpen = false;
  gotColon = false;
  gotDuration = false;
  stringOpen = 0;

  constructor(readonly input: string) {}

  next(): number {
    if (this.pos >= this.input.length) {
      this.width = 0;
      return EOF;
    }
    let r = this.input.codePointAt(this.pos)!;
    this.width = r > 0xffff ? 2 : 1;
    this.pos += this.width;
    // Go decodes invalid UTF-8 (and U+FFFD itself) as RuneError; lone surrogates are the JS analogue.
    if (r >= 0xd800 && r < 0xe000) r = RUNE_ERROR;
    return r;
  }

  peek(): number {
    const r = this.next();
    this.backup();
    return r;
  }

  backup(): void {
    this.pos -= this.width;
  }

  emit(type: Tok): void {
    this.item = { type, pos: this.start, val: this.input.slice(this.start, this.pos) };
    this.start = this.pos;
  }

  ignore(): void {
    this.start = this.pos;
  }

  accept(valid: string): boolean {
    const r = this.next();
    if (r !== EOF && valid.includes(String.fromCodePoint(r))) return true;
    this.backup();
    return false;
  }

  is(valid: string): boolean {
    const r = this.peek();
    return r !== EOF && valid.includes(String.fromCodePoint(r));
  }

  acceptRun(valid: string): void {
    while (this.accept(valid)) {
      // Consume.
    }
  }

  errorf(message: string): null {
    this.item = { type: Tok.ERROR, pos: this.start, val: message };
    return null;
  }

  /** Scans numbers: decimal, hex, octal or float; the value is checked later by the parser. */
  scanNumber(): boolean {
    const initial = this.pos;
    let digits = "0123456789";
    if (this.accept("0") && this.accept("xX")) {
      this.accept("_");
      digits = "0123456789abcdefABCDEF";
    }
    this.accept(".");
    this.accept(digits);
    let dot = false;
    let exponent = false;
    while (this.is(`${digits}._eE`)) {
      if (this.is(".") && dot) {
        this.accept(".");
        return false;
      }
      if (this.is("eE") && exponent) {
        this.accept("eE");
        return false;
      }
      if (this.accept(".")) {
        dot = true;
        if (this.accept("_.")) return false;
        // Fractional hexadecimal literals are not allowed.
        if (digits.length > 10) return false;
        continue;
      }
      if (this.accept("eE")) {
        exponent = true;
        this.accept("+-");
        if (this.accept("._eE") || this.peek() === EOF) return false;
        continue;
      }
      if (this.accept("_")) {
        if (this.accept("._eE") || this.peek() === EOF) return false;
        continue;
      }
      this.acceptRun(digits);
    }
    if (this.pos === initial) return false;
    return !isAlphaNumeric(this.peek());
  }
}

function acceptRemainingDuration(l: Lexer): boolean {
  if (!l.accept("smhdwy")) return false;
  // "ms"; bad units like "hs" are caught when the duration is parsed.
  l.accept("s");
  while (l.accept("0123456789")) {
    l.acceptRun("0123456789");
    if (!l.accept("smhdw")) return false;
    l.accept("s");
  }
  return !isAlphaNumeric(l.next());
}

const lexNumberOrDuration: StateFn = (l) => {
  if (l.scanNumber()) {
    l.emit(Tok.NUMBER);
    return lexStatements;
  }
  if (acceptRemainingDuration(l)) {
    l.backup();
    l.emit(Tok.DURATION);
    return lexStatements;
  }
  return l.errorf(`bad number or duration syntax: ${goQuote(l.input.slice(l.start, l.pos))}`);
};

const lexSpace: StateFn = (l) => {
  while (isSpace(l.peek())) l.next();
  l.ignore();
  return lexStatements;
};

const lexLineComment: StateFn = (l) => {
  l.pos += 1;
  let r = l.next();
  while (r !== 0x0a && r !== 0x0d && r !== EOF) r = l.next();
  l.backup();
  l.emit(Tok.COMMENT);
  return lexStatements;
};

const lexIdentifier: StateFn = (l) => {
  while (isAlphaNumeric(l.next())) {
    // Absorb.
  }
  l.backup();
  l.emit(Tok.IDENTIFIER);
  return lexStatements;
};

const lexKeywordOrIdentifier: StateFn = (l) => {
  let r = l.next();
  while (isAlphaNumeric(r) || r === ch(":")) r = l.next();
  l.backup();
  const word = l.input.slice(l.start, l.pos);
  const kw = KEYWORDS.get(word.toLowerCase());
  if (kw) l.emit(kw);
  else l.emit(word.includes(":") ? Tok.METRIC_IDENTIFIER : Tok.IDENTIFIER);
  return lexStatements;
};

const digitVal = (r: number): number => {
  if (r >= 0x30 && r <= 0x39) return r - 0x30;
  if (r >= 0x61 && r <= 0x66) return r - 0x61 + 10;
  if (r >= 0x41 && r <= 0x46) return r - 0x41 + 10;
  return 16;
};

const lexEscape: StateFn = (l) => {
  let r = l.next();
  let n: number;
  let base: number;
  let max: number;
  if ("abfnrtv\\".includes(String.fromCodePoint(Math.max(r, 0))) || r === l.stringOpen) return lexString;
  if (r >= ch("0") && r <= ch("7")) {
    [n, base, max] = [3, 8, 255];
  } else if (r === ch("x")) {
    r = l.next();
    [n, base, max] = [2, 16, 255];
  } else if (r === ch("u")) {
    r = l.next();
    [n, base, max] = [4, 16, 0x10ffff];
  } else if (r === ch("U")) {
    r = l.next();
    [n, base, max] = [8, 16, 0x10ffff];
  } else if (r === EOF) {
    return l.errorf("escape sequence not terminated");
  } else {
    return l.errorf(`unknown escape sequence ${goUnicode(r)}`);
  }
  let x = 0;
  while (n > 0) {
    const d = digitVal(r);
    if (d >= base) {
      if (r === EOF) return l.errorf("escape sequence not terminated");
      return l.errorf(`illegal character ${goUnicode(r)} in escape sequence`);
    }
    x = x * base + d;
    n--;
    if (n > 0) r = l.next();
  }
  if (x > max || (x >= 0xd800 && x < 0xe000))
    return l.errorf("escape sequence is an invalid Unicode code point");
  return lexString;
};

const lexString: StateFn = (l) => {
  for (;;) {
    const r = l.next();
    if (r === ch("\\")) return lexEscape;
    if (r === RUNE_ERROR) return l.errorf("invalid UTF-8 rune");
    if (r === EOF || r === 0x0a) return l.errorf("unterminated quoted string");
    if (r === l.stringOpen) break;
  }
  l.emit(Tok.STRING);
  return lexStatements;
};

const lexRawString: StateFn = (l) => {
  for (;;) {
    const r = l.next();
    if (r === RUNE_ERROR) return l.errorf("invalid UTF-8 rune");
    if (r === EOF) return l.errorf("unterminated raw string");
    if (r === l.stringOpen) break;
  }
  l.emit(Tok.STRING);
  return lexStatements;
};

const lexInsideBraces: StateFn = (l) => {
  if (l.input.startsWith("#", l.pos)) return lexLineComment;
  const r = l.next();
  if (r === EOF) return l.errorf("unexpected end of input inside braces");
  if (isSpace(r)) return lexSpace;
  if (isAlpha(r)) {
    l.backup();
    return lexIdentifier;
  }
  switch (r) {
    case ch(","):
      l.emit(Tok.COMMA);
      break;
    case ch('"'):
    case ch("'"):
      l.stringOpen = r;
      return lexString;
    case ch("`"):
      l.stringOpen = r;
      return lexRawString;
    case ch("="):
      if (l.next() === ch("~")) {
        l.emit(Tok.EQL_REGEX);
        break;
      }
      l.backup();
      l.emit(Tok.EQL);
      break;
    case ch("!"): {
      const nr = l.next();
      if (nr === ch("~")) l.emit(Tok.NEQ_REGEX);
      else if (nr === ch("=")) l.emit(Tok.NEQ);
      else return l.errorf(`unexpected character after '!' inside braces: ${goQuoteRune(nr)}`);
      break;
    }
    case ch("{"):
      return l.errorf(`unexpected left brace ${goQuoteRune(r)}`);
    case ch("}"):
      l.emit(Tok.RIGHT_BRACE);
      l.braceOpen = false;
      return lexStatements;
    default:
      return l.errorf(`unexpected character inside braces: ${goQuoteRune(r)}`);
  }
  return lexInsideBraces;
};

const SIMPLE_OPS: Record<string, Tok> = {
  ",": Tok.COMMA,
  "*": Tok.MUL,
  "/": Tok.DIV,
  "%": Tok.MOD,
  "+": Tok.ADD,
  "-": Tok.SUB,
  "^": Tok.POW,
  "@": Tok.AT,
};

/** Inside `[…]` until the first number: arithmetic on durations (Prometheus's lexDurationExpr). */
const lexDurationExpr: StateFn = (l) => {
  const r = l.next();
  if (r === EOF) return l.errorf("unexpected end of input in duration expression");
  if (isSpace(r)) {
    while (isSpace(l.peek())) l.next();
    l.ignore();
    return lexDurationExpr;
  }
  if (isDigit(r) || (r === ch(".") && isDigit(l.peek()))) {
    l.backup();
    l.gotDuration = true;
    return lexNumberOrDuration;
  }
  const c = String.fromCodePoint(r);
  switch (c) {
    case "]":
      l.emit(Tok.RIGHT_BRACKET);
      l.bracketOpen = false;
      l.gotColon = false;
      return lexStatements;
    case ":":
      l.emit(Tok.COLON);
      if (!l.gotDuration) return l.errorf("unexpected colon before duration in duration expression");
      if (l.gotColon) return l.errorf("unexpected repeated colon in duration expression");
      l.gotColon = true;
      return lexDurationExpr;
    case "(":
      l.emit(Tok.LEFT_PAREN);
      l.parenDepth++;
      return lexDurationExpr;
    case ")":
      l.emit(Tok.RIGHT_PAREN);
      l.parenDepth--;
      if (l.parenDepth < 0) return l.errorf(`unexpected right parenthesis ${goQuoteRune(r)}`);
      return lexDurationExpr;
    case "+":
    case "-":
    case "*":
    case "/":
    case "%":
    case "^":
      l.emit(SIMPLE_OPS[c]!);
      return lexDurationExpr;
  }
  return l.errorf(`unexpected character in duration expression: ${goQuoteRune(r)}`);
};

const lexStatements: StateFn = (l) => {
  if (l.braceOpen) return lexInsideBraces;
  if (l.input.startsWith("#", l.pos)) return lexLineComment;
  const r = l.next();
  if (r === EOF) {
    if (l.parenDepth !== 0) return l.errorf("unclosed left parenthesis");
    if (l.bracketOpen) return l.errorf("unclosed left bracket");
    l.emit(Tok.EOF);
    return null;
  }
  if (isSpace(r)) return lexSpace;
  if (isDigit(r) || (r === ch(".") && isDigit(l.peek()))) {
    l.backup();
    return lexNumberOrDuration;
  }
  if (isAlpha(r) || r === ch(":")) {
    if (!l.bracketOpen) {
      l.backup();
      return lexKeywordOrIdentifier;
    }
    if (r !== ch(":")) return l.errorf(`unexpected character: ${goQuoteRune(r)}, expected ':'`);
    if (l.gotColon) return l.errorf(`unexpected colon ${goQuoteRune(r)}`);
    l.emit(Tok.COLON);
    l.gotColon = true;
    return lexStatements;
  }
  const c = String.fromCodePoint(r);
  const simple = SIMPLE_OPS[c];
  if (simple) {
    l.emit(simple);
    return lexStatements;
  }
  switch (c) {
    case "=": {
      const t = l.peek();
      if (t === ch("=")) {
        l.next();
        l.emit(Tok.EQLC);
      } else if (t === ch("~")) {
        return l.errorf(`unexpected character after '=': ${goQuoteRune(t)}`);
      } else {
        l.emit(Tok.EQL);
      }
      return lexStatements;
    }
    case "!": {
      const t = l.next();
      if (t !== ch("=")) return l.errorf(`unexpected character after '!': ${goQuoteRune(t)}`);
      l.emit(Tok.NEQ);
      return lexStatements;
    }
    case "<":
    case ">": {
      const eq = l.peek() === ch("=");
      if (eq) l.next();
      l.emit(c === "<" ? (eq ? Tok.LTE : Tok.LSS) : eq ? Tok.GTE : Tok.GTR);
      return lexStatements;
    }
    case '"':
    case "'":
      l.stringOpen = r;
      return lexString;
    case "`":
      l.stringOpen = r;
      return lexRawString;
    case "(":
      l.emit(Tok.LEFT_PAREN);
      l.parenDepth++;
      return lexStatements;
    case ")":
      l.emit(Tok.RIGHT_PAREN);
      l.parenDepth--;
      if (l.parenDepth < 0) return l.errorf(`unexpected right parenthesis ${goQuoteRune(r)}`);
      return lexStatements;
    case "{":
      l.emit(Tok.LEFT_BRACE);
      l.braceOpen = true;
      return lexInsideBraces;
    case "[":
      if (l.bracketOpen) return l.errorf(`unexpected left bracket ${goQuoteRune(r)}`);
      l.gotColon = false;
      l.emit(Tok.LEFT_BRACKET);
      while (isSpace(l.peek())) l.next();
      l.ignore();
      l.bracketOpen = true;
      return lexDurationExpr;
    case "]":
      if (!l.bracketOpen) return l.errorf(`unexpected right bracket ${goQuoteRune(r)}`);
      l.emit(Tok.RIGHT_BRACKET);
      l.bracketOpen = false;
      return lexStatements;
  }
  return l.errorf(`unexpected character: ${goQuoteRune(r)}`);
};

/**
 * All tokens of the query, comments dropped, ending with EOF or with the first ERROR (whose `val`
 * is the message; Prometheus reports it over the range from its `pos` to the end of the input).
 */
export function lex(input: string): Item[] {
  const l = new Lexer(input);
  const items: Item[] = [];
  let state: StateFn | null = lexStatements;
  for (;;) {
    l.item = undefined;
    while (l.item === undefined && state !== null) state = state(l);
    // The state functions set l.item; TypeScript cannot see that through the calls.
    const item = (l.item as Item | undefined) ?? { type: Tok.EOF, pos: l.pos, val: "" };
    if (item.type !== Tok.COMMENT) items.push(item);
    if (item.type === Tok.EOF || item.type === Tok.ERROR) return items;
  }
}

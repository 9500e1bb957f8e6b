/**
 * Literals of the test-script language: numbers as Go's strconv reads them (the runner's
 * parseNumber: ParseInt with base prefixes, then ParseFloat) and PromQL string literals ("…", '…'
 * with Go escapes, `…` raw).
 */

const GO_INT_RE =
  /^[+-]?(?:0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?[0-7])*|[1-9](?:_?\d)*)$/;
const DECIMAL_RE = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/;
const INF_RE = /^([+-]?)inf(?:inity)?$/i;
const NAN_RE = /^[+-]?nan$/i;

/** Go's strconv.ParseInt(s, 0, 64) then ParseFloat(s, 64); undefined where both fail. */
export function parseGoNumber(text: string): number | undefined {
  const s = text;
  if (GO_INT_RE.test(s)) {
    const n = parseGoInt(s);
    // Out of int64 range: ParseInt fails and ParseFloat takes over (decimal only).
    if (n !== undefined) return n;
  }
  return parseGoFloat(s);
}

function parseGoInt(s: string): number | undefined {
  let sign = 1n;
  let body = s;
  if (body[0] === "+" || body[0] === "-") {
    if (body[0] === "-") sign = -1n;
    body = body.slice(1);
  }
  body = body.replaceAll("_", "");
  let n: bigint;
  if (/^0[xX]/.test(body)) n = BigInt(`0x${body.slice(2)}`);
  else if (/^0[bB]/.test(body)) n = BigInt(`0b${body.slice(2)}`);
  else if (/^0[oO]/.test(body)) n = BigInt(`0o${body.slice(2)}`);
  else if (body.length > 1 && body[0] === "0") n = BigInt(`0o${body.slice(1)}`);
  else n = BigInt(body);
  n *= sign;
  if (n > 9223372036854775807n || n < -9223372036854775808n) return undefined;
  return Number(n);
}

/** Go's strconv.ParseFloat for decimal forms, Inf/Infinity and NaN (any case); undefined otherwise. */
export function parseGoFloat(s: string): number | undefined {
  if (DECIMAL_RE.test(s)) return Number(s);
  const inf = INF_RE.exec(s);
  if (inf) return inf[1] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (NAN_RE.test(s)) return Number.NaN;
  return undefined;
}

/** Reads the string literal starting at `start` (its opening quote); returns the value and the index after it. */
export function readStringLiteral(text: string, start: number): { value: string; end: number } {
  const quote = text[start];
  if (quote === "`") {
    const close = text.indexOf("`", start + 1);
    if (close < 0) throw new Error(`unterminated raw string at column ${start + 1}`);
    return { value: text.slice(start + 1, close), end: close + 1 };
  }
  if (quote !== '"' && quote !== "'") throw new Error(`expected a string at column ${start + 1}`);
  // Escapes may produce raw bytes (\xff); collect UTF-8 bytes and decode once at the end.
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === quote) {
      return { value: new TextDecoder().decode(new Uint8Array(bytes)), end: i + 1 };
    }
    if (c === "\n") break;
    if (c !== "\\") {
      const cp = text.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      for (const b of encoder.encode(ch)) bytes.push(b);
      i += ch.length;
      continue;
    }
    const e = text[i + 1];
    i += 2;
    const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92 };
    if (e in simple) bytes.push(simple[e]);
    else if (e === quote) bytes.push(quote.charCodeAt(0));
    else if (e === "x") {
      const hex = text.slice(i, i + 2);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`invalid \\x escape at column ${i - 1}`);
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (e === "u" || e === "U") {
      const len = e === "u" ? 4 : 8;
      const hex = text.slice(i, i + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex))
        throw new Error(`invalid \\${e} escape at column ${i - 1}`);
      for (const b of encoder.encode(String.fromCodePoint(Number.parseInt(hex, 16)))) bytes.push(b);
      i += len;
    } else if (e !== undefined && e >= "0" && e <= "7") {
      const oct = text.slice(i - 1, i + 2);
      if (!/^[0-7]{3}$/.test(oct)) throw new Error(`invalid octal escape at column ${i - 1}`);
      bytes.push(Number.parseInt(oct, 8) & 0xff);
      i += 2;
    } else {
      throw new Error(`unknown escape sequence \\${e ?? ""} at column ${i - 1}`);
    }
  }
  throw new Error(`unterminated string at column ${start + 1}`);
}

/**
 * Go's string quoting and unquoting as Prometheus uses them: strconv.Quote for printing strings
 * and label values, `%q`/`%#U` on runes for lexer messages, and strutil.Unquote for literals.
 */

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export function isPrint(cp: number): boolean {
  return cp === 0x20 || (cp > 0x20 && PRINTABLE.test(String.fromCodePoint(cp)));
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0");

const SIMPLE_ESCAPES: Record<number, string> = {
  7: "\\a",
  8: "\\b",
  12: "\\f",
  10: "\\n",
  13: "\\r",
  9: "\\t",
  11: "\\v",
};

function escapeRune(cp: number, quote: string): string {
  const ch = String.fromCodePoint(cp);
  if (ch === quote || ch === "\\") return `\\${ch}`;
  // U+FFFD stands for bytes that were not UTF-8 (Go would print "\xff"); the lexer rejects it
  // unescaped, so it is escaped to keep the output parseable.
  if (cp === 0xfffd) return "\\ufffd";
  if (isPrint(cp)) return ch;
  const simple = SIMPLE_ESCAPES[cp];
  if (simple) return simple;
  if (cp < 0x20 || cp === 0x7f) return `\\x${hex(cp, 2)}`;
  // Lone surrogates are not valid runes; Go prints them as U+FFFD.
  if (cp >= 0xd800 && cp < 0xe000) return "\\ufffd";
  return cp < 0x10000 ? `\\u${hex(cp, 4)}` : `\\U${hex(cp, 8)}`;
}

/** strconv.Quote. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch.codePointAt(0)!, '"');
  return `${out}"`;
}

/** `%q` of a rune (strconv.QuoteRune); -1 stands for end of input, printed as Go does. */
export function goQuoteRune(cp: number): string {
  return `'${cp < 0 ? "\uFFFD" : escapeRune(cp, "'")}'`;
}

/** `%#U` of a rune: "U+0063 'c'". */
export function goUnicode(cp: number): string {
  const code = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  return isPrint(cp) ? `${code} '${String.fromCodePoint(cp)}'` : code;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8");

/**
 * strutil.Unquote of a literal the lexer already accepted. `\x` and octal escapes produce single
 * bytes, so the result is assembled as UTF-8 and decoded (invalid sequences become U+FFFD).
 */
export function unquote(lit: string): string {
  const quote = lit[0];
  const body = lit.slice(1, -1);
  if (quote === "`" || !body.includes("\\")) return body;
  const bytes: number[] = [];
  const pushRune = (cp: number) => bytes.push(...encoder.encode(String.fromCodePoint(cp)));
  for (let i = 0; i < body.length; ) {
    const cp = body.codePointAt(i)!;
    if (cp !== 0x5c) {
      pushRune(cp);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const c = body[i + 1];
    i += 2;
    switch (c) {
      case "a":
        bytes.push(7);
        break;
      case "b":
        bytes.push(8);
        break;
      case "f":
        bytes.push(12);
        break;
      case "n":
        bytes.push(10);
        break;
      case "r":
        bytes.push(13);
        break;
      case "t":
        bytes.push(9);
        break;
      case "v":
        bytes.push(11);
        break;
      case "x":
        bytes.push(Number.parseInt(body.slice(i, i + 2), 16));
        i += 2;
        break;
      case "u":
        pushRune(Number.parseInt(body.slice(i, i + 4), 16));
        i += 4;
        break;
      case "U":
        pushRune(Number.parseInt(body.slice(i, i + 8), 16));
        i += 8;
        break;
      default:
        if (c !== undefined && c >= "0" && c <= "7") {
          bytes.push(Number.parseInt(body.slice(i - 1, i + 2), 8));
          i += 2;
        } else {
          pushRune(c!.codePointAt(0)!);
        }
    }
  }
  return decoder.decode(new Uint8Array(bytes));
}

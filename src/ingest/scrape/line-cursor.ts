/**
 * The lexical layer of the exposition parser: one line, a position in it, and the tokens both
 * text formats share (names, label sets, quoted values, escapes, separators). Errors carry the
 * line and column so an operator can find the bad byte in a page of thousands of lines.
 */
import type { Label } from "../../storage/labels.js";

export class ExpositionError extends Error {
  override readonly name = "ExpositionError";
  constructor(
    readonly line: number,
    readonly column: number,
    reason: string,
    text: string,
  ) {
    const shown = text.length > 120 ? `${text.slice(0, 117)}...` : text;
    super(`line ${line}, column ${column}: ${reason}: ${JSON.stringify(shown)}`);
  }
}

function isNameStart(c: number, colon: boolean): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (colon && c === 58);
}
function isNameChar(c: number, colon: boolean): boolean {
  return isNameStart(c, colon) || (c >= 48 && c <= 57);
}
const SPACE = 32;
const TAB = 9;

export abstract class LineCursor {
  protected lineText = "";
  protected lineNo = 0;
  protected pos = 0;

  /** OpenMetrics: single spaces, no blanks inside label sets, no trailing comma. */
  constructor(protected readonly om: boolean) {}

  protected fail(reason: string): never {
    throw new ExpositionError(this.lineNo, this.pos + 1, reason, this.lineText);
  }

  protected skipBlanks(): void {
    const s = this.lineText;
    while (this.pos < s.length && (s.charCodeAt(this.pos) === SPACE || s.charCodeAt(this.pos) === TAB))
      this.pos++;
  }

  /** Separator between tokens: one space in OpenMetrics, any run of blanks in 0.0.4. */
  protected separator(what: string): void {
    const start = this.pos;
    if (this.om) {
      if (this.lineText.charCodeAt(this.pos) === SPACE) this.pos++;
    } else this.skipBlanks();
    if (this.pos === start) this.fail(`expected a space before ${what}`);
    if (this.om && this.lineText.charCodeAt(this.pos) === SPACE) this.fail("more than one space");
  }

  protected name(colon: boolean, what: string): string {
    const s = this.lineText;
    const start = this.pos;
    if (start >= s.length || !isNameStart(s.charCodeAt(start), colon)) this.fail(`expected ${what}`);
    this.pos++;
    while (this.pos < s.length && isNameChar(s.charCodeAt(this.pos), colon)) this.pos++;
    return s.slice(start, this.pos);
  }

  /** A token up to the next blank (or `end`). */
  protected token(): string {
    const s = this.lineText;
    const start = this.pos;
    while (this.pos < s.length && s.charCodeAt(this.pos) !== SPACE && s.charCodeAt(this.pos) !== TAB)
      this.pos++;
    return s.slice(start, this.pos);
  }

  protected atEnd(): boolean {
    return this.pos >= this.lineText.length;
  }

  /** `{name="value",...}` starting at `{`. */
  protected labelSet(): Label[] {
    const s = this.lineText;
    const labels: Label[] = [];
    this.pos++; // '{'
    for (;;) {
      if (!this.om) this.skipBlanks();
      if (s.charCodeAt(this.pos) === 125 /* } */) {
        if (this.om && labels.length > 0) this.fail("trailing comma in label set");
        this.pos++;
        return labels;
      }
      const name = this.name(false, "a label name");
      for (const l of labels) if (l.name === name) this.fail(`duplicate label ${name}`);
      if (!this.om) this.skipBlanks();
      if (s.charCodeAt(this.pos) !== 61 /* = */) this.fail(`expected = after label name ${name}`);
      this.pos++;
      if (!this.om) this.skipBlanks();
      if (s.charCodeAt(this.pos) !== 34 /* " */) this.fail(`expected " to open the value of ${name}`);
      labels.push({ name, value: this.quoted() });
      if (!this.om) this.skipBlanks();
      const c = s.charCodeAt(this.pos);
      if (c === 44 /* , */) {
        this.pos++;
        continue;
      }
      if (c === 125) {
        this.pos++;
        return labels;
      }
      this.fail("expected , or } after a label value");
    }
  }

  /** A double-quoted label value with `\\`, `\"` and `\n` escapes (the only ones either format has). */
  protected quoted(): string {
    const s = this.lineText;
    this.pos++; // opening quote
    let out = "";
    let from = this.pos;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 34) {
        out += s.slice(from, this.pos);
        this.pos++;
        return out;
      }
      if (c === 92 /* \ */) {
        out += s.slice(from, this.pos);
        const e = s[this.pos + 1];
        if (e === "\\") out += "\\";
        else if (e === '"') out += '"';
        else if (e === "n") out += "\n";
        else this.fail(`invalid escape sequence \\${e ?? ""} in label value`);
        this.pos += 2;
        from = this.pos;
        continue;
      }
      this.pos++;
    }
    this.fail("unterminated label value");
  }

  /** HELP text: `\\` and `\n` in 0.0.4, plus `\"` in OpenMetrics. */
  protected unescape(raw: string, om: boolean, what: string): string {
    if (!raw.includes("\\")) return raw;
    let out = "";
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i];
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = raw[i + 1];
      if (e === "\\") out += "\\";
      else if (e === "n") out += "\n";
      else if (om && e === '"') out += '"';
      else {
        this.pos += i;
        this.fail(`invalid escape sequence \\${e ?? ""} in ${what}`);
      }
      i++;
    }
    return out;
  }
}

/**
 * Duration expressions of ranges, subquery steps and offsets (`[26m+4m]`, `[5m:1m*2]`,
 * `offset -(1h/2)`), with Prometheus 3.5's grammar: `+ -` < `* / %` < `^` (right-associative),
 * unary minus at the level of `*`, and after `offset` a bare (signed) literal ends the duration
 * while a parenthesis starts an expression that runs on (`foo offset -2 ^ 2` is
 * `(foo offset -2) ^ 2`). lezer-promql predates these expressions, so they are parsed here from
 * the tokens and masked out of the text lezer sees.
 */
import type { DurationExpr, PosRange } from "../ast.js";
import { formatDuration, parseDuration } from "../duration.js";
import { type PendingError, range } from "./errors.js";
import { formatFloat, parseNumber, secondsToMs } from "./numbers.js";
import { describe, type Item, Tok } from "./tokens.js";

/** A parsed duration: Prometheus's NumberLiteral, or a DurationExpr kept for printing. */
export interface DurationSlot {
  readonly ms: number;
  readonly expr?: DurationExpr;
  /** Where the duration is written, parentheses included. */
  readonly pos: PosRange;
}

type DNode =
  /** `ms`: the exact milliseconds of a duration token (`val` is in seconds, a float). */
  | { t: "num"; val: number; duration: boolean; pos: PosRange; ms?: number }
  | {
      t: "bin";
      op: "+" | "-" | "*" | "/" | "%" | "^";
      lhs: DNode;
      rhs: DNode;
      pos: PosRange;
      paren?: PosRange;
    }
  | { t: "neg"; rhs: DNode; pos: PosRange; paren?: PosRange };

const BIN_OPS: Partial<Record<Tok, { op: "+" | "-" | "*" | "/" | "%" | "^"; prec: number }>> = {
  ADD: { op: "+", prec: 1 },
  SUB: { op: "-", prec: 1 },
  MUL: { op: "*", prec: 2 },
  DIV: { op: "/", prec: 2 },
  MOD: { op: "%", prec: 2 },
  POW: { op: "^", prec: 3 },
};

// time.Duration holds int64 nanoseconds.
const MAX_SECONDS = 2 ** 63 / 1e9;

const end = (it: Item) => it.pos + it.val.length;

/** A node's extent in the text, its parentheses included. */
const outer = (n: DNode): PosRange => (n.t === "num" ? n.pos : (n.paren ?? n.pos));

class SyntaxFailure extends Error {
  constructor(readonly token: Item) {
    super("duration syntax");
  }
}

class DurationParser {
  i: number;
  constructor(
    readonly tokens: readonly Item[],
    start: number,
    readonly experimental: boolean,
    readonly errors: PendingError[],
  ) {
    this.i = start;
  }

  peek(): Item {
    return this.tokens[this.i]!;
  }

  /** The text from the first token to the last one consumed. */
  span(first: number): PosRange {
    return range(this.tokens[first]!.pos, end(this.tokens[this.i - 1]!));
  }

  /** Errors are ordered by the token being looked at when they arise. */
  error(message: string, pos: PosRange): void {
    this.errors.push({ message, pos, at: this.peek().pos });
  }

  checkExperimental(n: DNode): void {
    if (!this.experimental) this.error("experimental duration expression is not enabled", n.pos);
  }

  literal(): DNode {
    const tok = this.tokens[this.i++]!;
    const pos = range(tok.pos, end(tok));
    if (tok.type === Tok.NUMBER) {
      const n = parseNumber(tok.val);
      if (n.error) this.error(n.error, pos);
      if (Math.abs(n.value) > MAX_SECONDS) {
        this.error("duration out of range", pos);
        return { t: "num", val: 0, duration: false, pos };
      }
      return { t: "num", val: n.value, duration: false, pos };
    }
    const d = parseDuration(tok.val);
    if (d.error) this.error(d.error, pos);
    return { t: "num", val: d.ms / 1000, duration: true, pos, ms: d.ms };
  }

  /** `unary_op …`: folds into a literal as Prometheus does, else negates the expression. */
  unary(op: Item, operand: DNode): DNode {
    if (operand.t === "num") {
      let val = op.type === Tok.SUB ? -operand.val : operand.val;
      if (Math.abs(val) > MAX_SECONDS) {
        this.error("duration out of range", range(op.pos, end(op)));
        val = 0;
      }
      const { ms, ...literal } = operand;
      const folded = { ...literal, val, pos: range(op.pos, operand.pos.end) };
      if (ms === undefined || val === 0) return folded;
      return { ...folded, ms: op.type === Tok.SUB ? -ms : ms };
    }
    if (op.type === Tok.ADD) return operand;
    return { t: "neg", rhs: operand, pos: range(op.pos, outer(operand).end) };
  }

  primary(): DNode {
    const tok = this.peek();
    switch (tok.type) {
      case Tok.NUMBER:
      case Tok.DURATION:
        return this.literal();
      case Tok.ADD:
      case Tok.SUB:
        this.i++;
        return this.unary(tok, this.binary(3));
      case Tok.LEFT_PAREN: {
        this.i++;
        const inner = this.binary(1);
        const close = this.peek();
        if (close.type !== Tok.RIGHT_PAREN) throw new SyntaxFailure(close);
        this.i++;
        this.checkExperimental(inner);
        // A parenthesised literal stays a literal, so it prints without the parentheses.
        return inner.t === "num" ? inner : { ...inner, paren: range(tok.pos, end(close)) };
      }
      default:
        throw new SyntaxFailure(tok);
    }
  }

  binary(minPrec: number): DNode {
    let lhs = this.primary();
    for (;;) {
      const opTok = this.peek();
      const op = BIN_OPS[opTok.type];
      if (!op || op.prec < minPrec) return lhs;
      this.i++;
      const rhs = this.binary(op.op === "^" ? op.prec : op.prec + 1);
      this.checkExperimental(lhs);
      if ((op.op === "/" || op.op === "%") && rhs.t === "num" && rhs.val === 0) {
        this.error(op.op === "/" ? "division by zero" : "modulo by zero", range(opTok.pos, end(opTok)));
        lhs = { t: "num", val: 0, duration: false, pos: range(0, 0) };
        continue;
      }
      lhs = { t: "bin", op: op.op, lhs, rhs, pos: range(outer(lhs).start, outer(rhs).end) };
    }
  }
}

/** Evaluates a duration expression to seconds, with promql/durations.go's errors. */
function evaluate(n: DNode): number {
  switch (n.t) {
    case "num":
      return n.val;
    case "neg":
      return -evaluate(n.rhs);
    case "bin": {
      const l = evaluate(n.lhs);
      const r = evaluate(n.rhs);
      switch (n.op) {
        case "+":
          return l + r;
        case "-":
          return l - r;
        case "*":
          return l * r;
        case "/":
          if (r === 0) throw new Error("division by zero");
          return l / r;
        case "%":
          if (r === 0) throw new Error("modulo by zero");
          return l % r;
        case "^":
          return l ** r;
      }
    }
  }
}

/** NumberLiteral.String() of Prometheus for a literal inside a duration expression. */
export function durationLiteralText(seconds: number, duration: boolean): string {
  if (!duration) return formatFloat(seconds);
  const ms = Math.trunc(Math.trunc(Math.abs(seconds) * 1e9) / 1e6);
  return seconds < 0 ? `-${formatDuration(ms)}` : formatDuration(ms);
}

function toAst(n: DNode): DurationExpr {
  let e: DurationExpr;
  switch (n.t) {
    case "num":
      return {
        type: "DurationLiteral",
        seconds: n.val,
        text: durationLiteralText(n.val, n.duration),
        pos: n.pos,
      };
    case "neg":
      e = { type: "DurationUnary", op: "-", expr: toAst(n.rhs), pos: n.pos };
      break;
    case "bin":
      e = { type: "DurationBinary", op: n.op, lhs: toAst(n.lhs), rhs: toAst(n.rhs), pos: n.pos };
      break;
  }
  return n.paren ? { type: "DurationParen", expr: e, pos: n.paren } : e;
}

/** The value of a duration expression in seconds, as promql/durations.go computes it. */
export function evaluateDurationExpr(e: DurationExpr): number {
  switch (e.type) {
    case "DurationLiteral":
      return e.seconds;
    case "DurationParen":
      return evaluateDurationExpr(e.expr);
    case "DurationUnary":
      return e.op === "-" ? -evaluateDurationExpr(e.expr) : evaluateDurationExpr(e.expr);
    case "DurationBinary":
      return evaluate({
        t: "bin",
        op: e.op,
        lhs: { t: "num", val: evaluateDurationExpr(e.lhs), duration: false, pos: e.pos },
        rhs: { t: "num", val: evaluateDurationExpr(e.rhs), duration: false, pos: e.pos },
        pos: e.pos,
      });
  }
}

export interface DurationScan {
  /** Parsed durations, keyed by the offset where their text (now masked) starts. */
  readonly slots: Map<number, DurationSlot>;
  /** Text ranges to hide from lezer behind a placeholder number. */
  readonly masks: Array<[number, number]>;
  readonly errors: PendingError[];
}

type Positivity = "positive" | "any";

/** Records a parsed duration spanning the tokens from `first` to the last one consumed. */
function finish(
  p: DurationParser,
  first: number,
  node: DNode,
  positivity: Positivity,
  scan: DurationScan,
): void {
  let ms = 0;
  const pos = outer(node);
  try {
    // Literals are rounded to nanoseconds (math.Round in the grammar), expressions truncated to
    // milliseconds (promql/durations.go). Duration tokens keep their exact milliseconds, where
    // Prometheus's float round trip can lose one.
    if (node.t !== "num") ms = secondsToMs(evaluate(node));
    else ms = node.ms ?? Math.trunc(Math.round(node.val * 1e9) / 1e6) + 0;
  } catch (err) {
    p.error((err as Error).message, pos);
  }
  if (positivity === "positive" && ms <= 0) p.error("duration must be greater than 0", pos);
  const span = p.span(first);
  scan.slots.set(span.start, node.t === "num" ? { ms, pos: span } : { ms, pos: span, expr: toAst(node) });
  scan.masks.push([span.start, span.end]);
}

/** Token types after which `offset` is a modifier: the ends of expressions, keywords named as metrics. */
const ENDS_EXPR = new Set<Tok>([
  Tok.IDENTIFIER,
  Tok.METRIC_IDENTIFIER,
  Tok.RIGHT_BRACE,
  Tok.RIGHT_BRACKET,
  Tok.RIGHT_PAREN,
  Tok.NUMBER,
  Tok.DURATION,
  Tok.STRING,
  // Prometheus's metric_identifier: keywords that can name a metric.
  ...[Tok.AVG, Tok.BOTTOMK, Tok.BY, Tok.COUNT, Tok.COUNT_VALUES, Tok.GROUP, Tok.LAND, Tok.LOR, Tok.LUNLESS],
  ...[
    Tok.MAX,
    Tok.MIN,
    Tok.QUANTILE,
    Tok.STDDEV,
    Tok.STDVAR,
    Tok.SUM,
    Tok.TOPK,
    Tok.WITHOUT,
    Tok.START,
    Tok.END,
  ],
  ...[Tok.LIMITK, Tok.LIMIT_RATIO],
]);

/**
 * Records "unexpected …" and hides the text parsed so far from lezer, so that lezer does not
 * stumble over the duration's syntax before the failing token.
 */
function syntaxError(scan: DurationScan, from: number, tok: Item, context: string, expected: string): void {
  const masked = scan.masks.at(-1);
  const start = masked && masked[1] > from ? masked[1] : from;
  if (tok.pos > start) scan.masks.push([start, tok.pos]);
  // A lexer error is reported by itself (Prometheus's unexpected() stays silent on ERROR tokens).
  if (tok.type === Tok.ERROR) return;
  const message = `unexpected ${describe(tok)} in ${context}, expected ${expected}`;
  scan.errors.push({ message, pos: range(tok.pos, end(tok)), at: tok.pos });
}

/** The duration after `offset`; false on a syntax error. */
function scanOffset(tokens: readonly Item[], i: number, experimental: boolean, scan: DurationScan): boolean {
  const p = new DurationParser(tokens, i, experimental, scan.errors);
  const first = tokens[i]!;
  const second = tokens[i + 1];
  try {
    let node: DNode;
    if (first.type === Tok.NUMBER || first.type === Tok.DURATION) {
      node = p.literal();
    } else if (
      (first.type === Tok.ADD || first.type === Tok.SUB) &&
      (second?.type === Tok.NUMBER || second?.type === Tok.DURATION)
    ) {
      p.i++;
      node = p.unary(first, p.literal());
    } else {
      node = p.binary(1);
    }
    finish(p, i, node, "any", scan);
    return true;
  } catch (err) {
    if (!(err instanceof SyntaxFailure)) throw err;
    syntaxError(scan, first.pos, err.token, "offset", "number or duration");
    return false;
  }
}

/** `[range]` or `[range:step]`; the index of the closing bracket, or -1 on a syntax error. */
function scanBrackets(tokens: readonly Item[], i: number, experimental: boolean, scan: DurationScan): number {
  const p = new DurationParser(tokens, i, experimental, scan.errors);
  let context = ["subquery or range selector", "number or duration"];
  let from = tokens[i]!.pos;
  try {
    finish(p, i, p.binary(1), "positive", scan);
    let tok = p.peek();
    if (tok.type === Tok.RIGHT_BRACKET) return p.i;
    context = ["subquery or range", '":" or "]"'];
    if (tok.type !== Tok.COLON) throw new SyntaxFailure(tok);
    p.i++;
    tok = p.peek();
    if (tok.type === Tok.RIGHT_BRACKET) return p.i;
    context = ["subquery selector", 'number or duration or "]"'];
    const stepStart = p.i;
    from = tok.pos;
    finish(p, stepStart, p.binary(1), "positive", scan);
    context = ["subquery selector", '"]"'];
    tok = p.peek();
    if (tok.type !== Tok.RIGHT_BRACKET) throw new SyntaxFailure(tok);
    return p.i;
  } catch (err) {
    if (!(err instanceof SyntaxFailure)) throw err;
    syntaxError(scan, from, err.token, context[0]!, context[1]!);
    return -1;
  }
}

/** Finds and parses every range, subquery step and offset duration among the tokens. */
export function scanDurations(tokens: readonly Item[], experimental: boolean): DurationScan {
  const scan: DurationScan = { slots: new Map(), masks: [], errors: [] };
  // Past a syntax error the structure is unknown; Prometheus reports that error first anyway.
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (tok.type === Tok.LEFT_BRACKET) {
      i = scanBrackets(tokens, i + 1, experimental, scan);
      if (i < 0) break;
    } else if (tok.type === Tok.OFFSET && i > 0 && ENDS_EXPR.has(tokens[i - 1]!.type)) {
      if (!scanOffset(tokens, i + 1, experimental, scan)) break;
    }
  }
  return scan;
}

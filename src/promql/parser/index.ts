/**
 * The PromQL parser: Prometheus 3.5's language and error messages, built on lezer-promql.
 *
 * Steps: the query is lexed as Prometheus lexes it (lexer errors, token descriptions for
 * messages); duration expressions in ranges and offsets, which lezer-promql 0.305 does not know,
 * are parsed from the tokens and masked; lezer parses the rest; its tree is converted once into
 * our AST with the checks Prometheus's grammar actions make (and with `[…]`, `offset` and `@`
 * moved to the operand they bind to in PromQL); finally checkAST's type checks run. All positions
 * are UTF-8 byte offsets, as in Prometheus.
 *
 * Queries with more than MAX_EXPRESSION_DEPTH operators and nested parentheses are refused from
 * the tokens, before anything else (limits.ts); within it every step may recurse on the tree.
 *
 * Known gaps: syntax errors outside label matchers,
 * grouping labels, `@`, `offset` and `[…]` are reported as "unexpected <token>" without
 * Prometheus's context suffix; `offset` cannot be a metric name.
 */
import type { Tree } from "@lezer/common";
import { parser } from "@prometheus-io/lezer-promql";
import type { Expr, VectorSelector } from "../ast.js";
import { ParseError } from "../errors.js";
import { FUNCTIONS } from "../functions.js";
import { CheckFailure, checkExpr } from "./check.js";
import { BrokenTree, type ConvertContext, children } from "./context.js";
import { convertExpr } from "./convert.js";
import { scanDurations } from "./durations.js";
import { firstError, type PendingError, range } from "./errors.js";
import { lex } from "./lexer.js";
import { checkExpressionSize, MAX_EXPRESSION_DEPTH } from "./limits.js";
import { byteOffsets, mapPositions, mapRange } from "./positions.js";
import { syntaxError } from "./syntax-errors.js";
import { type Item, Tok } from "./tokens.js";

export { checkExpressionSize, MAX_EXPRESSION_DEPTH, PAREN_DEPTH_WEIGHT } from "./limits.js";

export interface ParseOptions {
  /** Functions and aggregations marked experimental (Prometheus's promql-experimental-functions). Default true. */
  readonly experimentalFunctions?: boolean;
  /** Arithmetic in ranges, steps and offsets (Prometheus's promql-duration-expr). Default true. */
  readonly experimentalDurationExpr?: boolean;
  /** Operators plus levels of nested parentheses allowed (default MAX_EXPRESSION_DEPTH). */
  readonly maxExpressionDepth?: number;
}

/**
 * Calls of functions lezer does not know would not parse as calls at all; such names are masked
 * as a known one (`ln`) so the conversion can report "unknown function" as Prometheus does.
 */
function maskUnknownFunctions(
  tokens: readonly Item[],
  masks: Array<[number, number, string]>,
  errors: PendingError[],
) {
  for (let i = 0; i + 1 < tokens.length; i++) {
    const tok = tokens[i]!;
    if (tok.type !== Tok.IDENTIFIER || tokens[i + 1]!.type !== Tok.LEFT_PAREN || FUNCTIONS.has(tok.val))
      continue;
    if (tok.val.length >= 2) {
      masks.push([tok.pos, tok.pos + tok.val.length, "ln"]);
    } else {
      const pos = range(tok.pos, tok.pos + 1);
      errors.push({ message: `unknown function with name "${tok.val}"`, pos, at: pos.end });
    }
  }
}

/**
 * PromQL numbers lezer does not read (`5.`, `0X1F`) are masked too; values are always taken from
 * the tokens.
 */
function maskNumbers(tokens: readonly Item[], masks: Array<[number, number, string]>) {
  // The masks so far (duration expressions) do not overlap; tokens come in order of position.
  const spans = masks.map(([s, e]) => [s, e] as const).sort((a, b) => a[0] - b[0]);
  let k = 0;
  for (const tok of tokens) {
    if (tok.type !== Tok.NUMBER && tok.type !== Tok.DURATION) continue;
    while (k < spans.length && spans[k]![1] <= tok.pos) k++;
    const covered = k < spans.length && spans[k]![0] <= tok.pos;
    if (!covered) masks.push([tok.pos, tok.pos + tok.val.length, "1"]);
  }
}

/**
 * lezer's parse, without its guard against long left-associative chains: after 300 reductions
 * over 2000+ characters from one start (`a + a + …` of a few hundred operators) it forces the
 * parse out of the production, and the rest of the chain becomes a syntax error. The guard
 * protects recursive walks from deep trees; here the depth is bounded by checkExpressionSize.
 */
function lezerParse(input: string): Tree {
  const parse = parser.startParse(input) as ReturnType<typeof parser.startParse> & {
    bigReductionCount?: number;
  };
  for (;;) {
    if (parse.bigReductionCount !== undefined) parse.bigReductionCount = 0;
    const tree = parse.advance();
    if (tree) return tree;
  }
}

function applyMasks(query: string, masks: Array<[number, number, string]>): string {
  let out = "";
  let last = 0;
  for (const [start, end, placeholder] of masks.sort((a, b) => a[0] - b[0])) {
    out += query.slice(last, start) + placeholder.padEnd(end - start, " ");
    last = end;
  }
  return out + query.slice(last);
}

function fail(query: string, message: string, pos: { start: number; end: number }): never {
  const toBytes = byteOffsets(query);
  throw new ParseError(message, toBytes ? mapRange(pos, toBytes) : pos, query);
}

/** Parses a PromQL expression; throws ParseError with Prometheus's message and position. */
export function parseExpr(query: string, opts: ParseOptions = {}): Expr {
  try {
    let expr = parseUnchecked(query, opts);
    try {
      expr = checkExpr(expr, query);
    } catch (err) {
      if (err instanceof CheckFailure) fail(query, err.message, err.pos);
      throw err;
    }
    return toByteOffsets(query, expr);
  } catch (err) {
    // Within MAX_EXPRESSION_DEPTH this needs a fraction of the default stack; should a caller's
    // stack be smaller still, the query is refused rather than failing the request.
    if (err instanceof RangeError && /call stack/i.test(err.message))
      fail(query, "expression too deep to parse", range(0, query.length));
    throw err;
  }
}

/**
 * Parses a lone series selector such as a `match[]` parameter, like Prometheus's
 * ParseMetricSelector: no type checks, so the caller applies its own rules (and messages) to
 * selectors that match everything.
 */
export function parseMetricSelector(query: string): VectorSelector {
  const expr = parseUnchecked(query, {});
  if (expr.type !== "VectorSelector") {
    fail(query, 'expected a series selector such as up{job="api"}', { start: 0, end: query.length });
  }
  return toByteOffsets(query, expr) as VectorSelector;
}

/** Positions are found in UTF-16 units and reported, as Prometheus does, in bytes. */
function toByteOffsets(query: string, expr: Expr): Expr {
  const toBytes = byteOffsets(query);
  return toBytes ? mapPositions(expr, toBytes) : expr;
}

function parseUnchecked(query: string, opts: ParseOptions): Expr {
  const tokens = lex(query);
  const last = tokens.at(-1)!;
  if (tokens.length === 1 && last.type === Tok.EOF) fail(query, "no expression found in input", range(0, 0));
  checkExpressionSize(query, tokens, opts.maxExpressionDepth ?? MAX_EXPRESSION_DEPTH);

  // In Prometheus's order of discovery; on equal positions, earlier entries win.
  const errors: PendingError[] = [];
  if (last.type === Tok.ERROR)
    errors.push({ message: last.val, pos: range(last.pos, query.length), at: last.pos });
  const durations = scanDurations(tokens, opts.experimentalDurationExpr ?? true);
  errors.push(...durations.errors);
  const masks: Array<[number, number, string]> = durations.masks.map(([s, e]) => [s, e, "1"]);
  maskNumbers(tokens, masks);
  maskUnknownFunctions(tokens, masks, errors);

  const tree = lezerParse(applyMasks(query, masks));
  const ctx: ConvertContext = {
    query,
    tokens: new Map(tokens.map((t) => [t.pos, t])),
    slots: durations.slots,
    errors,
    experimentalFunctions: opts.experimentalFunctions ?? true,
  };
  let expr: Expr | undefined;
  try {
    const top = children(tree.topNode);
    if (top.length !== 1) throw new BrokenTree();
    expr = convertExpr(ctx, top[0]!);
  } catch (err) {
    // Past a syntax error only the errors found before it count; the syntax error is reported.
    if (!(err instanceof BrokenTree)) throw err;
  }
  const syntax = syntaxError(tree, tokens);
  if (syntax) errors.push(syntax);
  const first = firstError(errors);
  if (first) fail(query, first.message, first.pos);
  if (!expr)
    fail(query, `unexpected ${last.type === Tok.EOF ? "end of input" : last.val}`, range(last.pos, last.pos));

  return expr;
}

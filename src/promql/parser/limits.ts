/**
 * Size limits on a query's expression, checked on the lexer's tokens before anything else is
 * done with it (see docs/security.md, "PromQL expressions").
 *
 * The parser, the type checks, the printer and the evaluator all walk the syntax tree
 * recursively, and a flat chain `a + a + … + a` is as deep as it is long. Instead of walking it
 * with explicit stacks everywhere, queries whose tree could be deeper than MAX_EXPRESSION_DEPTH
 * are refused with a ParseError (HTTP 400, bad_data) after a single linear pass over the tokens.
 * Everything within the limit parses (lezer's guard against long left-associative chains is
 * lifted, see index.ts), checks and evaluates well within the default stack, also in a query
 * worker thread.
 */
import { ParseError } from "../errors.js";
import { byteOffsets, mapRange } from "./positions.js";
import { type Item, Tok } from "./tokens.js";

/**
 * The most operators (binary, unary, `offset`, `@`, `[…]` ranges and subqueries) plus twice the
 * levels of nested parentheses (groups, calls, aggregations) one expression may have: 1000
 * operators in a flat chain, or 500 nested calls. This bounds the depth of the syntax tree; a
 * level of calls costs the evaluator about twice the stack of a level of operators. Prometheus
 * has no such limit; real dashboards use a few dozen.
 */
export const MAX_EXPRESSION_DEPTH = 1000;
/** What one level of nested parentheses counts against MAX_EXPRESSION_DEPTH. */
export const PAREN_DEPTH_WEIGHT = 2;

const OPERATORS: ReadonlySet<string> = new Set<string>([
  Tok.ADD,
  Tok.SUB,
  Tok.MUL,
  Tok.DIV,
  Tok.MOD,
  Tok.POW,
  Tok.EQLC,
  Tok.NEQ,
  Tok.LTE,
  Tok.LSS,
  Tok.GTE,
  Tok.GTR,
  Tok.ATAN2,
  Tok.LAND,
  Tok.LOR,
  Tok.LUNLESS,
  Tok.AT,
  Tok.OFFSET,
  Tok.LEFT_BRACKET,
]);

/**
 * Throws a ParseError, located at the token that went over the limit, when the operators and
 * PAREN_DEPTH_WEIGHT times the deepest nesting of parentheses add up to more than `limit`. One
 * pass over the tokens, no allocation.
 */
export function checkExpressionSize(
  query: string,
  tokens: readonly Item[],
  limit = MAX_EXPRESSION_DEPTH,
): void {
  let operators = 0;
  let depth = 0;
  let maxDepth = 0;
  let inBraces = false;
  for (const tok of tokens) {
    switch (tok.type) {
      case Tok.LEFT_BRACE:
        inBraces = true;
        continue;
      case Tok.RIGHT_BRACE:
        inBraces = false;
        continue;
      case Tok.LEFT_PAREN:
        if (++depth > maxDepth) maxDepth = depth;
        break;
      case Tok.RIGHT_PAREN:
        if (depth > 0) depth--;
        continue;
      default:
        // `!=`, `=~`, … between braces are label matchers, not operators.
        if (inBraces || !OPERATORS.has(tok.type)) continue;
        operators++;
    }
    if (operators + PAREN_DEPTH_WEIGHT * maxDepth > limit) {
      const pos = { start: tok.pos, end: tok.pos + tok.val.length };
      const toBytes = byteOffsets(query);
      throw new ParseError(
        `expression too large: more than ${limit} operators and nested parentheses (each level of parentheses counts ${PAREN_DEPTH_WEIGHT}; the limit of this server)`,
        toBytes ? mapRange(pos, toBytes) : pos,
        query,
      );
    }
  }
}

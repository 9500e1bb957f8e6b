/**
 * Turns the first error node of the lezer tree into Prometheus's message. Prometheus (goyacc)
 * reports "unexpected <token>" plus, where its grammar has an `error` rule, a context and what it
 * expected ("unexpected identifier \"b\" in label matching, expected string"). The contexts
 * reproduced here are label matchers, grouping labels, `@` and trailing commas in calls; anything
 * else gets the plain "unexpected <token>" form, which is also what Prometheus says in most other
 * places (ranges and offsets are handled in durations.ts).
 */
import type { SyntaxNode, Tree } from "@lezer/common";
import * as T from "@prometheus-io/lezer-promql";
import { type PendingError, range } from "./errors.js";
import { describe, type Item, Tok } from "./tokens.js";

function firstErrorNode(tree: Tree): SyntaxNode | undefined {
  let found: SyntaxNode | undefined;
  tree.iterate({
    enter(ref) {
      if (found && ref.from >= found.from) return false;
      if (ref.type.isError) {
        found = ref.node;
        return false;
      }
      return undefined;
    },
  });
  return found;
}

function hasAncestor(node: SyntaxNode, id: number): boolean {
  for (let n: SyntaxNode | null = node.parent; n; n = n.parent) if (n.type.id === id) return true;
  return false;
}

const MATCH_OPS = new Set<Tok>([Tok.EQL, Tok.NEQ, Tok.EQL_REGEX, Tok.NEQ_REGEX]);
const GROUPING_KEYWORDS = new Set<Tok>([Tok.BY, Tok.WITHOUT, Tok.ON, Tok.IGNORING]);

/** Prometheus's `in <context>, expected <what>` for the parser state after `prev`. */
function context(node: SyntaxNode, prev: Item | undefined, prevPrev: Item | undefined): string {
  if (!prev) return "";
  if (hasAncestor(node, T.LabelMatchers)) {
    if (prev.type === Tok.LEFT_BRACE || prev.type === Tok.COMMA)
      return ' in label matching, expected identifier or "}"';
    if (prev.type === Tok.IDENTIFIER) return " in label matching, expected label matching operator";
    if (MATCH_OPS.has(prev.type)) return " in label matching, expected string";
    return ' in label matching, expected "," or "}"';
  }
  if (GROUPING_KEYWORDS.has(prev.type)) return ' in grouping opts, expected "("';
  if (hasAncestor(node, T.GroupingLabels)) {
    if (prev.type === Tok.LEFT_PAREN || prev.type === Tok.COMMA) return " in grouping opts, expected label";
    return ' in grouping opts, expected "," or ")"';
  }
  const preprocessor = prev.type === Tok.START || prev.type === Tok.END;
  if (prev.type === Tok.AT || (preprocessor && prevPrev?.type === Tok.AT)) return " in @, expected timestamp";
  return "";
}

/** The syntax error Prometheus would report first among those lezer found, if any. */
export function syntaxError(tree: Tree, tokens: readonly Item[]): PendingError | undefined {
  const node = firstErrorNode(tree);
  if (!node) return undefined;
  const idx = tokens.findIndex((t) => t.pos + t.val.length > node.from || t.type === Tok.EOF);
  const tok = tokens[idx === -1 ? tokens.length - 1 : idx]!;
  // Lexer errors are reported as such.
  if (tok.type === Tok.ERROR) return undefined;
  const prev = tokens[idx - 1];
  const pos = range(tok.pos, tok.pos + (tok.type === Tok.EOF ? 0 : tok.val.length));
  if (prev?.type === Tok.COMMA && tok.type === Tok.RIGHT_PAREN && hasAncestor(node, T.FunctionCallBody)) {
    const comma = range(prev.pos, prev.pos + 1);
    return { message: "trailing commas not allowed in function call args", pos: comma, at: tok.pos };
  }
  return { message: `unexpected ${describe(tok)}${context(node, prev, tokens[idx - 2])}`, pos, at: tok.pos };
}

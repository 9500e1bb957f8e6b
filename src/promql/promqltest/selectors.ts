/**
 * The series selectors a query contains, read with Prometheus's lezer grammar (error tolerant, so
 * this works even for syntax the project's parser may not accept yet). Used to decide which loaded
 * series a query can touch; it never evaluates anything.
 */
import type { SyntaxNode, Tree } from "@lezer/common";
import { parser } from "@prometheus-io/lezer-promql";
import { Matcher, MatchType, METRIC_NAME } from "../../storage/index.js";
import { readStringLiteral } from "./literals.js";

export interface SelectorInfo {
  /** The selector as written. */
  readonly text: string;
  readonly from: number;
  readonly to: number;
  /** Its matchers, the metric name included; null when one could not be built (e.g. a bad regex). */
  readonly matchers: readonly Matcher[] | null;
}

export function parseQueryTree(query: string): Tree {
  return parser.parse(query);
}

/** Whether lezer met a syntax error anywhere in the query. */
export function hasSyntaxError(tree: Tree): boolean {
  let found = false;
  tree.iterate({
    enter(n) {
      if (n.type.isError) found = true;
      return !found;
    },
  });
  return found;
}

export function childrenOf(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c !== null; c = c.nextSibling) out.push(c);
  return out;
}

function unquote(query: string, node: SyntaxNode): string {
  return readStringLiteral(query, node.from).value;
}

const MATCH_OPS: Record<string, MatchType> = {
  EqlSingle: MatchType.Equal,
  Neq: MatchType.NotEqual,
  EqlRegex: MatchType.Regexp,
  NeqRegex: MatchType.NotRegexp,
};

function matchersOf(query: string, vs: SyntaxNode): Matcher[] {
  const out: Matcher[] = [];
  for (const c of childrenOf(vs)) {
    if (c.name === "Identifier") out.push(Matcher.eq(METRIC_NAME, query.slice(c.from, c.to)));
    if (c.name !== "LabelMatchers") continue;
    for (const m of childrenOf(c)) {
      if (m.name === "QuotedLabelName") {
        const lit = m.getChild("StringLiteral");
        if (lit) out.push(Matcher.eq(METRIC_NAME, unquote(query, lit)));
        continue;
      }
      if (m.name !== "UnquotedLabelMatcher" && m.name !== "QuotedLabelMatcher") continue;
      const parts = childrenOf(m);
      const nameNode = parts.find((p) => p.name === "LabelName" || p.name === "QuotedLabelName");
      const opNode = parts.find((p) => p.name === "MatchOp");
      const valueNode = parts.filter((p) => p.name === "StringLiteral").at(-1);
      if (!nameNode || !opNode || !valueNode) throw new Error("incomplete matcher");
      const name =
        nameNode.name === "LabelName"
          ? query.slice(nameNode.from, nameNode.to)
          : unquote(query, nameNode.getChild("StringLiteral")!);
      const op = MATCH_OPS[opNode.firstChild?.name ?? ""];
      if (op === undefined) throw new Error("unknown match operator");
      out.push(new Matcher(op, name, unquote(query, valueNode)));
    }
  }
  return out;
}

/** Every vector selector in the query (those inside range selectors and subqueries too). */
export function extractSelectors(query: string, tree: Tree = parseQueryTree(query)): SelectorInfo[] {
  const out: SelectorInfo[] = [];
  tree.iterate({
    enter(ref) {
      if (ref.name !== "VectorSelector") return;
      const node = ref.node;
      let matchers: Matcher[] | null;
      try {
        matchers = matchersOf(query, node);
      } catch {
        matchers = null;
      }
      out.push({ text: query.slice(node.from, node.to), from: node.from, to: node.to, matchers });
      return false;
    },
  });
  return out;
}

/** Whether a selector's matchers all accept a label set (a missing label reads as ""). */
export function selectorMatches(matchers: readonly Matcher[], get: (name: string) => string): boolean {
  if (matchers.length === 0) return false;
  for (const m of matchers) if (!m.matches(get(m.name))) return false;
  return true;
}

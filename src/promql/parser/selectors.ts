/**
 * Vector selectors, label matchers, grouping labels and the `offset`/`@` modifiers, with the checks
 * Prometheus's grammar actions make while building them (parse.go's newLabelMatcher, addOffset,
 * setTimestamp, …).
 */
import type { SyntaxNode } from "@lezer/common";
import * as T from "@prometheus-io/lezer-promql";
import { InvalidMatcherError, Matcher, MatchType } from "../../storage/index.js";
import type { AtModifier, Expr, PosRange, VectorSelector } from "../ast.js";
import { type ConvertContext, children, nodeRange, reduceError, text } from "./context.js";
import type { DurationSlot } from "./durations.js";
import { range } from "./errors.js";
import { unquote } from "./gostr.js";
import { formatGoF } from "./numbers.js";

const MATCH_OPS: Record<number, MatchType> = {
  [T.EqlSingle]: MatchType.Equal,
  [T.Neq]: MatchType.NotEqual,
  [T.EqlRegex]: MatchType.Regexp,
  [T.NeqRegex]: MatchType.NotRegexp,
};

function newMatcher(
  ctx: ConvertContext,
  type: MatchType,
  name: string,
  value: string,
  pos: PosRange,
): Matcher | undefined {
  try {
    return new Matcher(type, name, value);
  } catch (err) {
    if (!(err instanceof InvalidMatcherError)) throw err;
    reduceError(ctx, err.message, pos);
    return undefined;
  }
}

function convertMatcher(ctx: ConvertContext, node: SyntaxNode): Matcher | undefined {
  if (node.type.id === T.QuotedLabelName) {
    // `{"my.metric"}`: a metric name inside the braces.
    return newMatcher(ctx, MatchType.Equal, "__name__", unquote(text(ctx, node)), nodeRange(node));
  }
  const [label, op, value] = children(node) as [SyntaxNode, SyntaxNode, SyntaxNode];
  const name = label.type.id === T.QuotedLabelName ? unquote(text(ctx, label)) : text(ctx, label);
  const type = MATCH_OPS[op.firstChild!.type.id]!;
  return newMatcher(ctx, type, name, unquote(text(ctx, value)), range(label.from, value.to));
}

export function convertVectorSelector(ctx: ConvertContext, node: SyntaxNode): VectorSelector {
  let name = "";
  const matchers: Matcher[] = [];
  for (const child of children(node)) {
    if (child.type.id === T.Identifier) {
      name = text(ctx, child);
    } else {
      for (const m of children(child)) {
        const matcher = convertMatcher(ctx, m);
        if (matcher) matchers.push(matcher);
      }
    }
  }
  // As Prometheus's assembleVectorSelector: the name given before the braces becomes the last matcher.
  if (name !== "") matchers.push(Matcher.eq("__name__", name));
  return { type: "VectorSelector", name, matchers, offset: 0, pos: nodeRange(node) };
}

/** The labels of `by (…)`, `on (…)`, …; quoted names must be valid UTF-8 label names. */
export function convertGrouping(ctx: ConvertContext, node: SyntaxNode): string[] {
  return children(node).map((label) => {
    if (label.type.id !== T.QuotedLabelName) return text(ctx, label);
    const name = unquote(text(ctx, label));
    if (name === "") reduceError(ctx, `invalid label name for grouping: ""`, nodeRange(label));
    return name;
  });
}

type Modifiable = { offset: number; offsetExpr?: DurationSlot["expr"]; at?: AtModifier };

/**
 * The node an `offset` or `@` applies to: a vector selector (also inside a matrix selector) or a
 * subquery. `update` returns the changed node with its end moved to the end of the modifier.
 */
function modify(
  ctx: ConvertContext,
  e: Expr,
  modifierEnd: number,
  what: string,
  update: (target: Modifiable) => Partial<Modifiable> | undefined,
): Expr {
  const extend = (pos: PosRange) => range(pos.start, modifierEnd);
  switch (e.type) {
    case "VectorSelector": {
      const changes = update(e);
      return changes ? { ...e, ...changes, pos: extend(e.pos) } : e;
    }
    case "MatrixSelector": {
      const changes = update(e.vectorSelector);
      return changes ? { ...e, vectorSelector: { ...e.vectorSelector, ...changes }, pos: extend(e.pos) } : e;
    }
    case "SubqueryExpr": {
      const changes = update(e);
      return changes ? { ...e, ...changes, pos: extend(e.pos) } : e;
    }
    default:
      reduceError(
        ctx,
        `${what} modifier must be preceded by an instant vector selector or range vector selector or a subquery`,
        e.pos,
        modifierEnd,
      );
      return e;
  }
}

export function applyOffset(ctx: ConvertContext, e: Expr, slot: DurationSlot): Expr {
  return modify(ctx, e, slot.pos.end, "offset", (target) => {
    if (target.offset !== 0 || target.offsetExpr) {
      reduceError(ctx, "offset may not be set multiple times", e.pos, slot.pos.end);
      return undefined;
    }
    return slot.expr ? { offset: slot.ms, offsetExpr: slot.expr } : { offset: slot.ms };
  });
}

/** Go's math.Round: halves away from zero. */
const goRound = (x: number) => Math.sign(x) * Math.round(Math.abs(x)) + 0;

export function applyAt(ctx: ConvertContext, e: Expr, at: AtModifier | number, modifierEnd: number): Expr {
  let modifier: AtModifier;
  if (typeof at === "number") {
    if (!Number.isFinite(at) || at >= 2 ** 63 || at <= -(2 ** 63)) {
      reduceError(ctx, `timestamp out of bounds for @ modifier: ${formatGoF(at)}`, e.pos, modifierEnd);
    }
    modifier = { kind: "time", ms: goRound(at * 1000) };
  } else {
    modifier = at;
  }
  return modify(ctx, e, modifierEnd, "@", (target) => {
    if (target.at) {
      reduceError(ctx, "@ <timestamp> may not be set multiple times", e.pos, modifierEnd);
      return undefined;
    }
    return { at: modifier };
  });
}

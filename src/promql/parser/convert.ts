/**
 * Converts lezer-promql's syntax tree into our AST, once, applying the checks Prometheus's grammar
 * actions make while reducing (function names, aggregation arguments, ranges and modifiers). Type
 * checks that need the whole tree are in check.ts.
 */
import type { SyntaxNode } from "@lezer/common";
import * as T from "@prometheus-io/lezer-promql";
import type {
  AggregateExpr,
  AggregateOp,
  BinaryOp,
  Cardinality,
  Expr,
  NumberLiteral,
  VectorMatching,
} from "../ast.js";
import { parseDuration } from "../duration.js";
import { FUNCTIONS } from "../functions.js";
import { BrokenTree, type ConvertContext, children, nodeRange, reduceError, text } from "./context.js";
import type { DurationSlot } from "./durations.js";
import { range } from "./errors.js";
import { unquote } from "./gostr.js";
import { parseNumber } from "./numbers.js";
import { applyAt, applyOffset, convertGrouping, convertVectorSelector } from "./selectors.js";
import { Tok } from "./tokens.js";

const BINARY_OPS: Record<number, BinaryOp> = {
  [T.Pow]: "^",
  [T.Mul]: "*",
  [T.Div]: "/",
  [T.Mod]: "%",
  [T.Atan2]: "atan2",
  [T.Add]: "+",
  [T.Sub]: "-",
  [T.Eql]: "==",
  [T.Neq]: "!=",
  [T.Gtr]: ">",
  [T.Lss]: "<",
  [T.Gte]: ">=",
  [T.Lte]: "<=",
  [T.And]: "and",
  [T.Or]: "or",
  [T.Unless]: "unless",
};

const PARAM_AGGREGATIONS = new Set<AggregateOp>([
  "topk",
  "bottomk",
  "count_values",
  "quantile",
  "limitk",
  "limit_ratio",
]);

/** A number literal, possibly signed (`-5m`); durations are in seconds. */
function convertNumber(ctx: ConvertContext, node: SyntaxNode): NumberLiteral {
  const raw = text(ctx, node);
  const sign = raw[0] === "-" || raw[0] === "+" ? raw[0] : "";
  const start =
    node.from + sign.length + (raw.length - sign.length - raw.slice(sign.length).trimStart().length);
  // The text lezer saw may be a placeholder; the token has the number as written.
  const token = ctx.tokens.get(start);
  if (!token) throw new BrokenTree();
  const pos = range(start, start + token.val.length);
  let val: number;
  let duration = false;
  if (token.type === Tok.DURATION) {
    const d = parseDuration(token.val);
    if (d.error) reduceError(ctx, d.error, pos);
    val = d.ms / 1000;
    duration = true;
  } else {
    const n = parseNumber(token.val);
    if (n.error) reduceError(ctx, n.error, pos);
    val = n.value;
  }
  // Prometheus folds a sign into the literal, which then starts at the sign.
  if (sign === "-") val = -val;
  const lit: NumberLiteral = { type: "NumberLiteral", val, pos: range(node.from, pos.end) };
  return duration ? { ...lit, duration } : lit;
}

function slotAt(ctx: ConvertContext, node: SyntaxNode): DurationSlot {
  const slot = ctx.slots.get(node.from);
  if (!slot) throw new BrokenTree();
  return slot;
}

function convertBinary(ctx: ConvertContext, node: SyntaxNode): Expr {
  const parts = children(node);
  const lhsNode = parts[0]!;
  const rhsNode = parts.at(-1)!;
  const op = BINARY_OPS[parts[1]!.type.id]!;
  let returnBool = false;
  let matching: VectorMatching = { card: "one-to-one", matchingLabels: [], on: false, include: [] };
  for (const part of parts.slice(2, -1)) {
    if (part.type.id === T.BoolModifier) returnBool = true;
    else matching = convertMatching(ctx, part);
  }
  // lezer reads `-1 ^ 2` as (-1) ^ 2; in PromQL unary minus binds looser than `^`: -(1 ^ 2).
  const lhsText = text(ctx, lhsNode);
  if (
    op === "^" &&
    lhsNode.type.id === T.NumberDurationLiteral &&
    (lhsText[0] === "-" || lhsText[0] === "+")
  ) {
    const folded = convertNumber(ctx, lhsNode);
    const literal: NumberLiteral = {
      ...folded,
      val: lhsText[0] === "-" ? -folded.val : folded.val,
      pos: range(
        lhsNode.from + 1 + (lhsText.length - 1 - lhsText.slice(1).trimStart().length),
        folded.pos.end,
      ),
    };
    const rhs = convertExpr(ctx, rhsNode);
    const pow = binary(op, literal, rhs, returnBool, matching);
    return {
      type: "UnaryExpr",
      op: lhsText[0] as "-" | "+",
      expr: pow,
      pos: range(lhsNode.from, pow.pos.end),
    };
  }
  return binary(op, convertExpr(ctx, lhsNode), convertExpr(ctx, rhsNode), returnBool, matching);
}

const PRECEDENCE: Record<BinaryOp, number> = {
  or: 1,
  and: 2,
  unless: 2,
  "==": 3,
  "!=": 3,
  ">": 3,
  "<": 3,
  ">=": 3,
  "<=": 3,
  "+": 4,
  "-": 4,
  "*": 5,
  "/": 5,
  "%": 5,
  atan2: 5,
  "^": 6,
};

/**
 * Builds `lhs op rhs`. After a postfix modifier was moved down (see sink), lezer's left operand
 * can be an operation that binds looser than `op` (`a or b @ 1 and c` comes as `(a or b@1) and c`);
 * such trees are rotated into Prometheus's shape (`a or (b@1 and c)`).
 */
function binary(op: BinaryOp, lhs: Expr, rhs: Expr, returnBool: boolean, matching: VectorMatching): Expr {
  if (lhs.type === "BinaryExpr") {
    const inner = PRECEDENCE[lhs.op];
    const outer = PRECEDENCE[op];
    if (inner < outer || (inner === outer && op === "^")) {
      const right = binary(op, lhs.rhs, rhs, returnBool, matching);
      return { ...lhs, rhs: right, pos: range(lhs.pos.start, right.pos.end) };
    }
  }
  if (lhs.type === "UnaryExpr" && op === "^") {
    const expr = binary(op, lhs.expr, rhs, returnBool, matching);
    return { ...lhs, expr, pos: range(lhs.pos.start, expr.pos.end) };
  }
  // `matching` is complete here; check.ts drops it unless both sides are instant vectors.
  return { type: "BinaryExpr", op, lhs, rhs, matching, returnBool, pos: range(lhs.pos.start, rhs.pos.end) };
}

function convertMatching(ctx: ConvertContext, node: SyntaxNode): VectorMatching {
  const parts = children(node);
  let card: Cardinality = "one-to-one";
  let include: string[] = [];
  const groupSide = parts[2]?.type.id;
  if (groupSide === T.GroupLeft) card = "many-to-one";
  if (groupSide === T.GroupRight) card = "one-to-many";
  if (parts[3]) include = convertGrouping(ctx, parts[3]);
  return { card, matchingLabels: convertGrouping(ctx, parts[1]!), on: parts[0]!.type.id === T.On, include };
}

function convertCall(ctx: ConvertContext, node: SyntaxNode): Expr {
  const [ident, body] = children(node) as [SyntaxNode, SyntaxNode];
  // Unknown names were masked as a known function; the token keeps the name as written.
  const name = ctx.tokens.get(ident.from)?.val ?? text(ctx, ident);
  const identPos = range(ident.from, ident.from + name.length);
  const args = children(body).map((arg) => convertExpr(ctx, arg));
  const func = FUNCTIONS.get(name);
  const pos = nodeRange(node);
  if (!func) {
    reduceError(ctx, `unknown function with name "${name}"`, identPos, pos.end);
    return { type: "Call", func: { name, argTypes: [], variadic: 0, returnType: "none" }, args, pos };
  }
  if (func.experimental && !ctx.experimentalFunctions) {
    reduceError(ctx, `function "${name}" is not enabled`, identPos, pos.end);
  }
  return { type: "Call", func, args, pos };
}

function convertAggregate(ctx: ConvertContext, node: SyntaxNode): Expr {
  const pos = nodeRange(node);
  let op: AggregateOp = "sum";
  let grouping: string[] = [];
  let without = false;
  let groupingGiven = false;
  let args: Expr[] = [];
  for (const part of children(node)) {
    if (part.type.id === T.AggregateOp) {
      op = text(ctx, part).toLowerCase() as AggregateOp;
    } else if (part.type.id === T.AggregateModifier) {
      const [kind, labels] = children(part) as [SyntaxNode, SyntaxNode];
      without = kind.type.id === T.Without;
      grouping = convertGrouping(ctx, labels);
      groupingGiven = true;
    } else {
      args = children(part).map((arg) => convertExpr(ctx, arg));
    }
  }
  const agg: AggregateExpr = { type: "AggregateExpr", op, expr: args.at(-1)!, grouping, without, pos };
  const result = groupingGiven ? { ...agg, groupingGiven } : agg;
  if (args.length === 0) {
    reduceError(ctx, "no arguments for aggregate expression provided", pos);
    return result;
  }
  let desired = 1;
  if (PARAM_AGGREGATIONS.has(op)) {
    if (!ctx.experimentalFunctions && (op === "limitk" || op === "limit_ratio")) {
      const msg = `${op}() is experimental and must be enabled with --enable-feature=promql-experimental-functions`;
      reduceError(ctx, msg, pos);
      return result;
    }
    desired = 2;
  }
  if (args.length !== desired) {
    const msg = `wrong number of arguments for aggregate expression provided, expected ${desired}, got ${args.length}`;
    reduceError(ctx, msg, pos);
    return result;
  }
  return desired === 2 ? { ...result, param: args[0] } : result;
}

/**
 * lezer-promql applies `[…]`, `offset` and `@` to everything on their left (`a + b[5m]` as
 * `(a + b)[5m]`); in Prometheus they bind tighter than any operator: `a + (b[5m])`, `-(a @ 1)`.
 * This moves the modifier down to the rightmost operand.
 */
function sink(e: Expr, apply: (primary: Expr) => Expr): Expr {
  if (e.type === "BinaryExpr") {
    const rhs = sink(e.rhs, apply);
    return { ...e, rhs, pos: range(e.pos.start, rhs.pos.end) };
  }
  if (e.type === "UnaryExpr") {
    const expr = sink(e.expr, apply);
    return { ...e, expr, pos: range(e.pos.start, expr.pos.end) };
  }
  return apply(e);
}

function convertMatrix(ctx: ConvertContext, node: SyntaxNode): Expr {
  const [inner, duration] = children(node) as [SyntaxNode, SyntaxNode];
  const slot = slotAt(ctx, duration);
  return sink(convertExpr(ctx, inner), (vs) => {
    let message = "";
    if (vs.type !== "VectorSelector") message = "ranges only allowed for vector selectors";
    else if (vs.offset !== 0 || vs.offsetExpr) message = "no offset modifiers allowed before range";
    else if (vs.at) message = "no @ modifiers allowed before range";
    if (message !== "" || vs.type !== "VectorSelector") {
      reduceError(ctx, message, range(ctx.query.lastIndexOf("[", slot.pos.start), node.to));
      return vs;
    }
    const m = {
      type: "MatrixSelector" as const,
      vectorSelector: vs,
      range: slot.ms,
      pos: range(vs.pos.start, node.to),
    };
    return slot.expr ? { ...m, rangeExpr: slot.expr } : m;
  });
}

function convertSubquery(ctx: ConvertContext, node: SyntaxNode): Expr {
  const [inner, rangeNode, stepNode] = children(node) as [SyntaxNode, SyntaxNode, SyntaxNode | undefined];
  const r = slotAt(ctx, rangeNode);
  const s = stepNode ? slotAt(ctx, stepNode) : undefined;
  return sink(convertExpr(ctx, inner), (expr) => ({
    type: "SubqueryExpr",
    expr,
    range: r.ms,
    ...(r.expr ? { rangeExpr: r.expr } : {}),
    step: s?.ms ?? 0,
    ...(s?.expr ? { stepExpr: s.expr } : {}),
    offset: 0,
    pos: range(expr.pos.start, node.to),
  }));
}

function convertAt(ctx: ConvertContext, node: SyntaxNode): Expr {
  const parts = children(node);
  const e = convertExpr(ctx, parts[0]!);
  const target = parts[2]!;
  if (target.type.id === T.AtModifierPreprocessors) {
    const kind = target.firstChild!.type.id === T.Start ? "start" : "end";
    return sink(e, (primary) => applyAt(ctx, primary, { kind }, node.to));
  }
  const ts = convertNumber(ctx, target);
  return sink(e, (primary) => applyAt(ctx, primary, ts.val, ts.pos.end));
}

function convertUnary(ctx: ConvertContext, node: SyntaxNode): Expr {
  const [opNode, operand] = children(node) as [SyntaxNode, SyntaxNode];
  const op = text(ctx, opNode) as "-" | "+";
  const expr = convertExpr(ctx, operand);
  if (expr.type === "NumberLiteral") {
    return { ...expr, val: op === "-" ? -expr.val : expr.val, pos: range(node.from, expr.pos.end) };
  }
  return { type: "UnaryExpr", op, expr, pos: range(node.from, expr.pos.end) };
}

export function convertExpr(ctx: ConvertContext, node: SyntaxNode): Expr {
  switch (node.type.id) {
    case T.NumberDurationLiteral:
      return convertNumber(ctx, node);
    case T.StringLiteral:
      return { type: "StringLiteral", val: unquote(text(ctx, node)), pos: nodeRange(node) };
    case T.VectorSelector:
      return convertVectorSelector(ctx, node);
    case T.MatrixSelector:
      return convertMatrix(ctx, node);
    case T.SubqueryExpr:
      return convertSubquery(ctx, node);
    case T.OffsetExpr: {
      const parts = children(node);
      const slot = slotAt(ctx, parts[2]!);
      return sink(convertExpr(ctx, parts[0]!), (primary) => applyOffset(ctx, primary, slot));
    }
    case T.StepInvariantExpr:
      return convertAt(ctx, node);
    case T.ParenExpr:
      return { type: "ParenExpr", expr: convertExpr(ctx, children(node)[0]!), pos: nodeRange(node) };
    case T.UnaryExpr:
      return convertUnary(ctx, node);
    case T.BinaryExpr:
      return convertBinary(ctx, node);
    case T.FunctionCall:
      return convertCall(ctx, node);
    case T.AggregateExpr:
      return convertAggregate(ctx, node);
    default:
      throw new BrokenTree();
  }
}

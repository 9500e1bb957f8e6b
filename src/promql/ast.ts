/**
 * The PromQL syntax tree, after Prometheus's promql/parser/ast.go: a discriminated union on
 * `type`, every node with its byte range in the query text. Durations are held in milliseconds,
 * already evaluated; where the query spelled them as an expression (Prometheus 3.5's experimental
 * duration expressions, e.g. `[26m+4m]`), the expression is kept beside the value for printing.
 */
import type { Matcher } from "../storage/index.js";
import type { FunctionDef } from "./functions.js";

export interface PosRange {
  /** Byte offset of the first character. */
  readonly start: number;
  /** Byte offset after the last character. */
  readonly end: number;
}

export type ValueType = "none" | "scalar" | "vector" | "matrix" | "string";

export type Expr =
  | NumberLiteral
  | StringLiteral
  | VectorSelector
  | MatrixSelector
  | SubqueryExpr
  | Call
  | AggregateExpr
  | BinaryExpr
  | UnaryExpr
  | ParenExpr;

export interface NumberLiteral {
  readonly type: "NumberLiteral";
  readonly val: number;
  /** Written as a duration (`5m`) rather than a number; the value is then in seconds. */
  readonly duration?: boolean;
  readonly pos: PosRange;
}

export interface StringLiteral {
  readonly type: "StringLiteral";
  readonly val: string;
  readonly pos: PosRange;
}

/** Arithmetic on durations and numbers, evaluated at parse time (values in seconds). */
export type DurationExpr =
  | {
      readonly type: "DurationLiteral";
      readonly seconds: number;
      readonly text: string;
      readonly pos: PosRange;
    }
  | {
      readonly type: "DurationBinary";
      readonly op: "+" | "-" | "*" | "/" | "%" | "^";
      readonly lhs: DurationExpr;
      readonly rhs: DurationExpr;
      readonly pos: PosRange;
    }
  | {
      readonly type: "DurationUnary";
      readonly op: "+" | "-";
      readonly expr: DurationExpr;
      readonly pos: PosRange;
    }
  | { readonly type: "DurationParen"; readonly expr: DurationExpr; readonly pos: PosRange };

/** `@` modifier: a fixed time, or the query's start or end. */
export type AtModifier =
  | { readonly kind: "time"; readonly ms: number }
  | { readonly kind: "start" }
  | { readonly kind: "end" };

export interface VectorSelector {
  readonly type: "VectorSelector";
  /** The metric name when given before the braces (or as a `__name__` equality), else "". */
  readonly name: string;
  /** All matchers, including the one on `__name__` built from `name`. */
  readonly matchers: readonly Matcher[];
  /** `offset` in ms (negative allowed); 0 when absent. */
  readonly offset: number;
  readonly offsetExpr?: DurationExpr;
  readonly at?: AtModifier;
  readonly pos: PosRange;
}

export interface MatrixSelector {
  readonly type: "MatrixSelector";
  readonly vectorSelector: VectorSelector;
  /** Range in ms. */
  readonly range: number;
  readonly rangeExpr?: DurationExpr;
  readonly pos: PosRange;
}

export interface SubqueryExpr {
  readonly type: "SubqueryExpr";
  readonly expr: Expr;
  /** Range in ms. */
  readonly range: number;
  readonly rangeExpr?: DurationExpr;
  /** Resolution in ms; 0 when omitted (`[5m:]`), meaning the engine's default step. */
  readonly step: number;
  readonly stepExpr?: DurationExpr;
  readonly offset: number;
  readonly offsetExpr?: DurationExpr;
  readonly at?: AtModifier;
  readonly pos: PosRange;
}

export interface Call {
  readonly type: "Call";
  readonly func: FunctionDef;
  readonly args: readonly Expr[];
  readonly pos: PosRange;
}

export type AggregateOp =
  | "sum"
  | "avg"
  | "count"
  | "min"
  | "max"
  | "group"
  | "stddev"
  | "stdvar"
  | "topk"
  | "bottomk"
  | "count_values"
  | "quantile"
  | "limitk"
  | "limit_ratio";

export interface AggregateExpr {
  readonly type: "AggregateExpr";
  readonly op: AggregateOp;
  readonly expr: Expr;
  /** The parameter of topk, bottomk, quantile, count_values, limitk, limit_ratio. */
  readonly param?: Expr;
  /** Labels of `by (…)` or `without (…)`, in the order written. */
  readonly grouping: readonly string[];
  readonly without: boolean;
  /** `by ()` written explicitly (prints differently from no clause). */
  readonly groupingGiven?: boolean;
  readonly pos: PosRange;
}

export type ArithmeticOp = "+" | "-" | "*" | "/" | "%" | "^" | "atan2";
export type ComparisonOp = "==" | "!=" | ">" | "<" | ">=" | "<=";
export type SetOp = "and" | "or" | "unless";
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp;

export type Cardinality = "one-to-one" | "many-to-one" | "one-to-many" | "many-to-many";

export interface VectorMatching {
  readonly card: Cardinality;
  /** Labels of `on (…)` or `ignoring (…)`. */
  readonly matchingLabels: readonly string[];
  /** True for `on`, false for `ignoring` (or no clause). */
  readonly on: boolean;
  /** Labels of `group_left (…)` / `group_right (…)`. */
  readonly include: readonly string[];
}

export interface BinaryExpr {
  readonly type: "BinaryExpr";
  readonly op: BinaryOp;
  readonly lhs: Expr;
  readonly rhs: Expr;
  /** Present when both sides are instant vectors. */
  readonly matching?: VectorMatching;
  /** `bool` modifier on a comparison. */
  readonly returnBool: boolean;
  readonly pos: PosRange;
}

export interface UnaryExpr {
  readonly type: "UnaryExpr";
  readonly op: "+" | "-";
  readonly expr: Expr;
  readonly pos: PosRange;
}

export interface ParenExpr {
  readonly type: "ParenExpr";
  readonly expr: Expr;
  readonly pos: PosRange;
}

export function assertNever(x: never): never {
  throw new Error(`unexpected node ${JSON.stringify(x)}`);
}

/** The type of value an expression evaluates to (Prometheus's Expr.Type()). */
export function exprType(e: Expr): ValueType {
  switch (e.type) {
    case "NumberLiteral":
      return "scalar";
    case "StringLiteral":
      return "string";
    case "VectorSelector":
      return "vector";
    case "MatrixSelector":
    case "SubqueryExpr":
      return "matrix";
    case "Call":
      return e.func.returnType;
    case "AggregateExpr":
      return "vector";
    case "BinaryExpr":
      return exprType(e.lhs) === "scalar" && exprType(e.rhs) === "scalar" ? "scalar" : "vector";
    case "UnaryExpr":
    case "ParenExpr":
      return exprType(e.expr);
    default:
      return assertNever(e);
  }
}

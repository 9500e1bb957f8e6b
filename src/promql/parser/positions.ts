/**
 * The parser works on UTF-16 indices (JavaScript strings, lezer); Prometheus reports byte offsets
 * into the UTF-8 query. This moves every position of a finished tree or error to bytes.
 */
import type { DurationExpr, Expr, PosRange } from "../ast.js";

/** A UTF-16 index to UTF-8 byte offset map, or undefined when the two agree (ASCII queries). */
export function byteOffsets(query: string): ((i: number) => number) | undefined {
  let ascii = true;
  for (let i = 0; i < query.length && ascii; i++) ascii = query.charCodeAt(i) < 0x80;
  if (ascii) return undefined;
  const offsets = new Uint32Array(query.length + 1);
  let bytes = 0;
  for (let i = 0; i < query.length; i++) {
    offsets[i] = bytes;
    const c = query.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    // A surrogate pair is 4 bytes in UTF-8: 2 for each half.
    else if (c >= 0xd800 && c < 0xdc00) bytes += 2;
    else if (c >= 0xdc00 && c < 0xe000) bytes += 2;
    else bytes += 3;
  }
  offsets[query.length] = bytes;
  return (i) => offsets[i]!;
}

export function mapRange(pos: PosRange, f: (i: number) => number): PosRange {
  return { start: f(pos.start), end: f(pos.end) };
}

function mapDuration(e: DurationExpr, f: (i: number) => number): DurationExpr {
  const pos = mapRange(e.pos, f);
  switch (e.type) {
    case "DurationLiteral":
      return { ...e, pos };
    case "DurationBinary":
      return { ...e, lhs: mapDuration(e.lhs, f), rhs: mapDuration(e.rhs, f), pos };
    case "DurationUnary":
    case "DurationParen":
      return { ...e, expr: mapDuration(e.expr, f), pos };
  }
}

const mapOptional = (e: DurationExpr | undefined, f: (i: number) => number) =>
  e ? mapDuration(e, f) : undefined;

/** The same tree with every position (durations included) passed through `f`. */
export function mapPositions(e: Expr, f: (i: number) => number): Expr {
  const pos = mapRange(e.pos, f);
  switch (e.type) {
    case "NumberLiteral":
    case "StringLiteral":
      return { ...e, pos };
    case "VectorSelector":
      return e.offsetExpr ? { ...e, offsetExpr: mapDuration(e.offsetExpr, f), pos } : { ...e, pos };
    case "MatrixSelector": {
      const vectorSelector = mapPositions(e.vectorSelector, f) as typeof e.vectorSelector;
      return e.rangeExpr
        ? { ...e, vectorSelector, rangeExpr: mapDuration(e.rangeExpr, f), pos }
        : { ...e, vectorSelector, pos };
    }
    case "SubqueryExpr": {
      const out = { ...e, expr: mapPositions(e.expr, f), pos };
      const rangeExpr = mapOptional(e.rangeExpr, f);
      const stepExpr = mapOptional(e.stepExpr, f);
      const offsetExpr = mapOptional(e.offsetExpr, f);
      return {
        ...out,
        ...(rangeExpr ? { rangeExpr } : {}),
        ...(stepExpr ? { stepExpr } : {}),
        ...(offsetExpr ? { offsetExpr } : {}),
      };
    }
    case "Call":
      return { ...e, args: e.args.map((a) => mapPositions(a, f)), pos };
    case "AggregateExpr":
      return e.param
        ? { ...e, expr: mapPositions(e.expr, f), param: mapPositions(e.param, f), pos }
        : { ...e, expr: mapPositions(e.expr, f), pos };
    case "BinaryExpr":
      return { ...e, lhs: mapPositions(e.lhs, f), rhs: mapPositions(e.rhs, f), pos };
    case "UnaryExpr":
    case "ParenExpr":
      return { ...e, expr: mapPositions(e.expr, f), pos };
  }
}

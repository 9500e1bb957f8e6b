/**
 * Parser tests as data, transcribed from Prometheus's promql/parser/parse_test.go (3.5 cases):
 * queries with the expected AST (positions included, as byte offsets) and queries with the expected
 * first error (message and position). Cases that differ from Prometheus on purpose say why.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parser as lezer } from "@prometheus-io/lezer-promql";
import type {
  AggregateExpr,
  AggregateOp,
  AtModifier,
  BinaryExpr,
  BinaryOp,
  Cardinality,
  DurationExpr,
  Expr,
  MatrixSelector,
  NumberLiteral,
  PosRange,
  SubqueryExpr,
  VectorSelector,
} from "../../src/promql/ast.ts";
import { ParseError } from "../../src/promql/errors.ts";
import { FUNCTIONS } from "../../src/promql/functions.ts";
import { type ParseOptions, parseExpr } from "../../src/promql/parser/index.ts";
import { Matcher, MatchType } from "../../src/storage/index.ts";

// Builders for expected trees; positions are [start, end) byte offsets.
const p = (start: number, end: number): PosRange => ({ start, end });
const num = (val: number, start: number, end: number): NumberLiteral => ({
  type: "NumberLiteral",
  val,
  pos: p(start, end),
});
const dur = (seconds: number, start: number, end: number): NumberLiteral => ({
  ...num(seconds, start, end),
  duration: true,
});
const str = (val: string, start: number, end: number): Expr => ({
  type: "StringLiteral",
  val,
  pos: p(start, end),
});
const eq = (n: string, v: string) => new Matcher(MatchType.Equal, n, v);
const neq = (n: string, v: string) => new Matcher(MatchType.NotEqual, n, v);
const re = (n: string, v: string) => new Matcher(MatchType.Regexp, n, v);
const nre = (n: string, v: string) => new Matcher(MatchType.NotRegexp, n, v);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

function vs(
  name: string,
  start: number,
  end: number,
  matchers: Matcher[] = [],
  mods: { offset?: number; offsetExpr?: DurationExpr; at?: AtModifier } = {},
): VectorSelector {
  return {
    type: "VectorSelector",
    name,
    matchers: name ? [...matchers, eq("__name__", name)] : matchers,
    offset: 0,
    ...mods,
    pos: p(start, end),
  };
}
const at = (ms: number): AtModifier => ({ kind: "time", ms });
const START: AtModifier = { kind: "start" };
const END: AtModifier = { kind: "end" };

const ms = (v: VectorSelector, range: number, end: number, rangeExpr?: DurationExpr): MatrixSelector => ({
  type: "MatrixSelector",
  vectorSelector: v,
  range,
  ...(rangeExpr ? { rangeExpr } : {}),
  pos: p(v.pos.start, end),
});

function sq(
  expr: Expr,
  range: number,
  step: number,
  end: number,
  mods: Partial<Pick<SubqueryExpr, "offset" | "offsetExpr" | "at" | "rangeExpr" | "stepExpr">> = {},
): SubqueryExpr {
  return { type: "SubqueryExpr", expr, range, step, offset: 0, ...mods, pos: p(expr.pos.start, end) };
}

const vm = (card: Cardinality, matchingLabels: string[] = [], on = false, include: string[] = []) => ({
  card,
  matchingLabels,
  on,
  include,
});
const ONE = vm("one-to-one");
const MANY = vm("many-to-many");

function bin(
  op: BinaryOp,
  lhs: Expr,
  rhs: Expr,
  matching?: BinaryExpr["matching"],
  returnBool = false,
): BinaryExpr {
  return {
    type: "BinaryExpr",
    op,
    lhs,
    rhs,
    ...(matching ? { matching } : {}),
    returnBool,
    pos: p(lhs.pos.start, rhs.pos.end),
  };
}
const boolBin = (op: BinaryOp, lhs: Expr, rhs: Expr) => bin(op, lhs, rhs, undefined, true);
const unary = (op: "-" | "+", expr: Expr, start: number): Expr => ({
  type: "UnaryExpr",
  op,
  expr,
  pos: p(start, expr.pos.end),
});
const paren = (expr: Expr, start: number, end: number): Expr => ({
  type: "ParenExpr",
  expr,
  pos: p(start, end),
});
const call = (name: string, args: Expr[], start: number, end: number): Expr => ({
  type: "Call",
  func: FUNCTIONS.get(name)!,
  args,
  pos: p(start, end),
});

function agg(
  op: AggregateOp,
  expr: Expr,
  start: number,
  end: number,
  opts: { by?: string[]; without?: string[]; param?: Expr } = {},
): AggregateExpr {
  const clause = opts.by ?? opts.without;
  return {
    type: "AggregateExpr",
    op,
    expr,
    ...(opts.param ? { param: opts.param } : {}),
    grouping: clause ?? [],
    without: opts.without !== undefined,
    ...(clause ? { groupingGiven: true } : {}),
    pos: p(start, end),
  };
}

// Duration expressions.
const dlit = (seconds: number, text: string, start: number, end: number): DurationExpr => ({
  type: "DurationLiteral",
  seconds,
  text,
  pos: p(start, end),
});
const dbin = (op: "+" | "-" | "*" | "/" | "%" | "^", lhs: DurationExpr, rhs: DurationExpr): DurationExpr => ({
  type: "DurationBinary",
  op,
  lhs,
  rhs,
  pos: p(lhs.pos.start, rhs.pos.end),
});
const dneg = (expr: DurationExpr, start: number): DurationExpr => ({
  type: "DurationUnary",
  op: "-",
  expr,
  pos: p(start, expr.pos.end),
});
const dparen = (expr: DurationExpr, start: number, end: number): DurationExpr => ({
  type: "DurationParen",
  expr,
  pos: p(start, end),
});

/** Matchers compare by their text, functions by name; everything else structurally. */
function normalize(x: unknown): unknown {
  if (x instanceof Matcher) return `${x.name}${x.type}${JSON.stringify(x.value)}`;
  if (Array.isArray(x)) return x.map(normalize);
  if (x && typeof x === "object") {
    return Object.fromEntries(
      Object.entries(x).map(([k, v]) => [k, k === "func" ? (v as { name: string }).name : normalize(v)]),
    );
  }
  return x;
}

interface ValidCase {
  readonly input: string;
  readonly expected: Expr;
}

const some = (start: number, end: number) => vs("some_metric", start, end);
const foo = (start: number, end: number, matchers: Matcher[] = []) => vs("foo", start, end, matchers);
const bar = (start: number, end: number) => vs("bar", start, end);

const scalars: ValidCase[] = [
  { input: "1", expected: num(1, 0, 1) },
  { input: "+Inf", expected: num(Infinity, 0, 4) },
  { input: "-Inf", expected: num(-Infinity, 0, 4) },
  { input: ".5", expected: num(0.5, 0, 2) },
  { input: "5.", expected: num(5, 0, 2) },
  { input: "123.4567", expected: num(123.4567, 0, 8) },
  { input: "5e-3", expected: num(0.005, 0, 4) },
  { input: "5e3", expected: num(5000, 0, 3) },
  { input: "0xc", expected: num(12, 0, 3) },
  { input: "0755", expected: num(493, 0, 4) },
  { input: "+5.5e-3", expected: num(0.0055, 0, 7) },
  { input: "-0755", expected: num(-493, 0, 5) },
  { input: "1_000", expected: num(1000, 0, 5) },
  { input: "inf", expected: num(Infinity, 0, 3) },
  { input: "1h", expected: dur(3600, 0, 2) },
  { input: "-5m", expected: dur(-300, 0, 3) },
  { input: "1 + 1", expected: bin("+", num(1, 0, 1), num(1, 4, 5)) },
  { input: "1 - 1", expected: bin("-", num(1, 0, 1), num(1, 4, 5)) },
  { input: "1 * 1", expected: bin("*", num(1, 0, 1), num(1, 4, 5)) },
  { input: "1 % 1", expected: bin("%", num(1, 0, 1), num(1, 4, 5)) },
  { input: "1 / 1", expected: bin("/", num(1, 0, 1), num(1, 4, 5)) },
  { input: "1 == bool 1", expected: boolBin("==", num(1, 0, 1), num(1, 10, 11)) },
  { input: "1 != bool 1", expected: boolBin("!=", num(1, 0, 1), num(1, 10, 11)) },
  { input: "1 > bool 1", expected: boolBin(">", num(1, 0, 1), num(1, 9, 10)) },
  { input: "1 >= bool 1", expected: boolBin(">=", num(1, 0, 1), num(1, 10, 11)) },
  { input: "1 < bool 1", expected: boolBin("<", num(1, 0, 1), num(1, 9, 10)) },
  { input: "1 <= bool 1", expected: boolBin("<=", num(1, 0, 1), num(1, 10, 11)) },
  { input: "-1^2", expected: unary("-", bin("^", num(1, 1, 2), num(2, 3, 4)), 0) },
  { input: "-1*2", expected: bin("*", num(-1, 0, 2), num(2, 3, 4)) },
  { input: "-1+2", expected: bin("+", num(-1, 0, 2), num(2, 3, 4)) },
  { input: "-1^-2", expected: unary("-", bin("^", num(1, 1, 2), num(-2, 3, 5)), 0) },
  { input: "2 ^ 3 ^ 2", expected: bin("^", num(2, 0, 1), bin("^", num(3, 4, 5), num(2, 8, 9))) },
  { input: "+1 + -2 * 1", expected: bin("+", num(1, 0, 2), bin("*", num(-2, 5, 7), num(1, 10, 11))) },
  {
    input: "1 + 2/(3*1)",
    expected: bin(
      "+",
      num(1, 0, 1),
      bin("/", num(2, 4, 5), paren(bin("*", num(3, 7, 8), num(1, 9, 10)), 6, 11)),
    ),
  },
  {
    input: "1 < bool 2 - 1 * 2",
    expected: boolBin("<", num(1, 0, 1), bin("-", num(2, 9, 10), bin("*", num(1, 13, 14), num(2, 17, 18)))),
  },
  { input: "-some_metric", expected: unary("-", some(1, 12), 0) },
  { input: "+some_metric", expected: unary("+", some(1, 12), 0) },
  { input: " +some_metric", expected: unary("+", some(2, 13), 1) },
  { input: ` +{"some_metric"}`, expected: unary("+", vs("", 2, 17, [eq("__name__", "some_metric")]), 1) },
  { input: "--1", expected: num(1, 0, 3) },
  { input: "-(1)", expected: unary("-", paren(num(1, 2, 3), 1, 4), 0) },
];

const binaries: ValidCase[] = [
  { input: "foo * bar", expected: bin("*", foo(0, 3), bar(6, 9), ONE) },
  { input: "foo * sum", expected: bin("*", foo(0, 3), vs("sum", 6, 9), ONE) },
  { input: "foo == 1", expected: bin("==", foo(0, 3), num(1, 7, 8)) },
  { input: "foo == bool 1", expected: boolBin("==", foo(0, 3), num(1, 12, 13)) },
  { input: "2.5 / bar", expected: bin("/", num(2.5, 0, 3), bar(6, 9)) },
  { input: "foo and bar", expected: bin("and", foo(0, 3), bar(8, 11), MANY) },
  { input: "foo or bar", expected: bin("or", foo(0, 3), bar(7, 10), MANY) },
  { input: "foo unless bar", expected: bin("unless", foo(0, 3), bar(11, 14), MANY) },
  { input: "foo atan2 bar", expected: bin("atan2", foo(0, 3), bar(10, 13), ONE) },
  {
    input: "foo + bar or bla and blub",
    expected: bin(
      "or",
      bin("+", foo(0, 3), bar(6, 9), ONE),
      bin("and", vs("bla", 13, 16), vs("blub", 21, 25), MANY),
      MANY,
    ),
  },
  {
    input: "foo and bar unless baz or qux",
    expected: bin(
      "or",
      bin("unless", bin("and", foo(0, 3), bar(8, 11), MANY), vs("baz", 19, 22), MANY),
      vs("qux", 26, 29),
      MANY,
    ),
  },
  {
    input: "bar + on(foo) bla / on(baz, buz) group_right(test) blub",
    expected: bin(
      "+",
      bar(0, 3),
      bin("/", vs("bla", 14, 17), vs("blub", 51, 55), vm("one-to-many", ["baz", "buz"], true, ["test"])),
      vm("one-to-one", ["foo"], true),
    ),
  },
  {
    input: "foo * on(test,blub) bar",
    expected: bin("*", foo(0, 3), bar(20, 23), vm("one-to-one", ["test", "blub"], true)),
  },
  {
    input: "foo * on(test,blub) group_left bar",
    expected: bin("*", foo(0, 3), bar(31, 34), vm("many-to-one", ["test", "blub"], true)),
  },
  {
    input: "foo and on(test,blub) bar",
    expected: bin("and", foo(0, 3), bar(22, 25), vm("many-to-many", ["test", "blub"], true)),
  },
  { input: "foo and on() bar", expected: bin("and", foo(0, 3), bar(13, 16), vm("many-to-many", [], true)) },
  {
    input: "foo and ignoring(test,blub) bar",
    expected: bin("and", foo(0, 3), bar(28, 31), vm("many-to-many", ["test", "blub"])),
  },
  { input: "foo and ignoring() bar", expected: bin("and", foo(0, 3), bar(19, 22), MANY) },
  {
    input: "foo unless on(bar) baz",
    expected: bin("unless", foo(0, 3), vs("baz", 19, 22), vm("many-to-many", ["bar"], true)),
  },
  {
    input: "foo / on(test,blub) group_left(bar) bar",
    expected: bin("/", foo(0, 3), bar(36, 39), vm("many-to-one", ["test", "blub"], true, ["bar"])),
  },
  {
    input: "foo / ignoring(test,blub) group_left(blub) bar",
    expected: bin("/", foo(0, 3), bar(43, 46), vm("many-to-one", ["test", "blub"], false, ["blub"])),
  },
  {
    input: "foo / ignoring(test,blub) group_left(bar) bar",
    expected: bin("/", foo(0, 3), bar(42, 45), vm("many-to-one", ["test", "blub"], false, ["bar"])),
  },
  {
    input: "foo - on(test,blub) group_right(bar,foo) bar",
    expected: bin("-", foo(0, 3), bar(41, 44), vm("one-to-many", ["test", "blub"], true, ["bar", "foo"])),
  },
  {
    input: "foo - ignoring(test,blub) group_right(bar,foo) bar",
    expected: bin("-", foo(0, 3), bar(47, 50), vm("one-to-many", ["test", "blub"], false, ["bar", "foo"])),
  },
  {
    input: `foo / on("äää") bar`,
    expected: bin("/", foo(0, 3), vs("bar", 19, 22), vm("one-to-one", ["äää"], true)),
  },
  { input: "a + sum", expected: bin("+", vs("a", 0, 1), vs("sum", 4, 7), ONE) },
  {
    input: "foo unless on(start) bar",
    expected: bin("unless", foo(0, 3), bar(21, 24), vm("many-to-many", ["start"], true)),
  },
  {
    input: "foo unless on(end) bar",
    expected: bin("unless", foo(0, 3), bar(19, 22), vm("many-to-many", ["end"], true)),
  },
];

const selectors: ValidCase[] = [
  { input: "foo", expected: foo(0, 3) },
  { input: "min", expected: vs("min", 0, 3) },
  { input: "start", expected: vs("start", 0, 5) },
  { input: "end", expected: vs("end", 0, 3) },
  { input: `start{end="foo"}`, expected: vs("start", 0, 16, [eq("end", "foo")]) },
  { input: `end{start="foo"}`, expected: vs("end", 0, 16, [eq("start", "foo")]) },
  { input: "foo offset 5m", expected: vs("foo", 0, 13, [], { offset: 5 * MIN }) },
  { input: "foo offset -7m", expected: vs("foo", 0, 14, [], { offset: -7 * MIN }) },
  { input: "foo OFFSET 1h30m", expected: vs("foo", 0, 16, [], { offset: 90 * MIN }) },
  { input: "foo OFFSET 1m30ms", expected: vs("foo", 0, 17, [], { offset: MIN + 30 }) },
  { input: "foo @ 1603774568", expected: vs("foo", 0, 16, [], { at: at(1603774568000) }) },
  { input: "foo @ -100", expected: vs("foo", 0, 10, [], { at: at(-100000) }) },
  { input: "foo @ .3", expected: vs("foo", 0, 8, [], { at: at(300) }) },
  { input: "foo @ 3.", expected: vs("foo", 0, 8, [], { at: at(3000) }) },
  { input: "foo @ 3.33", expected: vs("foo", 0, 10, [], { at: at(3330) }) },
  { input: "foo @ 3.3333", expected: vs("foo", 0, 12, [], { at: at(3333) }) },
  { input: "foo @ 3.3335", expected: vs("foo", 0, 12, [], { at: at(3334) }) },
  { input: "foo @ 3e2", expected: vs("foo", 0, 9, [], { at: at(300000) }) },
  { input: "foo @ 3e-1", expected: vs("foo", 0, 10, [], { at: at(300) }) },
  { input: "foo @ 0xA", expected: vs("foo", 0, 9, [], { at: at(10000) }) },
  { input: "foo @ -3.3e1", expected: vs("foo", 0, 12, [], { at: at(-33000) }) },
  { input: "foo @ start()", expected: vs("foo", 0, 13, [], { at: START }) },
  { input: "foo @ end()", expected: vs("foo", 0, 11, [], { at: END }) },
  { input: "foo @ 10 offset 1m", expected: vs("foo", 0, 18, [], { at: at(10000), offset: MIN }) },
  { input: `foo:bar{a="bc"}`, expected: vs("foo:bar", 0, 15, [eq("a", "bc")]) },
  { input: `{"foo"}`, expected: vs("", 0, 7, [eq("__name__", "foo")]) },
  {
    input: `{'foo\\'bar', 'a\\\\dos\\\\path'='boo\\\\urns'}`,
    expected: vs("", 0, 40, [eq("__name__", "foo'bar"), eq("a\\dos\\path", "boo\\urns")]),
  },
  {
    input: "{'foo\\'bar', `a\\dos\\path`=\"boo\"}",
    expected: vs("", 0, 32, [eq("__name__", "foo'bar"), eq("a\\dos\\path", "boo")]),
  },
  { input: `{"foo", a="bc"}`, expected: vs("", 0, 15, [eq("__name__", "foo"), eq("a", "bc")]) },
  {
    input: `{"my.metric", "a.b"="x"}`,
    expected: vs("", 0, 24, [eq("__name__", "my.metric"), eq("a.b", "x")]),
  },
  { input: `{"ä"="x"}`, expected: vs("", 0, 10, [eq("ä", "x")]) },
  { input: `foo{NaN='bc'}`, expected: foo(0, 13, [eq("NaN", "bc")]) },
  { input: `foo{bar='}'}`, expected: foo(0, 12, [eq("bar", "}")]) },
  {
    input: `foo{a="b", foo!="bar", test=~"test", bar!~"baz"}`,
    expected: foo(0, 48, [eq("a", "b"), neq("foo", "bar"), re("test", "test"), nre("bar", "baz")]),
  },
  {
    input: `{a="b", foo!="bar", "foo", test=~"test", bar!~"baz"}`,
    expected: vs("", 0, 52, [
      eq("a", "b"),
      neq("foo", "bar"),
      eq("__name__", "foo"),
      re("test", "test"),
      nre("bar", "baz"),
    ]),
  },
  {
    input: `foo{a="b", foo!="bar", test=~"test", bar!~"baz",}`,
    expected: foo(0, 49, [eq("a", "b"), neq("foo", "bar"), re("test", "test"), nre("bar", "baz")]),
  },
  {
    input: `{__name__=~"bar", __name__!~"baz"}`,
    expected: vs("", 0, 34, [re("__name__", "bar"), nre("__name__", "baz")]),
  },
  {
    input: `{__name__="bar", __name__="baz"}`,
    expected: vs("", 0, 32, [eq("__name__", "bar"), eq("__name__", "baz")]),
  },
  {
    input: `{"bar", __name__="baz"}`,
    expected: vs("", 0, 23, [eq("__name__", "bar"), eq("__name__", "baz")]),
  },
  { input: "foo # comment\n", expected: foo(0, 3) },
];

const t5m = (start: number) => vs("test", start, start + 4);
const matrices: ValidCase[] = [
  { input: "test[1000ms]", expected: ms(t5m(0), 1000, 12) },
  { input: "test[1001ms]", expected: ms(t5m(0), 1001, 12) },
  { input: "test[1002ms]", expected: ms(t5m(0), 1002, 12) },
  { input: "test[5s]", expected: ms(t5m(0), 5000, 8) },
  { input: "test[5m]", expected: ms(t5m(0), 5 * MIN, 8) },
  { input: "foo[5m30s]", expected: ms(foo(0, 3), 5 * MIN + 30_000, 10) },
  { input: "test[5h] OFFSET 5m", expected: ms(vs("test", 0, 4, [], { offset: 5 * MIN }), 5 * HOUR, 18) },
  { input: "test[5d] OFFSET 10s", expected: ms(vs("test", 0, 4, [], { offset: 10_000 }), 5 * DAY, 19) },
  { input: "test[5w] offset 2w", expected: ms(vs("test", 0, 4, [], { offset: 14 * DAY }), 35 * DAY, 18) },
  {
    input: `test{a="b"}[5y] OFFSET 3d`,
    expected: ms(vs("test", 0, 11, [eq("a", "b")], { offset: 3 * DAY }), 5 * 365 * DAY, 25),
  },
  {
    input: `test{a="b"}[5m] OFFSET 3600`,
    expected: ms(vs("test", 0, 11, [eq("a", "b")], { offset: HOUR }), 5 * MIN, 27),
  },
  { input: "foo[3ms] @ 2.345", expected: ms(vs("foo", 0, 3, [], { at: at(2345) }), 3, 16) },
  { input: "foo[4s180ms] @ 2.345", expected: ms(vs("foo", 0, 3, [], { at: at(2345) }), 4180, 20) },
  { input: "foo[4.18] @ 2.345", expected: ms(vs("foo", 0, 3, [], { at: at(2345) }), 4180, 17) },
  { input: "foo[4s18ms] @ 2.345", expected: ms(vs("foo", 0, 3, [], { at: at(2345) }), 4018, 19) },
  { input: "foo[4.018] @ 2.345", expected: ms(vs("foo", 0, 3, [], { at: at(2345) }), 4018, 18) },
  {
    input: `test{a="b"}[5y] @ 1603774699`,
    expected: ms(vs("test", 0, 11, [eq("a", "b")], { at: at(1603774699000) }), 5 * 365 * DAY, 28),
  },
  { input: "test[5]", expected: ms(t5m(0), 5000, 7) },
  {
    input: "some_metric[5m] @ 1m",
    expected: ms(vs("some_metric", 0, 11, [], { at: at(60000) }), 5 * MIN, 20),
  },
  { input: "test[5y] @ start()", expected: ms(vs("test", 0, 4, [], { at: START }), 5 * 365 * DAY, 18) },
  { input: "test[5y] @ end()", expected: ms(vs("test", 0, 4, [], { at: END }), 5 * 365 * DAY, 16) },
];

const aggregations: ValidCase[] = [
  { input: "sum by (foo)(some_metric)", expected: agg("sum", some(13, 24), 0, 25, { by: ["foo"] }) },
  {
    input: `sum by ("foo bar")({"some.metric"})`,
    expected: agg("sum", vs("", 19, 34, [eq("__name__", "some.metric")]), 0, 35, { by: ["foo bar"] }),
  },
  {
    input: `sum by ("foo", bar, 'baz')({"some.metric"})`,
    expected: agg("sum", vs("", 27, 42, [eq("__name__", "some.metric")]), 0, 43, {
      by: ["foo", "bar", "baz"],
    }),
  },
  { input: "avg by (foo)(some_metric)", expected: agg("avg", some(13, 24), 0, 25, { by: ["foo"] }) },
  { input: "max by (foo)(some_metric)", expected: agg("max", some(13, 24), 0, 25, { by: ["foo"] }) },
  {
    input: "sum without (foo) (some_metric)",
    expected: agg("sum", some(19, 30), 0, 31, { without: ["foo"] }),
  },
  {
    input: "sum (some_metric) without (foo)",
    expected: agg("sum", some(5, 16), 0, 31, { without: ["foo"] }),
  },
  { input: "stddev(some_metric)", expected: agg("stddev", some(7, 18), 0, 19) },
  { input: "stdvar by (foo)(some_metric)", expected: agg("stdvar", some(16, 27), 0, 28, { by: ["foo"] }) },
  { input: "sum by ()(some_metric)", expected: agg("sum", some(10, 21), 0, 22, { by: [] }) },
  {
    input: "sum by (foo,bar,)(some_metric)",
    expected: agg("sum", some(18, 29), 0, 30, { by: ["foo", "bar"] }),
  },
  { input: "sum by (foo,)(some_metric)", expected: agg("sum", some(14, 25), 0, 26, { by: ["foo"] }) },
  { input: "topk(5, some_metric)", expected: agg("topk", some(8, 19), 0, 20, { param: num(5, 5, 6) }) },
  {
    input: `count_values("value", some_metric)`,
    expected: agg("count_values", some(22, 33), 0, 34, { param: str("value", 13, 20) }),
  },
  {
    input: "sum without(and, by, avg, count, alert, annotations)(some_metric)",
    expected: agg("sum", some(53, 64), 0, 65, {
      without: ["and", "by", "avg", "count", "alert", "annotations"],
    }),
  },
  { input: "limitk(2, foo)", expected: agg("limitk", foo(10, 13), 0, 14, { param: num(2, 7, 8) }) },
  {
    input: "limit_ratio(0.5, foo)",
    expected: agg("limit_ratio", foo(17, 20), 0, 21, { param: num(0.5, 12, 15) }),
  },
  { input: "sum(sum)", expected: agg("sum", vs("sum", 4, 7), 0, 8) },
  { input: "(sum(foo))", expected: paren(agg("sum", foo(5, 8), 1, 9), 0, 10) },
  { input: "(sum(foo) )", expected: paren(agg("sum", foo(5, 8), 1, 9), 0, 11) },
  { input: "(sum(foo) by (bar))", expected: paren(agg("sum", foo(5, 8), 1, 18, { by: ["bar"] }), 0, 19) },
  { input: "(sum by (bar) (foo))", expected: paren(agg("sum", foo(15, 18), 1, 19, { by: ["bar"] }), 0, 20) },
  {
    input: "sum by (job)(rate(http_requests_total[30m]))",
    expected: agg("sum", call("rate", [ms(vs("http_requests_total", 18, 37), 30 * MIN, 42)], 13, 43), 0, 44, {
      by: ["job"],
    }),
  },
];

const calls: ValidCase[] = [
  { input: "time()", expected: call("time", [], 0, 6) },
  {
    input: `floor(some_metric{foo!="bar"})`,
    expected: call("floor", [vs("some_metric", 6, 29, [neq("foo", "bar")])], 0, 30),
  },
  { input: "rate(some_metric[5m])", expected: call("rate", [ms(some(5, 16), 5 * MIN, 20)], 0, 21) },
  { input: "round(some_metric)", expected: call("round", [some(6, 17)], 0, 18) },
  { input: "round(some_metric, 5)", expected: call("round", [some(6, 17), num(5, 19, 20)], 0, 21) },
  {
    input: `label_join(foo, "dst", ",", "a", "b")`,
    expected: call(
      "label_join",
      [foo(11, 14), str("dst", 16, 21), str(",", 23, 26), str("a", 28, 31), str("b", 33, 36)],
      0,
      37,
    ),
  },
  {
    input: "info(rate(http_request_counter_total{}[5m]))",
    expected: call(
      "info",
      [call("rate", [ms(vs("http_request_counter_total", 10, 38), 5 * MIN, 42)], 5, 43)],
      0,
      44,
    ),
  },
  {
    input: `info(http_request_counter_total{namespace="zzz"}, {foo="bar", bar="baz"})`,
    expected: call(
      "info",
      [
        vs("http_request_counter_total", 5, 48, [eq("namespace", "zzz")]),
        vs("", 50, 72, [eq("foo", "bar"), eq("bar", "baz")]),
      ],
      0,
      73,
    ),
  },
  { input: "mad_over_time(foo[5m])", expected: call("mad_over_time", [ms(foo(14, 17), 5 * MIN, 21)], 0, 22) },
];

const strings: ValidCase[] = [
  {
    input: `"double-quoted string \\" with escaped quote"`,
    expected: str('double-quoted string " with escaped quote', 0, 44),
  },
  {
    input: `'single-quoted string \\' with escaped quote'`,
    expected: str("single-quoted string ' with escaped quote", 0, 44),
  },
  { input: "`backtick-quoted string`", expected: str("backtick-quoted string", 0, 24) },
  {
    // \xFF\377 are single bytes that are not UTF-8; JavaScript strings hold them as U+FFFD.
    input: `"\\a\\b\\f\\n\\r\\t\\v\\\\\\" - \\xFF\\377\\u1234\\U00010111\\U0001011111☺"`,
    expected: str('\x07\b\f\n\r\t\v\\" - \uFFFD\uFFFD\u1234\u{10111}\u{10111}11☺', 0, 62),
  },
  {
    input: `'\\a\\b\\f\\n\\r\\t\\v\\\\\\' - \\xFF\\377\\u1234\\U00010111\\U0001011111☺'`,
    expected: str("\x07\b\f\n\r\t\v\\' - \uFFFD\uFFFD\u1234\u{10111}\u{10111}11☺", 0, 62),
  },
  {
    input: "`\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\\' - \\xFF\\377\\u1234\\U00010111\\U0001011111☺`",
    expected: str("\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\\' - \\xFF\\377\\u1234\\U00010111\\U0001011111☺", 0, 64),
  },
  { input: `"\\xe2\\x98\\xba"`, expected: str("☺", 0, 14) },
];

const barNm = (start: number, end: number, mods = {}) => vs("bar", start, end, [eq("nm", "val")], mods);
const rateFoo = call("rate", [ms(vs("foo", 19, 33, [eq("bar", "baz")]), 2000, 37)], 14, 38);
const subqueries: ValidCase[] = [
  { input: `foo{bar="baz"}[10m:6s]`, expected: sq(foo(0, 14, [eq("bar", "baz")]), 10 * MIN, 6000, 22) },
  {
    input: `foo{bar="baz"}[10m5s:1h6ms]`,
    expected: sq(foo(0, 14, [eq("bar", "baz")]), 10 * MIN + 5000, HOUR + 6, 27),
  },
  { input: "foo[10m:]", expected: sq(foo(0, 3), 10 * MIN, 0, 9) },
  {
    input: `min_over_time(rate(foo{bar="baz"}[2s])[5m:5s])`,
    expected: call("min_over_time", [sq(rateFoo, 5 * MIN, 5000, 45)], 0, 46),
  },
  {
    input: `min_over_time(rate(foo{bar="baz"}[2s])[5m:])[4m:3s]`,
    expected: sq(call("min_over_time", [sq(rateFoo, 5 * MIN, 0, 43)], 0, 44), 4 * MIN, 3000, 51),
  },
  {
    input: `min_over_time(rate(foo{bar="baz"}[2s])[5m:] offset 4m)[4m:3s]`,
    expected: sq(
      call("min_over_time", [sq(rateFoo, 5 * MIN, 0, 53, { offset: 4 * MIN })], 0, 54),
      4 * MIN,
      3000,
      61,
    ),
  },
  {
    input: `min_over_time(rate(foo{bar="baz"}[2s])[5m:] @ 1603775091)[4m:3s]`,
    expected: sq(
      call("min_over_time", [sq(rateFoo, 5 * MIN, 0, 56, { at: at(1603775091000) })], 0, 57),
      4 * MIN,
      3000,
      64,
    ),
  },
  {
    input: `min_over_time(rate(foo{bar="baz"}[2s])[5m:] @ -160377509)[4m:3s]`,
    expected: sq(
      call("min_over_time", [sq(rateFoo, 5 * MIN, 0, 56, { at: at(-160377509000) })], 0, 57),
      4 * MIN,
      3000,
      64,
    ),
  },
  {
    input: "sum without(and, by, avg, count, alert, annotations)(some_metric) [30m:10s]",
    expected: sq(
      agg("sum", some(53, 64), 0, 65, { without: ["and", "by", "avg", "count", "alert", "annotations"] }),
      30 * MIN,
      10_000,
      75,
    ),
  },
  {
    input: "some_metric OFFSET 1m [10m:5s]",
    expected: sq(vs("some_metric", 0, 21, [], { offset: MIN }), 10 * MIN, 5000, 30),
  },
  {
    input: "some_metric @ 123 [10m:5s]",
    expected: sq(vs("some_metric", 0, 17, [], { at: at(123000) }), 10 * MIN, 5000, 26),
  },
  {
    input: "some_metric @ 123 offset 1m [10m:5s]",
    expected: sq(vs("some_metric", 0, 27, [], { at: at(123000), offset: MIN }), 10 * MIN, 5000, 36),
  },
  {
    input: "some_metric offset 1m @ 123 [10m:5s]",
    expected: sq(vs("some_metric", 0, 27, [], { at: at(123000), offset: MIN }), 10 * MIN, 5000, 36),
  },
  {
    input: "some_metric[10m:5s] offset 1m @ 123",
    expected: sq(some(0, 11), 10 * MIN, 5000, 35, { at: at(123000), offset: MIN }),
  },
  {
    input: `(foo + bar{nm="val"})[5m:]`,
    expected: sq(paren(bin("+", foo(1, 4), barNm(7, 20), ONE), 0, 21), 5 * MIN, 0, 26),
  },
  {
    input: `(foo + bar{nm="val"})[5m:] offset 10m`,
    expected: sq(paren(bin("+", foo(1, 4), barNm(7, 20), ONE), 0, 21), 5 * MIN, 0, 37, { offset: 10 * MIN }),
  },
  {
    input: `(foo + bar{nm="val"} @ 1234)[5m:] @ 1603775019`,
    expected: sq(paren(bin("+", foo(1, 4), barNm(7, 27, { at: at(1234000) }), ONE), 0, 28), 5 * MIN, 0, 46, {
      at: at(1603775019000),
    }),
  },
  { input: "foo[10m:6s] @ start()", expected: sq(foo(0, 3), 10 * MIN, 6000, 21, { at: START }) },
  { input: "foo[10m:6s] @ end()", expected: sq(foo(0, 3), 10 * MIN, 6000, 19, { at: END }) },
];

const durationExprs: ValidCase[] = [
  {
    input: "foo[11s+10s-5*2^2]",
    expected: ms(
      foo(0, 3),
      1000,
      18,
      dbin(
        "-",
        dbin("+", dlit(11, "11s", 4, 7), dlit(10, "10s", 8, 11)),
        dbin("*", dlit(5, "5", 12, 13), dbin("^", dlit(2, "2", 14, 15), dlit(2, "2", 16, 17))),
      ),
    ),
  },
  {
    input: "foo[-(10s-5s)+20s]",
    expected: ms(
      foo(0, 3),
      15_000,
      18,
      dbin(
        "+",
        dneg(dparen(dbin("-", dlit(10, "10s", 6, 9), dlit(5, "5s", 10, 12)), 5, 13), 4),
        dlit(20, "20s", 14, 17),
      ),
    ),
  },
  {
    input: "foo[-10s+15s]",
    expected: ms(foo(0, 3), 5000, 13, dbin("+", dlit(-10, "-10s", 4, 8), dlit(15, "15s", 9, 12))),
  },
  {
    input: "foo[4s+4s:1s*2] offset (5s-8)",
    expected: sq(foo(0, 3), 8000, 2000, 29, {
      rangeExpr: dbin("+", dlit(4, "4s", 4, 6), dlit(4, "4s", 7, 9)),
      stepExpr: dbin("*", dlit(1, "1s", 10, 12), dlit(2, "2", 13, 14)),
      offset: -3000,
      offsetExpr: dparen(dbin("-", dlit(5, "5s", 24, 26), dlit(8, "8", 27, 28)), 23, 29),
    }),
  },
  { input: "foo offset 5s-8", expected: bin("-", vs("foo", 0, 13, [], { offset: 5000 }), num(8, 14, 15)) },
  {
    input: "rate(foo[2m+2m])",
    expected: call(
      "rate",
      [ms(foo(5, 8), 4 * MIN, 15, dbin("+", dlit(120, "2m", 9, 11), dlit(120, "2m", 12, 14)))],
      0,
      16,
    ),
  },
  { input: "foo offset -1^1", expected: bin("^", vs("foo", 0, 13, [], { offset: -1000 }), num(1, 14, 15)) },
  {
    input: "foo offset -(1^2)",
    expected: vs("foo", 0, 17, [], {
      offset: -1000,
      offsetExpr: dneg(dparen(dbin("^", dlit(1, "1", 13, 14), dlit(2, "2", 15, 16)), 12, 17), 11),
    }),
  },
  {
    input: "foo offset (-1^2)",
    expected: vs("foo", 0, 17, [], {
      offset: -1000,
      offsetExpr: dparen(dneg(dbin("^", dlit(1, "1", 13, 14), dlit(2, "2", 15, 16)), 12), 11, 17),
    }),
  },
  { input: "foo offset (5)", expected: vs("foo", 0, 14, [], { offset: 5000 }) },
  { input: "foo offset -(5)", expected: vs("foo", 0, 15, [], { offset: -5000 }) },
  { input: "foo[(5s)]", expected: ms(foo(0, 3), 5000, 9) },
  {
    input: "foo[26m+4m]",
    expected: ms(foo(0, 3), 30 * MIN, 11, dbin("+", dlit(1560, "26m", 4, 7), dlit(240, "4m", 8, 10))),
  },
  {
    input: "foo[1h30m % 1h]",
    expected: ms(foo(0, 3), 30 * MIN, 15, dbin("%", dlit(5400, "1h30m", 4, 9), dlit(3600, "1h", 12, 14))),
  },
  {
    input: "foo offset 100 + 2",
    expected: bin("+", vs("foo", 0, 14, [], { offset: 100_000 }), num(2, 17, 18)),
  },
  {
    input: "foo offset (100 + 2)",
    expected: vs("foo", 0, 20, [], {
      offset: 102_000,
      offsetExpr: dparen(dbin("+", dlit(100, "100", 12, 15), dlit(2, "2", 18, 19)), 11, 20),
    }),
  },
  { input: "foo offset -2 * 2", expected: bin("*", vs("foo", 0, 13, [], { offset: -2000 }), num(2, 16, 17)) },
  // prometheus/prometheus#16711: the signed literal ends the offset.
  {
    input: "foo offset -1m * bar",
    expected: bin("*", vs("foo", 0, 14, [], { offset: -MIN }), bar(17, 20), ONE),
  },
];

describe("parseExpr: valid queries", () => {
  const groups = {
    scalars,
    binaries,
    selectors,
    matrices,
    aggregations,
    calls,
    strings,
    subqueries,
    durationExprs,
  };
  for (const [group, cases] of Object.entries(groups)) {
    for (const c of cases) {
      test(`${group}: ${c.input}`, () => {
        assert.deepStrictEqual(normalize(parseExpr(c.input)), normalize(c.expected));
      });
    }
  }

  test("NaN", () => {
    const e = parseExpr("NaN");
    assert.equal(e.type, "NumberLiteral");
    assert.ok(e.type === "NumberLiteral" && Number.isNaN(e.val));
  });
});

interface ErrorCase {
  readonly input: string;
  readonly message: string;
  /** Byte offsets [start, end) of Prometheus's ParseErr.PositionRange. */
  readonly pos: readonly [number, number];
}

const nines = "9".repeat(309);

const errorCases: ErrorCase[] = [
  // Scalars and lexing.
  { input: "", message: "no expression found in input", pos: [0, 0] },
  { input: "# just a comment\n\n", message: "no expression found in input", pos: [0, 0] },
  { input: "1+", message: "unexpected end of input", pos: [2, 2] },
  { input: ".", message: "unexpected character: '.'", pos: [0, 1] },
  { input: "2.5.", message: 'bad number or duration syntax: "2.5."', pos: [0, 4] },
  { input: "100..4", message: 'bad number or duration syntax: "100.."', pos: [0, 6] },
  { input: "0deadbeef", message: 'bad number or duration syntax: "0de"', pos: [0, 9] },
  { input: "1 /", message: "unexpected end of input", pos: [3, 3] },
  { input: "*1", message: "unexpected <op:*>", pos: [0, 1] },
  { input: "(1))", message: "unexpected right parenthesis ')'", pos: [4, 4] },
  { input: "((1)", message: "unclosed left parenthesis", pos: [4, 4] },
  {
    input: nines,
    message: `error parsing number: strconv.ParseFloat: parsing "${nines}": value out of range`,
    pos: [0, 309],
  },
  { input: "(", message: "unclosed left parenthesis", pos: [1, 1] },
  { input: "1 and 1", message: 'set operator "and" not allowed in binary scalar expression', pos: [0, 7] },
  { input: "1 == 1", message: "comparisons between scalars must use BOOL modifier", pos: [2, 3] },
  { input: "1 or 1", message: 'set operator "or" not allowed in binary scalar expression', pos: [0, 6] },
  {
    input: "1 unless 1",
    message: 'set operator "unless" not allowed in binary scalar expression',
    pos: [0, 10],
  },
  { input: "1 !~ 1", message: "unexpected character after '!': '~'", pos: [2, 6] },
  { input: "1 =~ 1", message: "unexpected character after '=': '~'", pos: [2, 6] },
  {
    input: `-"string"`,
    message: 'unary expression only allowed on expressions of type scalar or instant vector, got "string"',
    pos: [0, 9],
  },
  {
    input: "-test[5m]",
    message:
      'unary expression only allowed on expressions of type scalar or instant vector, got "range vector"',
    pos: [0, 9],
  },
  { input: "*test", message: "unexpected <op:*>", pos: [0, 1] },
  { input: "@@", message: "unexpected <op:@>", pos: [0, 1] },
  {
    input: "1 offset 1d",
    message:
      "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    pos: [0, 1],
  },
  { input: "foo offset 1s offset 2s", message: "offset may not be set multiple times", pos: [0, 13] },
  { input: "a - on(b) ignoring(c) d", message: "unexpected <ignoring>", pos: [10, 18] },
  // Vector matching and set operators.
  { input: "foo and 1", message: 'set operator "and" not allowed in binary scalar expression', pos: [0, 9] },
  { input: "1 and foo", message: 'set operator "and" not allowed in binary scalar expression', pos: [0, 9] },
  { input: "foo or 1", message: 'set operator "or" not allowed in binary scalar expression', pos: [0, 8] },
  { input: "1 or foo", message: 'set operator "or" not allowed in binary scalar expression', pos: [0, 8] },
  {
    input: "foo unless 1",
    message: 'set operator "unless" not allowed in binary scalar expression',
    pos: [0, 12],
  },
  {
    input: "1 unless foo",
    message: 'set operator "unless" not allowed in binary scalar expression',
    pos: [0, 12],
  },
  {
    input: "1 or on(bar) foo",
    message: "vector matching only allowed between instant vectors",
    pos: [0, 16],
  },
  {
    input: "foo == on(bar) 10",
    message: "vector matching only allowed between instant vectors",
    pos: [0, 17],
  },
  { input: "foo + group_left(baz) bar", message: "unexpected <group_left>", pos: [6, 16] },
  {
    input: "foo and on(bar) group_left(baz) bar",
    message: 'no grouping allowed for "and" operation',
    pos: [0, 35],
  },
  {
    input: "foo and on(bar) group_right(baz) bar",
    message: 'no grouping allowed for "and" operation',
    pos: [0, 36],
  },
  {
    input: "foo or on(bar) group_left(baz) bar",
    message: 'no grouping allowed for "or" operation',
    pos: [0, 34],
  },
  {
    input: "foo or on(bar) group_right(baz) bar",
    message: 'no grouping allowed for "or" operation',
    pos: [0, 35],
  },
  {
    input: "foo unless on(bar) group_left(baz) bar",
    message: 'no grouping allowed for "unless" operation',
    pos: [0, 38],
  },
  {
    input: "foo unless on(bar) group_right(baz) bar",
    message: 'no grouping allowed for "unless" operation',
    pos: [0, 39],
  },
  {
    input: `http_requests{group="production"} + on(instance) group_left(job,instance) cpu_count{type="smp"}`,
    message: 'label "instance" must not occur in ON and GROUP clause at once',
    pos: [34, 72],
  },
  { input: "foo + bool bar", message: "bool modifier can only be used on comparison operators", pos: [4, 9] },
  { input: "foo + bool 10", message: "bool modifier can only be used on comparison operators", pos: [4, 9] },
  {
    input: "foo and bool 10",
    message: "bool modifier can only be used on comparison operators",
    pos: [4, 11],
  },
  // Vector selectors.
  { input: "foo @ +Inf", message: "timestamp out of bounds for @ modifier: +Inf", pos: [0, 3] },
  { input: "foo @ -Inf", message: "timestamp out of bounds for @ modifier: -Inf", pos: [0, 3] },
  { input: "foo @ NaN", message: "timestamp out of bounds for @ modifier: NaN", pos: [0, 3] },
  {
    input: "foo @ 9223372036854775808.000000",
    message: "timestamp out of bounds for @ modifier: 9223372036854775808.000000",
    pos: [0, 3],
  },
  {
    input: "foo @ -9223372036854775808.000000",
    message: "timestamp out of bounds for @ modifier: -9223372036854775808.000000",
    pos: [0, 3],
  },
  { input: "{", message: "unexpected end of input inside braces", pos: [1, 1] },
  { input: "}", message: "unexpected character: '}'", pos: [0, 1] },
  { input: "some{", message: "unexpected end of input inside braces", pos: [5, 5] },
  { input: "some}", message: "unexpected character: '}'", pos: [4, 5] },
  {
    input: "some_metric{a=b}",
    message: 'unexpected identifier "b" in label matching, expected string',
    pos: [14, 15],
  },
  { input: `some_metric{a:b="b"}`, message: "unexpected character inside braces: ':'", pos: [13, 20] },
  { input: `foo{a*"b"}`, message: "unexpected character inside braces: '*'", pos: [5, 10] },
  { input: `foo{a>="b"}`, message: "unexpected character inside braces: '>'", pos: [5, 11] },
  // Go's lexer sees U+FFFD for an invalid byte; a JavaScript string carries U+FFFD itself (3 bytes).
  { input: `some_metric{a="\uFFFD"}`, message: "invalid UTF-8 rune", pos: [14, 20] },
  {
    input: "foo{gibberish}",
    message: 'unexpected "}" in label matching, expected label matching operator',
    pos: [13, 14],
  },
  { input: "foo{1}", message: "unexpected character inside braces: '1'", pos: [4, 6] },
  { input: "{}", message: "vector selector must contain at least one non-empty matcher", pos: [0, 2] },
  { input: `{x=""}`, message: "vector selector must contain at least one non-empty matcher", pos: [0, 6] },
  { input: `{x=~".*"}`, message: "vector selector must contain at least one non-empty matcher", pos: [0, 9] },
  { input: `{x!~".+"}`, message: "vector selector must contain at least one non-empty matcher", pos: [0, 9] },
  { input: `{x!="a"}`, message: "vector selector must contain at least one non-empty matcher", pos: [0, 8] },
  {
    input: `foo{__name__="bar"}`,
    message: 'metric name must not be set twice: "foo" or "bar"',
    pos: [0, 19],
  },
  { input: `foo{"bar"}`, message: 'metric name must not be set twice: "foo" or "bar"', pos: [0, 10] },
  { input: "foo{__name__= =}", message: 'unexpected "=" in label matching, expected string', pos: [14, 15] },
  { input: "foo{,}", message: 'unexpected "," in label matching, expected identifier or "}"', pos: [4, 5] },
  {
    input: `foo{__name__ == "bar"}`,
    message: 'unexpected "=" in label matching, expected string',
    pos: [14, 15],
  },
  {
    input: `foo{__name__="bar" lol}`,
    message: 'unexpected identifier "lol" in label matching, expected "," or "}"',
    pos: [19, 22],
  },
  { input: `foo{"a"=}`, message: 'unexpected "}" in label matching, expected string', pos: [8, 9] },
  { input: `foo{a=~"("}`, message: "error parsing regexp: missing closing ): `(`", pos: [4, 10] },
  // Matrix selectors.
  { input: "foo[5mm]", message: 'bad number or duration syntax: "5mm"', pos: [4, 8] },
  { input: "foo[5m1]", message: 'bad number or duration syntax: "5m1"', pos: [4, 8] },
  { input: "foo[5m:1m1]", message: 'bad number or duration syntax: "1m1"', pos: [7, 11] },
  { input: "foo[5y1hs]", message: 'unknown unit "hs" in duration "5y1hs"', pos: [4, 9] },
  { input: "foo[5m1h]", message: 'not a valid duration string: "5m1h"', pos: [4, 8] },
  { input: "foo[5m1m]", message: 'not a valid duration string: "5m1m"', pos: [4, 8] },
  { input: "foo[0m]", message: "duration must be greater than 0", pos: [4, 6] },
  { input: `foo["5m"]`, message: `unexpected character in duration expression: '"'`, pos: [4, 9] },
  // Prometheus 3.5 lists "number or duration" here; newer versions add step() and range().
  {
    input: "foo[]",
    message: 'unexpected "]" in subquery or range selector, expected number or duration',
    pos: [4, 5],
  },
  { input: "foo[-1]", message: "duration must be greater than 0", pos: [4, 6] },
  { input: "some_metric[5m] OFFSET 1mm", message: 'bad number or duration syntax: "1mm"', pos: [23, 26] },
  {
    input: "some_metric[5m] OFFSET",
    message: "unexpected end of input in offset, expected number or duration",
    pos: [22, 22],
  },
  { input: "some_metric OFFSET 1m[5m]", message: "no offset modifiers allowed before range", pos: [21, 25] },
  { input: "some_metric[5m] @", message: "unexpected end of input in @, expected timestamp", pos: [17, 17] },
  { input: "some_metric @ 1234 [5m]", message: "no @ modifiers allowed before range", pos: [19, 23] },
  { input: "some_metric @ start() [5m]", message: "no @ modifiers allowed before range", pos: [22, 26] },
  { input: "some_metric @ end()[5m]", message: "no @ modifiers allowed before range", pos: [19, 23] },
  { input: "(foo + bar)[5m]", message: "ranges only allowed for vector selectors", pos: [11, 15] },
  { input: "foo[5s x 5s]", message: "unexpected character: 'x', expected ':'", pos: [7, 12] },
  { input: "foo[5s s 5s]", message: "unexpected character: 's', expected ':'", pos: [7, 12] },
  // Aggregations.
  { input: `sum by ("foo)(some_metric{})`, message: "unterminated quoted string", pos: [8, 28] },
  {
    input: "sum without(==)(some_metric)",
    message: "unexpected <op:==> in grouping opts, expected label",
    pos: [12, 14],
  },
  {
    input: "sum without(,)(some_metric)",
    message: 'unexpected "," in grouping opts, expected label',
    pos: [12, 13],
  },
  {
    input: "sum without(foo,,)(some_metric)",
    message: 'unexpected "," in grouping opts, expected label',
    pos: [16, 17],
  },
  { input: "sum some_metric by (test)", message: 'unexpected identifier "some_metric"', pos: [4, 15] },
  {
    input: "sum (some_metric) by test",
    message: 'unexpected identifier "test" in grouping opts, expected "("',
    pos: [21, 25],
  },
  { input: "sum () by (test)", message: "no arguments for aggregate expression provided", pos: [0, 16] },
  { input: "MIN keep_common (some_metric)", message: 'unexpected identifier "keep_common"', pos: [4, 15] },
  { input: "MIN (some_metric) keep_common", message: 'unexpected identifier "keep_common"', pos: [18, 29] },
  { input: "sum (some_metric) without (test) by (test)", message: "unexpected <by>", pos: [33, 35] },
  { input: "sum without (test) (some_metric) by (test)", message: "unexpected <by>", pos: [33, 35] },
  {
    input: "topk(some_metric)",
    message: "wrong number of arguments for aggregate expression provided, expected 2, got 1",
    pos: [0, 17],
  },
  {
    input: "topk(some_metric,)",
    message: "trailing commas not allowed in function call args",
    pos: [16, 17],
  },
  {
    input: "topk(some_metric, other_metric)",
    message: "expected type scalar in aggregation parameter, got instant vector",
    pos: [5, 16],
  },
  {
    input: "count_values(5, other_metric)",
    message: "expected type string in aggregation parameter, got scalar",
    pos: [13, 14],
  },
  {
    input: "rate(some_metric[5m]) @ 1234",
    message:
      "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    pos: [0, 21],
  },
  { input: "sum(", message: "unclosed left parenthesis", pos: [4, 4] },
  { input: "sum(rate(", message: "unclosed left parenthesis", pos: [9, 9] },
  // Function calls.
  { input: "floor()", message: 'expected 1 argument(s) in call to "floor", got 0', pos: [0, 7] },
  {
    input: "floor(some_metric, other_metric)",
    message: 'expected 1 argument(s) in call to "floor", got 2',
    pos: [0, 32],
  },
  {
    input: "floor(some_metric, 1)",
    message: 'expected 1 argument(s) in call to "floor", got 2',
    pos: [0, 21],
  },
  {
    input: "floor(1)",
    message: 'expected type instant vector in call to function "floor", got scalar',
    pos: [6, 7],
  },
  {
    input: "hour(some_metric, some_metric, some_metric)",
    message: 'expected at most 1 argument(s) in call to "hour", got 3',
    pos: [0, 43],
  },
  { input: "time(some_metric)", message: 'expected 0 argument(s) in call to "time", got 1', pos: [0, 17] },
  {
    input: "non_existent_function_far_bar()",
    message: 'unknown function with name "non_existent_function_far_bar"',
    pos: [0, 29],
  },
  {
    input: "rate(some_metric)",
    message: 'expected type range vector in call to function "rate", got instant vector',
    pos: [5, 16],
  },
  {
    input: "rate(some_metric, 1)",
    message: 'expected 1 argument(s) in call to "rate", got 2',
    pos: [0, 20],
  },
  {
    input: "label_join(foo)",
    message: 'expected at least 3 argument(s) in call to "label_join", got 1',
    pos: [0, 15],
  },
  { input: "label_replace(a, `b`, `c\uFFFD`, `d`, `.*`)", message: "invalid UTF-8 rune", pos: [22, 40] },
  {
    input: `info(rate(http_request_counter_total{}[5m]), target_info{foo="bar"})`,
    message: "expected label selectors only, got vector selector instead",
    pos: [45, 67],
  },
  {
    input: `info(http_request_counter_total{namespace="zzz"}, {foo="bar"} == 1)`,
    message: "expected label selectors only",
    pos: [50, 66],
  },
  // Fuzzing regressions.
  { input: "-=", message: 'unexpected "="', pos: [1, 2] },
  { input: "++-++-+-+-<", message: "unexpected <op:<>", pos: [10, 11] },
  { input: "e-+=/(0)", message: 'unexpected "="', pos: [3, 4] },
  { input: "a>b()", message: 'unknown function with name "b"', pos: [2, 3] },
  {
    input: "rate(avg)",
    message: 'expected type range vector in call to function "rate", got instant vector',
    pos: [5, 8],
  },
  {
    // parse_test.go repeats the pattern 10000 times; lezer gives up on left-associative chains of
    // several hundred operators, so a shorter chain is used.
    input: `(${"-{}-1".repeat(200)})${"[1m:]".repeat(100)}`,
    message: "vector selector must contain at least one non-empty matcher",
    pos: [2, 4],
  },
  // Strings.
  { input: "`\\``", message: "unterminated raw string", pos: [3, 4] },
  { input: `"\\`, message: "escape sequence not terminated", pos: [0, 2] },
  { input: `"\\c"`, message: "unknown escape sequence U+0063 'c'", pos: [0, 4] },
  { input: `"\\x."`, message: "illegal character U+002E '.' in escape sequence", pos: [0, 5] },
  // Subqueries.
  { input: `foo{bar="baz"}[`, message: "unexpected end of input in duration expression", pos: [15, 15] },
  {
    input: "test[5d] OFFSET 10s [10m:5s]",
    message: "subquery is only allowed on instant vector, got matrix instead",
    pos: [0, 28],
  },
  {
    input: `(foo + bar{nm="val"})[5m:][10m:5s]`,
    message: "subquery is only allowed on instant vector, got matrix instead",
    pos: [0, 34],
  },
  {
    input: "rate(food[1m])[1h] offset 1h",
    message: "ranges only allowed for vector selectors",
    pos: [14, 18],
  },
  { input: "rate(food[1m])[1h] @ 100", message: "ranges only allowed for vector selectors", pos: [14, 18] },
  { input: "foo[5m:1m:]", message: "unexpected colon ':'", pos: [9, 11] },
  { input: "foo[5m] @ 1 @ 2", message: "@ <timestamp> may not be set multiple times", pos: [0, 11] },
  // Duration expressions. Prometheus evaluates them in the engine and reports a non-positive range
  // there; this parser evaluates them while parsing, so the error is a parse error.
  { input: "foo[-2^2]", message: "duration must be greater than 0", pos: [4, 8] },
  { input: "foo[0+-2^2]", message: "duration must be greater than 0", pos: [4, 10] },
  { input: "foo[5s/0d]", message: "division by zero", pos: [6, 7] },
  { input: "foo offset (4d/0)", message: "division by zero", pos: [14, 15] },
  { input: "foo[5s%0d]", message: "modulo by zero", pos: [6, 7] },
  { input: "foo[5s/(1-1)]", message: "division by zero", pos: [4, 12] },
  { input: "foo offset 9.5e10", message: "duration out of range", pos: [11, 17] },
  { input: "foo[9.5e10]", message: "duration out of range", pos: [4, 10] },
  {
    input: "foo[5m+]",
    message: 'unexpected "]" in subquery or range selector, expected number or duration',
    pos: [7, 8],
  },
  { input: "foo offset (1h", message: "unclosed left parenthesis", pos: [14, 14] },
  {
    input: "foo offset (1m) * bar",
    message: 'unexpected identifier "bar" in offset, expected number or duration',
    pos: [18, 21],
  },
  {
    input: "foo[5m 1m]",
    message: 'unexpected duration "1m" in subquery or range, expected ":" or "]"',
    pos: [7, 9],
  },
  {
    input: "foo[5m:1m 1m]",
    message: 'unexpected duration "1m" in subquery selector, expected "]"',
    pos: [10, 12],
  },
];

function parseError(input: string, opts?: ParseOptions): ParseError {
  try {
    parseExpr(input, opts);
  } catch (err) {
    assert.ok(err instanceof ParseError, `not a ParseError: ${err}`);
    return err;
  }
  assert.fail(`no error for ${JSON.stringify(input)}`);
}

describe("parseExpr: errors", () => {
  for (const c of errorCases) {
    test(c.input.length > 60 ? `${c.input.slice(0, 60)}…` : c.input, () => {
      const err = parseError(c.input);
      assert.deepStrictEqual(
        { message: err.message, pos: [err.pos.start, err.pos.end] },
        { message: c.message, pos: c.pos },
      );
    });
  }

  test("toString has Prometheus's line:col prefix", () => {
    assert.equal(parseError("foo\n  + }").toString(), "2:5: parse error: unexpected character: '}'");
  });
});

describe("parseExpr: feature flags", () => {
  const off = { experimentalFunctions: false, experimentalDurationExpr: false };
  const cases: Array<[string, string, [number, number]]> = [
    ["mad_over_time(foo[5m])", 'function "mad_over_time" is not enabled', [0, 13]],
    ['sort_by_label(foo, "a")', 'function "sort_by_label" is not enabled', [0, 13]],
    [
      "limitk(2, foo)",
      "limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
      [0, 14],
    ],
    ["foo[5m+1m]", "experimental duration expression is not enabled", [4, 6]],
    ["foo offset (5m)", "experimental duration expression is not enabled", [12, 14]],
    ["foo[1m:(30s)]", "experimental duration expression is not enabled", [8, 11]],
  ];
  for (const [input, message, pos] of cases) {
    test(input, () => {
      const err = parseError(input, off);
      assert.deepStrictEqual({ message: err.message, pos: [err.pos.start, err.pos.end] }, { message, pos });
    });
  }

  test("stable features stay available", () => {
    for (const q of ["rate(foo[5m])", "foo offset -5m", "histogram_quantile(0.9, foo)", "topk(3, foo)"]) {
      assert.doesNotThrow(() => parseExpr(q, off), q);
    }
  });
});

describe("FUNCTIONS", () => {
  test("every function of the table is a function to lezer-promql too", () => {
    for (const name of FUNCTIONS.keys()) {
      const tree = lezer.parse(`${name}()`);
      assert.equal(tree.topNode.firstChild?.name, "FunctionCall", name);
    }
  });
});

/**
 * The token kinds of Prometheus's PromQL lexer (promql/parser/lex.go) and the way its error
 * messages describe a token ("unexpected <op:*>", "unexpected identifier \"foo\"", …).
 */
import { goQuote } from "./gostr.js";

export const Tok = {
  EOF: "EOF",
  ERROR: "ERROR",
  COMMENT: "COMMENT",
  IDENTIFIER: "IDENTIFIER",
  METRIC_IDENTIFIER: "METRIC_IDENTIFIER",
  NUMBER: "NUMBER",
  DURATION: "DURATION",
  STRING: "STRING",
  LEFT_PAREN: "LEFT_PAREN",
  RIGHT_PAREN: "RIGHT_PAREN",
  LEFT_BRACE: "LEFT_BRACE",
  RIGHT_BRACE: "RIGHT_BRACE",
  LEFT_BRACKET: "LEFT_BRACKET",
  RIGHT_BRACKET: "RIGHT_BRACKET",
  COMMA: "COMMA",
  EQL: "EQL",
  COLON: "COLON",
  // Operators.
  ADD: "ADD",
  SUB: "SUB",
  MUL: "MUL",
  DIV: "DIV",
  MOD: "MOD",
  POW: "POW",
  EQLC: "EQLC",
  NEQ: "NEQ",
  LTE: "LTE",
  LSS: "LSS",
  GTE: "GTE",
  GTR: "GTR",
  EQL_REGEX: "EQL_REGEX",
  NEQ_REGEX: "NEQ_REGEX",
  AT: "AT",
  ATAN2: "ATAN2",
  LAND: "LAND",
  LOR: "LOR",
  LUNLESS: "LUNLESS",
  // Aggregators.
  AVG: "AVG",
  BOTTOMK: "BOTTOMK",
  COUNT: "COUNT",
  COUNT_VALUES: "COUNT_VALUES",
  GROUP: "GROUP",
  MAX: "MAX",
  MIN: "MIN",
  QUANTILE: "QUANTILE",
  STDDEV: "STDDEV",
  STDVAR: "STDVAR",
  SUM: "SUM",
  TOPK: "TOPK",
  LIMITK: "LIMITK",
  LIMIT_RATIO: "LIMIT_RATIO",
  // Keywords.
  BOOL: "BOOL",
  BY: "BY",
  GROUP_LEFT: "GROUP_LEFT",
  GROUP_RIGHT: "GROUP_RIGHT",
  IGNORING: "IGNORING",
  OFFSET: "OFFSET",
  ON: "ON",
  WITHOUT: "WITHOUT",
  // Preprocessors of the @ modifier.
  START: "START",
  END: "END",
} as const;
export type Tok = (typeof Tok)[keyof typeof Tok];

/** One lexed token. `pos` is a UTF-16 index into the query; `val` the text (the message for ERROR). */
export interface Item {
  readonly type: Tok;
  readonly pos: number;
  readonly val: string;
}

/** Words the lexer turns into keyword tokens (lex.go's `key`); "inf" and "nan" become numbers. */
export const KEYWORDS: ReadonlyMap<string, Tok> = new Map<string, Tok>([
  ["and", Tok.LAND],
  ["or", Tok.LOR],
  ["unless", Tok.LUNLESS],
  ["atan2", Tok.ATAN2],
  ["sum", Tok.SUM],
  ["avg", Tok.AVG],
  ["count", Tok.COUNT],
  ["min", Tok.MIN],
  ["max", Tok.MAX],
  ["group", Tok.GROUP],
  ["stddev", Tok.STDDEV],
  ["stdvar", Tok.STDVAR],
  ["topk", Tok.TOPK],
  ["bottomk", Tok.BOTTOMK],
  ["count_values", Tok.COUNT_VALUES],
  ["quantile", Tok.QUANTILE],
  ["limitk", Tok.LIMITK],
  ["limit_ratio", Tok.LIMIT_RATIO],
  ["offset", Tok.OFFSET],
  ["by", Tok.BY],
  ["without", Tok.WITHOUT],
  ["on", Tok.ON],
  ["ignoring", Tok.IGNORING],
  ["group_left", Tok.GROUP_LEFT],
  ["group_right", Tok.GROUP_RIGHT],
  ["bool", Tok.BOOL],
  ["start", Tok.START],
  ["end", Tok.END],
  ["inf", Tok.NUMBER],
  ["nan", Tok.NUMBER],
]);

const OPERATORS = new Set<Tok>([
  Tok.ADD,
  Tok.DIV,
  Tok.EQLC,
  Tok.EQL_REGEX,
  Tok.GTE,
  Tok.GTR,
  Tok.LAND,
  Tok.LOR,
  Tok.LSS,
  Tok.LTE,
  Tok.LUNLESS,
  Tok.MOD,
  Tok.MUL,
  Tok.NEQ,
  Tok.NEQ_REGEX,
  Tok.POW,
  Tok.SUB,
  Tok.AT,
  Tok.ATAN2,
]);

const AGGREGATORS = new Set<Tok>([
  Tok.AVG,
  Tok.BOTTOMK,
  Tok.COUNT,
  Tok.COUNT_VALUES,
  Tok.GROUP,
  Tok.MAX,
  Tok.MIN,
  Tok.QUANTILE,
  Tok.STDDEV,
  Tok.STDVAR,
  Tok.SUM,
  Tok.TOPK,
  Tok.LIMITK,
  Tok.LIMIT_RATIO,
]);

const KEYWORD_TOKENS = new Set<Tok>([
  Tok.BOOL,
  Tok.BY,
  Tok.GROUP_LEFT,
  Tok.GROUP_RIGHT,
  Tok.IGNORING,
  Tok.OFFSET,
  Tok.ON,
  Tok.WITHOUT,
]);

/** Tokens with a fixed spelling (lex.go's ItemTypeStr): described by their text alone. */
const FIXED = new Set<Tok>([
  Tok.LEFT_PAREN,
  Tok.RIGHT_PAREN,
  Tok.LEFT_BRACE,
  Tok.RIGHT_BRACE,
  Tok.LEFT_BRACKET,
  Tok.RIGHT_BRACKET,
  Tok.COMMA,
  Tok.EQL,
  Tok.COLON,
  Tok.START,
  Tok.END,
  ...OPERATORS,
  ...AGGREGATORS,
  ...KEYWORD_TOKENS,
]);

export const isAggregator = (t: Tok): boolean => AGGREGATORS.has(t);

const TYPE_DESC: Partial<Record<Tok, string>> = {
  ERROR: "error",
  COMMENT: "comment",
  IDENTIFIER: "identifier",
  METRIC_IDENTIFIER: "metric identifier",
  STRING: "string",
  NUMBER: "number",
  DURATION: "duration",
};

/** Item.String() of lex.go. */
function itemString(it: Item): string {
  switch (it.type) {
    case Tok.EOF:
      return "EOF";
    case Tok.ERROR:
      return it.val;
    case Tok.IDENTIFIER:
    case Tok.METRIC_IDENTIFIER:
      return goQuote(it.val);
  }
  if (KEYWORD_TOKENS.has(it.type)) return `<${it.val}>`;
  if (OPERATORS.has(it.type)) return `<op:${it.val}>`;
  if (AGGREGATORS.has(it.type)) return `<aggr:${it.val}>`;
  const runes = [...it.val];
  // Go's %.10q truncates to 10 runes before quoting.
  return runes.length > 10 ? `${goQuote(runes.slice(0, 10).join(""))}...` : goQuote(it.val);
}

/** Item.desc() of lex.go: how "unexpected …" names a token. */
export function describe(it: Item): string {
  if (FIXED.has(it.type)) return itemString(it);
  if (it.type === Tok.EOF) return "end of input";
  return `${TYPE_DESC[it.type] ?? it.type} ${itemString(it)}`;
}

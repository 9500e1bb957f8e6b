/**
 * Function signatures, after Prometheus's promql/parser/functions.go (3.5). The parser checks calls
 * against these; the engine keeps its implementations in a separate table keyed by the same names.
 */
import type { ValueType } from "./ast.js";

export interface FunctionDef {
  readonly name: string;
  readonly argTypes: readonly ValueType[];
  /**
   * 0: exactly argTypes; n > 0: the last n argTypes are optional; -1: the last argType repeats
   * any number of times (label_join).
   */
  readonly variadic: number;
  readonly returnType: ValueType;
  /** Only with experimental functions enabled (Prometheus's --enable-feature=promql-experimental-functions). */
  readonly experimental?: boolean;
}

/**
 * Parse errors as collected while parsing, before the first one is thrown. Prometheus keeps a list
 * in the order its LR parser met them and reports the first; `at` approximates that order: the
 * offset of the token being looked at when the error arose (for errors raised while reducing a
 * node, the end of that node).
 */
import type { PosRange } from "../ast.js";

export interface PendingError {
  readonly message: string;
  readonly pos: PosRange;
  readonly at: number;
}

export const range = (start: number, end: number): PosRange => ({ start, end });

/** The error Prometheus would list first. */
export function firstError(errors: readonly PendingError[]): PendingError | undefined {
  let first: PendingError | undefined;
  for (const e of errors) if (!first || e.at < first.at) first = e;
  return first;
}

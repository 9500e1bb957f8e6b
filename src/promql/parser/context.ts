/** State shared by the lezer-tree conversion: the query, its tokens, parsed durations, errors. */
import type { SyntaxNode } from "@lezer/common";
import { LineComment } from "@prometheus-io/lezer-promql";
import type { PosRange } from "../ast.js";
import type { DurationSlot } from "./durations.js";
import { type PendingError, range } from "./errors.js";
import type { Item } from "./tokens.js";

export interface ConvertContext {
  readonly query: string;
  /** Prometheus tokens by start offset. */
  readonly tokens: ReadonlyMap<number, Item>;
  readonly slots: ReadonlyMap<number, DurationSlot>;
  readonly errors: PendingError[];
  readonly experimentalFunctions: boolean;
}

/** Thrown on a lezer error node: the tree is only partly usable after a syntax error. */
export class BrokenTree extends Error {
  constructor() {
    super("syntax error in tree");
  }
}

/** The direct children of a node (comments left out), walked with a TreeCursor. */
export function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  const cursor = node.cursor();
  if (cursor.firstChild()) {
    do {
      if (cursor.type.isError) throw new BrokenTree();
      if (cursor.type.id !== LineComment) out.push(cursor.node);
    } while (cursor.nextSibling());
  }
  return out;
}

export const nodeRange = (n: SyntaxNode): PosRange => range(n.from, n.to);

export const text = (ctx: ConvertContext, n: { from: number; to: number }): string =>
  ctx.query.slice(n.from, n.to);

/** Records an error raised while building a node, in Prometheus's order (when the node is reduced). */
export function reduceError(ctx: ConvertContext, message: string, pos: PosRange, at = pos.end): void {
  ctx.errors.push({ message, pos, at });
}

/**
 * Errors a query can end with, after Prometheus's promql/errors and parser.ParseErr. The API
 * layer maps each class to Prometheus's errorType in one place.
 */
import type { PosRange } from "./ast.js";

/** The query text is not valid PromQL (syntax or types). `pos` locates the problem. */
export class ParseError extends Error {
  override readonly name = "ParseError";
  constructor(
    message: string,
    readonly pos: PosRange,
    /** The whole query, to print line:col. */
    readonly query: string,
  ) {
    super(message);
  }

  /** Prometheus's form: `1:5: parse error: unexpected …`. */
  override toString(): string {
    const before = this.query.slice(0, this.pos.start);
    const line = before.split("\n").length;
    const col = this.pos.start - before.lastIndexOf("\n");
    return `${line}:${col}: parse error: ${this.message}`;
  }
}

/** Evaluation failed for a reason in the data or the query's semantics (errorType "execution"). */
export class ExecutionError extends Error {
  override readonly name: string = "ExecutionError";
}

/** "query timed out in <phase>" (errorType "timeout"). */
export class QueryTimeoutError extends ExecutionError {
  override readonly name = "QueryTimeoutError";
}

/** "query was canceled in <phase>" (errorType "canceled"). */
export class QueryCanceledError extends ExecutionError {
  override readonly name = "QueryCanceledError";
}

/** "query processing would load too many samples into memory in <phase>" (errorType "execution"). */
export class TooManySamplesError extends ExecutionError {
  override readonly name = "TooManySamplesError";
}

/** The storage failed underneath the query (errorType "internal"). */
export class QueryStorageError extends ExecutionError {
  override readonly name = "QueryStorageError";
}

/** Valid PromQL that cannot be run as asked, e.g. a range vector as a range query (bad_data). */
export class InvalidQueryError extends ExecutionError {
  override readonly name = "InvalidQueryError";
}

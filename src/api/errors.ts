/**
 * API errors in Prometheus's shape: every failure carries an errorType and an HTTP status chosen
 * as web/api/v1/api.go does (bad_data 400, execution 422, timeout 503, canceled 499, internal
 * 500, not_found 404), plus the service's own: unauthorized 401, forbidden 403, 405, 413, 429.
 */
import { AdmissionRejectedError } from "../exec/admission.js";
import {
  ExecutionError,
  InvalidQueryError,
  ParseError,
  QueryCanceledError,
  QueryStorageError,
  QueryTimeoutError,
} from "../promql/errors.js";

export type ErrorType =
  | "bad_data"
  | "execution"
  | "timeout"
  | "canceled"
  | "internal"
  | "unavailable"
  | "not_found"
  | "unauthorized"
  | "forbidden"
  | "method_not_allowed"
  | "payload_too_large"
  | "too_many_requests";

const STATUS: Record<ErrorType, number> = {
  bad_data: 400,
  execution: 422,
  timeout: 503,
  canceled: 499,
  internal: 500,
  unavailable: 503,
  not_found: 404,
  unauthorized: 401,
  forbidden: 403,
  method_not_allowed: 405,
  payload_too_large: 413,
  too_many_requests: 429,
};

export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly status: number;
  constructor(
    readonly type: ErrorType,
    message: string,
    /** Extra response headers, e.g. Retry-After or WWW-Authenticate. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.status = STATUS[type];
  }

  static badData(message: string): ApiError {
    return new ApiError("bad_data", message);
  }

  /** Prometheus's `invalid parameter "name": reason`. */
  static invalidParam(name: string, reason: string): ApiError {
    return new ApiError("bad_data", `invalid parameter ${JSON.stringify(name)}: ${reason}`);
  }
}

/** Maps whatever a query threw to the ApiError Prometheus would answer with. */
export function queryError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof AdmissionRejectedError) {
    return new ApiError("too_many_requests", err.message, { "Retry-After": String(err.retryAfterSeconds) });
  }
  if (err instanceof ParseError) return ApiError.invalidParam("query", err.toString());
  if (err instanceof InvalidQueryError) return ApiError.invalidParam("query", err.message);
  if (err instanceof QueryTimeoutError) return new ApiError("timeout", err.message);
  if (err instanceof QueryCanceledError) return new ApiError("canceled", err.message);
  if (err instanceof QueryStorageError) return new ApiError("internal", err.message);
  if (err instanceof ExecutionError) return new ApiError("execution", err.message);
  return new ApiError("internal", err instanceof Error ? err.message : String(err));
}

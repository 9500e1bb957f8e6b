/**
 * API errors in Prometheus's shape: every failure carries an errorType and an HTTP status chosen
 * as web/api/v1/api.go does (bad_data 400, execution 422, timeout 503, canceled 499, internal
 * 500, not_found 404), plus the service's own: unauthorized 401, forbidden 403, 405, 413, 429.
 */

import { TokenStoreUnavailableError } from "../auth/errors.js";
import { AdmissionRejectedError } from "../exec/admission.js";
import {
  ExecutionError,
  InvalidQueryError,
  ParseError,
  QueryCanceledError,
  QueryStorageError,
  QueryTimeoutError,
} from "../promql/errors.js";
import { EngineError } from "../remote/read/client.js";
import { StorageError } from "../storage/index.js";

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

/** A remote engine's failure: its own errorType, or 503 when it is away. */
function engineApiError(err: EngineError): ApiError {
  if (err.kind === "unavailable") {
    return new ApiError("unavailable", `${err.message}; retry shortly`, { "Retry-After": "5" });
  }
  return new ApiError(err.kind, err.message);
}

/**
 * The one mapping from whatever a request's handling threw to the ApiError Prometheus would answer
 * with: the engine's errors (as web/api/v1/api.go maps them), a remote engine's, the storage's,
 * the token store's, admission, and Fastify's own request errors. Anything else is a bug: an
 * internal error whose details go to the service log (the error handler logs it), not the client.
 */
export function toApiError(err: unknown, o: { maxBodyBytes?: number } = {}): ApiError {
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
  if (err instanceof EngineError) return engineApiError(err);
  if (err instanceof TokenStoreUnavailableError) {
    return new ApiError("unavailable", "token store unavailable; retry shortly", {
      "Retry-After": String(err.retryAfterSeconds),
    });
  }
  // A look-up the store could not answer: said as it is, as Prometheus does.
  if (err instanceof StorageError) return new ApiError("internal", err.message);
  const e = err as { statusCode?: number; message?: string };
  if (e.statusCode === 413) {
    return new ApiError(
      "payload_too_large",
      `request body is larger than the limit of ${o.maxBodyBytes ?? "the server's"} bytes`,
    );
  }
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) {
    return ApiError.badData(e.message ?? "bad request");
  }
  return new ApiError("internal", "internal error; the service log has the details");
}

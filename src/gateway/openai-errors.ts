/**
 * Errors the gateway itself answers, in OpenAI's shape
 * (`{"error": {"message", "type", "param", "code"}}`), so OpenAI SDKs raise their usual
 * exceptions (AuthenticationError, NotFoundError, …) for them. Errors from the upstream are
 * passed on as the upstream sent them, never rewritten.
 */
import type { ServerResponse } from "node:http";

export interface OpenAiError {
  status: number;
  message: string;
  type: string;
  code: string | null;
  param?: string | null;
}

export function sendError(res: ServerResponse, e: OpenAiError, extraHeaders?: Record<string, string>): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({
    error: { message: e.message, type: e.type, param: e.param ?? null, code: e.code },
  });
  res.writeHead(e.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...extraHeaders,
  });
  res.end(body);
}

/** Shows enough of a key to recognise it, as OpenAI's message does, never the whole secret. */
function redact(key: string): string {
  if (key.length <= 8) return "***";
  return `${key.slice(0, 3)}***${key.slice(-4)}`;
}

export const errors = {
  missingKey: (): OpenAiError => ({
    status: 401,
    message:
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    type: "invalid_request_error",
    code: null,
  }),
  badKey: (key: string): OpenAiError => ({
    status: 401,
    message: `Incorrect API key provided: ${redact(key)}.`,
    type: "invalid_request_error",
    code: "invalid_api_key",
  }),
  unknownModel: (model: string): OpenAiError => ({
    status: 404,
    message: `The model \`${model}\` does not exist or you do not have access to it.`,
    type: "invalid_request_error",
    code: "model_not_found",
  }),
  badRequest: (message: string, param: string | null = null): OpenAiError => ({
    status: 400,
    message,
    type: "invalid_request_error",
    param,
    code: null,
  }),
  tooLarge: (limit: number): OpenAiError => ({
    status: 413,
    message: `Request body larger than ${limit} bytes.`,
    type: "invalid_request_error",
    code: null,
  }),
  notFound: (method: string, url: string): OpenAiError => ({
    status: 404,
    message: `Invalid URL (${method} ${url})`,
    type: "invalid_request_error",
    code: null,
  }),
  methodNotAllowed: (method: string, url: string): OpenAiError => ({
    status: 405,
    message: `Method ${method} not allowed for ${url}`,
    type: "invalid_request_error",
    code: null,
  }),
  upstreamUnreachable: (model: string): OpenAiError => ({
    status: 502,
    message: `The server serving model \`${model}\` could not be reached.`,
    type: "server_error",
    code: "upstream_unreachable",
  }),
  upstreamTimeout: (model: string): OpenAiError => ({
    status: 504,
    message: `The server serving model \`${model}\` did not answer in time.`,
    type: "server_error",
    code: "upstream_timeout",
  }),
  shuttingDown: (): OpenAiError => ({
    status: 503,
    message: "The gateway is shutting down; retry.",
    type: "server_error",
    code: null,
  }),
};

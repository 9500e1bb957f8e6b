/**
 * The slice of OpenAI's HTTP API the mock model server speaks: request parsing, the prompt-token
 * estimate, and builders for OpenAI's exact response, chunk and error shapes. Kept apart from the
 * server so the load generator and tests share the same definitions (and the same token estimate).
 */

export type Endpoint = "chat" | "completions";
export type FinishReason = "stop" | "length";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What the server needs from a completion request body, validated. */
export interface CompletionRequest {
  endpoint: Endpoint;
  model: string;
  stream: boolean;
  /** `stream_options.include_usage` (only meaningful when streaming). */
  includeUsage: boolean;
  /** `max_tokens`, or `max_completion_tokens` for chat; undefined = the model's default length. */
  maxTokens: number | undefined;
  promptTokens: number;
}

export interface OpenAIError {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorBody(
  message: string,
  type: string,
  param: string | null,
  code: string | null,
): OpenAIError {
  return { error: { message, type, param, code } };
}

/**
 * Prompt-token estimate: ceil(UTF-16 code units / 4), OpenAI's rule of thumb of ~4 characters per
 * token for English. Deterministic so that anything that knows the prompt (the load generator, when
 * a stream carries no usage) computes exactly what the mock server reports in `usage`.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Chat prompts: the estimate over all text content of all messages, concatenated (string contents
 * and `{type: "text"}` parts; images and other parts count nothing). At least 1: even an empty
 * prompt costs a token in real chat templates.
 */
export function estimateChatPromptTokens(messages: readonly unknown[]): number {
  let chars = 0;
  for (const m of messages) {
    if (!isRecord(m)) continue;
    const c = m.content;
    if (typeof c === "string") chars += c.length;
    else if (Array.isArray(c)) {
      for (const part of c) if (isRecord(part) && typeof part.text === "string") chars += part.text.length;
    }
  }
  return Math.max(1, Math.ceil(chars / 4));
}

/**
 * Completion prompts, in all four shapes OpenAI accepts: a string, strings (estimate per string,
 * summed), token ids (their count), arrays of token ids (summed). At least 1.
 */
export function estimateCompletionPromptTokens(prompt: unknown): number {
  let n = 0;
  if (typeof prompt === "string") n = estimateTokens(prompt);
  else if (Array.isArray(prompt)) {
    for (const p of prompt) {
      if (typeof p === "string") n += estimateTokens(p);
      else if (typeof p === "number") n += 1;
      else if (Array.isArray(p)) n += p.length;
    }
  }
  return Math.max(1, n);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** A validated request, or the OpenAI 400 error to answer with. */
export function parseCompletionRequest(
  endpoint: Endpoint,
  body: unknown,
): CompletionRequest | { status: 400; body: OpenAIError } {
  const bad = (message: string, param: string | null) => ({
    status: 400 as const,
    body: errorBody(message, "invalid_request_error", param, null),
  });
  if (!isRecord(body)) return bad("The request body must be a JSON object.", null);
  const model = body.model;
  if (typeof model !== "string" || model === "") return bad("you must provide a model parameter", "model");
  let promptTokens: number;
  if (endpoint === "chat") {
    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0) {
      return bad("'messages' must be a non-empty array.", "messages");
    }
    promptTokens = estimateChatPromptTokens(messages);
  } else {
    if (body.prompt === undefined) return bad("'prompt' is a required property.", "prompt");
    promptTokens = estimateCompletionPromptTokens(body.prompt);
  }
  const rawMax = endpoint === "chat" ? (body.max_completion_tokens ?? body.max_tokens) : body.max_tokens;
  let maxTokens: number | undefined;
  if (rawMax !== undefined && rawMax !== null) {
    if (typeof rawMax !== "number" || !Number.isInteger(rawMax) || rawMax < 1) {
      return bad(
        `Invalid 'max_tokens': expected an integer >= 1, got ${JSON.stringify(rawMax)}.`,
        "max_tokens",
      );
    }
    maxTokens = rawMax;
  }
  const stream = body.stream === true;
  const so = body.stream_options;
  // OpenAI and vLLM both refuse this, so a gateway that adds stream_options to every request
  // (instead of only to streamed ones) fails here as it would in production.
  if (so !== undefined && so !== null && !stream) {
    return bad("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options");
  }
  const includeUsage = stream && isRecord(so) && so.include_usage === true;
  return { endpoint, model, stream, includeUsage, maxTokens, promptTokens };
}

export function usageOf(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/** Fields every chunk / response of one request repeats. */
export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
  /** When the client asked for usage, OpenAI puts `usage: null` on every chunk but the last. */
  includeUsage: boolean;
}

type Json = Record<string, unknown>;

function chunkHead(m: ResponseMeta, endpoint: Endpoint): Json {
  const object = endpoint === "chat" ? "chat.completion.chunk" : "text_completion";
  return { id: m.id, object, created: m.created, model: m.model, system_fingerprint: SYSTEM_FINGERPRINT };
}

const SYSTEM_FINGERPRINT = "fp_sim";

/** One SSE event. */
export function sse(data: Json | "[DONE]"): string {
  return `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
}

function withUsageNull(m: ResponseMeta, chunk: Json): Json {
  if (m.includeUsage) chunk.usage = null;
  return chunk;
}

/** Chat's opening chunk: the assistant role with empty content, as OpenAI sends it. */
export function chatRoleChunk(m: ResponseMeta): Json {
  return withUsageNull(m, {
    ...chunkHead(m, "chat"),
    choices: [
      {
        index: 0,
        delta: { role: "assistant", content: "", refusal: null },
        logprobs: null,
        finish_reason: null,
      },
    ],
  });
}

/** One content token. */
export function contentChunk(m: ResponseMeta, endpoint: Endpoint, text: string): Json {
  const choice =
    endpoint === "chat"
      ? { index: 0, delta: { content: text }, logprobs: null, finish_reason: null }
      : { text, index: 0, logprobs: null, finish_reason: null };
  return withUsageNull(m, { ...chunkHead(m, endpoint), choices: [choice] });
}

/** The chunk that carries finish_reason and no content. */
export function finishChunk(m: ResponseMeta, endpoint: Endpoint, reason: FinishReason): Json {
  const choice =
    endpoint === "chat"
      ? { index: 0, delta: {}, logprobs: null, finish_reason: reason }
      : { text: "", index: 0, logprobs: null, finish_reason: reason };
  return withUsageNull(m, { ...chunkHead(m, endpoint), choices: [choice] });
}

/** OpenAI's extra last chunk for `stream_options.include_usage`: no choices, the whole usage. */
export function usageChunk(m: ResponseMeta, endpoint: Endpoint, usage: Usage): Json {
  return { ...chunkHead(m, endpoint), choices: [], usage };
}

/** A non-streaming response body. */
export function completionBody(
  m: ResponseMeta,
  endpoint: Endpoint,
  text: string,
  reason: FinishReason,
  usage: Usage,
): Json {
  if (endpoint === "chat") {
    return {
      id: m.id,
      object: "chat.completion",
      created: m.created,
      model: m.model,
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: text, refusal: null },
          logprobs: null,
          finish_reason: reason,
        },
      ],
      usage,
    };
  }
  return {
    id: m.id,
    object: "text_completion",
    created: m.created,
    model: m.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [{ text, index: 0, logprobs: null, finish_reason: reason }],
    usage,
  };
}

/** `GET /v1/models`. */
export function modelsList(names: readonly string[], created: number, ownedBy: string): Json {
  return { object: "list", data: names.map((id) => ({ id, object: "model", created, owned_by: ownedBy })) };
}

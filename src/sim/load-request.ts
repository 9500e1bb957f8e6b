/**
 * One load-generator request: drawing its shape (endpoint, streaming, usage, prompt, max_tokens)
 * and sending it, reading the response to the end and reducing it to what the load statistics
 * count. Scheduling and aggregation live in ./load.ts.
 */
import http from "node:http";
import https from "node:https";
import { bernoulli, type Distribution, sampleCount, type Uniform } from "./distributions.js";
import { type Endpoint, estimateChatPromptTokens, estimateCompletionPromptTokens } from "./openai.js";
import { SseParser } from "./sse-parser.js";

/** The request mix; every fraction is a probability per request. */
export interface RequestMix {
  /** /v1/chat/completions rather than /v1/completions. Default 0.7. */
  chatFraction?: number;
  /** Streaming requests. Default 0.8. */
  streamFraction?: number;
  /** Of the streaming requests, those asking `stream_options: {include_usage: true}`. Default 0.5. */
  includeUsageFraction?: number;
  /** Requests that set max_tokens (else the server's default length applies). Default 0.8. */
  maxTokensFraction?: number;
  /** Prompt length in (estimated) tokens. */
  promptTokens?: Distribution;
  /** max_tokens when set. */
  maxTokens?: Distribution;
}

export const DEFAULT_PROMPT_TOKENS: Distribution = {
  kind: "lognormal",
  median: 200,
  sigma: 0.8,
  min: 1,
  max: 4000,
};
export const DEFAULT_MAX_TOKENS: Distribution = {
  kind: "lognormal",
  median: 100,
  sigma: 0.6,
  min: 1,
  max: 512,
};

export interface RequestSpec {
  endpoint: Endpoint;
  stream: boolean;
  includeUsage: boolean;
  body: Record<string, unknown>;
  /** The shared estimate (./openai.ts) of the prompt, for responses that carry no usage. */
  promptTokens: number;
}

// Cut at a random offset to make prompts; the prompt's content is irrelevant, only its length.
const CORPUS =
  "Managed inference serves open models behind an OpenAI compatible API. Each project sees request " +
  "rates, token rates, time to first token and time per output token for every model it calls. ";

function promptText(rand: Uniform, tokens: number): string {
  const chars = tokens * 4;
  let text = CORPUS.slice(Math.floor(rand() * CORPUS.length));
  while (text.length < chars) text += CORPUS;
  return text.slice(0, chars);
}

/** Draws one request for `model` from the mix (the draws depend only on `rand`'s sequence). */
export function drawRequest(rand: Uniform, model: string, mix: RequestMix): RequestSpec {
  const endpoint: Endpoint = bernoulli(rand, mix.chatFraction ?? 0.7) ? "chat" : "completions";
  const stream = bernoulli(rand, mix.streamFraction ?? 0.8);
  const includeUsage = stream && bernoulli(rand, mix.includeUsageFraction ?? 0.5);
  const text = promptText(rand, sampleCount(rand, mix.promptTokens ?? DEFAULT_PROMPT_TOKENS));
  const maxTokens = bernoulli(rand, mix.maxTokensFraction ?? 0.8)
    ? sampleCount(rand, mix.maxTokens ?? DEFAULT_MAX_TOKENS)
    : undefined;
  const body: Record<string, unknown> = { model };
  let promptTokens: number;
  if (endpoint === "chat") {
    const messages = [
      { role: "system", content: "You are a helpful assistant." },
      { role: "user", content: text },
    ];
    body.messages = messages;
    promptTokens = estimateChatPromptTokens(messages);
    // Both spellings of the limit, as clients in the wild send either.
    if (maxTokens !== undefined) body[rand() < 0.5 ? "max_tokens" : "max_completion_tokens"] = maxTokens;
  } else {
    body.prompt = text;
    promptTokens = estimateCompletionPromptTokens(text);
    if (maxTokens !== undefined) body.max_tokens = maxTokens;
  }
  if (stream) body.stream = true;
  if (includeUsage) body.stream_options = { include_usage: true };
  return { endpoint, stream, includeUsage, body, promptTokens };
}

/** How a request ended, reduced to what the statistics count. */
export interface RequestOutcome {
  ok: boolean;
  /**
   * For errors: `http_<status>`; `network` (no response: refused, or dropped before the headers);
   * `incomplete` (the body ended early: a stream without [DONE], a dropped connection); `timeout`;
   * `bad_response` (unparseable JSON).
   */
  error?: string;
  inputTokens: number;
  outputTokens: number;
  /** The response had no usage: tokens are the prompt estimate and the content chunks counted. */
  usageMissing: boolean;
  /** A stream carried a usage chunk although the request did not ask for one. */
  unexpectedUsage: boolean;
}

function failed(error: string): RequestOutcome {
  return { ok: false, error, inputTokens: 0, outputTokens: 0, usageMissing: false, unexpectedUsage: false };
}

interface UsageLike {
  prompt_tokens: number;
  completion_tokens: number;
}

function usageIn(x: unknown): UsageLike | undefined {
  if (typeof x !== "object" || x === null) return undefined;
  const u = (x as { usage?: unknown }).usage;
  if (typeof u !== "object" || u === null) return undefined;
  const { prompt_tokens, completion_tokens } = u as Record<string, unknown>;
  if (typeof prompt_tokens !== "number" || typeof completion_tokens !== "number") return undefined;
  return { prompt_tokens, completion_tokens };
}

/** A content token of a chunk: chat's non-empty delta.content, completions' non-empty text. */
function hasContent(chunk: unknown): boolean {
  const choices = (chunk as { choices?: unknown }).choices;
  if (!Array.isArray(choices)) return false;
  return choices.some((c: { delta?: { content?: unknown }; text?: unknown }) => {
    const t = c?.delta?.content ?? c?.text;
    return typeof t === "string" && t.length > 0;
  });
}

/** Keep-alive agents for http: and https: base URLs; the load destroys them when it ends. */
export interface Agents {
  http: http.Agent;
  https: https.Agent;
}

export function createAgents(maxSockets: number): Agents {
  return {
    http: new http.Agent({ keepAlive: true, maxSockets }),
    https: new https.Agent({ keepAlive: true, maxSockets }),
  };
}

/**
 * Sends the request and reads the whole response; never rejects. node:http rather than fetch: a
 * web-stream body costs several times more CPU per SSE chunk, and the load often shares a process
 * (and two cores) with the gateway and the servers whose latencies it is there to exercise.
 */
export function sendRequest(
  agents: Agents,
  baseUrl: string,
  apiKey: string,
  spec: RequestSpec,
  timeoutMs: number,
): Promise<RequestOutcome> {
  const url = new URL(baseUrl + (spec.endpoint === "chat" ? "/v1/chat/completions" : "/v1/completions"));
  const payload = JSON.stringify(spec.body);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (o: RequestOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const secure = url.protocol === "https:";
    const req = (secure ? https : http).request(url, {
      method: "POST",
      agent: secure ? agents.https : agents.http,
      headers: {
        authorization: `Bearer ${apiKey}`,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(payload),
      },
    });
    const timer = setTimeout(() => {
      settle(failed("timeout"));
      req.destroy();
    }, timeoutMs);
    req.on("error", () => settle(failed("network")));
    req.on("response", (res) => {
      // 'end' comes only for a complete body; a cut connection gives 'error' and/or 'close' instead.
      res.on("error", () => settle(failed("incomplete")));
      res.on("close", () => settle(failed("incomplete")));
      if (res.statusCode !== 200) {
        res.resume();
        res.on("end", () => settle(failed(`http_${res.statusCode}`)));
        return;
      }
      res.setEncoding("utf8");
      if (spec.stream) {
        const reader = new StreamReader(spec);
        res.on("data", (text: string) => reader.feed(text));
        res.on("end", () => settle(reader.result()));
      } else {
        let text = "";
        res.on("data", (t: string) => {
          text += t;
        });
        res.on("end", () => settle(jsonOutcome(text, spec)));
      }
    });
    req.end(payload);
  });
}

function jsonOutcome(text: string, spec: RequestSpec): RequestOutcome {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return failed("bad_response");
  }
  const usage = usageIn(body);
  if (usage) {
    return {
      ok: true,
      inputTokens: usage.prompt_tokens,
      outputTokens: usage.completion_tokens,
      usageMissing: false,
      unexpectedUsage: false,
    };
  }
  // Without usage a whole body gives no token count; ~4 characters a token, like the prompt estimate.
  const choice = (body as { choices?: Array<{ message?: { content?: unknown }; text?: unknown }> })
    .choices?.[0];
  const content = choice?.message?.content ?? choice?.text;
  const outputTokens = typeof content === "string" ? Math.ceil(content.length / 4) : 0;
  return {
    ok: true,
    inputTokens: spec.promptTokens,
    outputTokens,
    usageMissing: true,
    unexpectedUsage: false,
  };
}

/** Follows an SSE body: content chunks, the usage chunk, [DONE]. */
class StreamReader {
  private readonly parser = new SseParser();
  private contentChunks = 0;
  private usage: UsageLike | undefined;
  private done = false;
  private bad = false;

  constructor(private readonly spec: RequestSpec) {}

  feed(text: string): void {
    if (this.bad) return;
    for (const data of this.parser.feed(text)) {
      if (data === "[DONE]") {
        this.done = true;
        continue;
      }
      let chunk: unknown;
      try {
        chunk = JSON.parse(data);
      } catch {
        this.bad = true;
        return;
      }
      this.usage = usageIn(chunk) ?? this.usage;
      if (hasContent(chunk)) this.contentChunks++;
    }
  }

  result(): RequestOutcome {
    if (this.bad) return failed("bad_response");
    if (!this.done) return failed("incomplete");
    const unexpectedUsage = this.usage !== undefined && !this.spec.includeUsage;
    if (this.usage) {
      return {
        ok: true,
        inputTokens: this.usage.prompt_tokens,
        outputTokens: this.usage.completion_tokens,
        usageMissing: false,
        unexpectedUsage,
      };
    }
    return {
      ok: true,
      inputTokens: this.spec.promptTokens,
      outputTokens: this.contentChunks,
      usageMissing: true,
      unexpectedUsage,
    };
  }
}

/**
 * A tiny OpenAI-compatible model server for the gateway tests, with knobs for latency and for
 * every way an upstream can misbehave. Output is deterministic (fixed ids and `created`), so the
 * bytes a client gets through the gateway can be compared with the bytes it gets directly.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Scenario {
  /** Content tokens to generate (one per stream event). */
  tokens: number;
  promptTokens: number;
  /** Delay before the first content token, ms. */
  ttftMs: number;
  /** Delay between content tokens, ms. */
  tpotMs: number;
  /** Honour stream_options.include_usage (false: a server that ignores it). */
  usage: boolean;
  /** Answer with this status and an OpenAI error body instead. */
  status?: number;
  /** Never answer. */
  hang?: boolean;
  /** Stream: stop sending after this many content tokens (and keep the connection open). */
  stallAfter?: number;
  /** Stream: destroy the connection after this many content tokens. */
  dropAfter?: number;
  /** Stream: send an error event after this many content tokens, then [DONE]. */
  errorEventAfter?: number;
  /** Non-stream: answer 200 with this raw body. */
  rawBody?: string;
  /** Stream: send exactly these bytes as the event stream. */
  rawStream?: string;
  /** Split every event across two writes (exercises the gateway's event reassembly). */
  splitEvents?: boolean;
}

export const DEFAULT_SCENARIO: Scenario = { tokens: 5, promptTokens: 7, ttftMs: 0, tpotMs: 0, usage: true };

export interface SeenRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** Set when the connection closed before the response was complete (e.g. gateway abort). */
  aborted: boolean;
}

export interface MockUpstream {
  url: string;
  /** Base URL for the gateway config (…/v1). */
  base: string;
  scenario: Scenario;
  requests: SeenRequest[];
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** No timer at all for 0 ms, so a zero-latency mock really answers at once. */
const pause = (ms: number) => (ms > 0 ? sleep(ms) : undefined);

function chunkJson(model: string, object: string, choice: Record<string, unknown>): string {
  return JSON.stringify({
    id: "cmpl-test",
    object,
    created: 1700000000,
    model,
    choices: [{ index: 0, ...choice }],
  });
}

async function writeEvent(res: ServerResponse, data: string, split: boolean): Promise<void> {
  const ev = `data: ${data}\n\n`;
  if (!split) {
    res.write(ev);
    return;
  }
  const cut = Math.floor(ev.length / 2);
  res.write(ev.slice(0, cut));
  await sleep(1);
  res.write(ev.slice(cut));
}

async function serve(s: Scenario, seen: SeenRequest, req: IncomingMessage, res: ServerResponse) {
  const body = seen.body;
  const model = String(body.model);
  const chat = seen.path.endsWith("/chat/completions");
  if (s.hang) return;
  if (s.status !== undefined) {
    const err = JSON.stringify({
      error: { message: `mock failure ${s.status}`, type: "mock", param: null, code: null },
    });
    res.writeHead(s.status, { "content-type": "application/json", "x-mock": "1" });
    res.end(err);
    return;
  }
  const usage = { prompt_tokens: s.promptTokens, completion_tokens: s.tokens, total_tokens: 0 };
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  if (body.stream !== true) {
    await pause(s.ttftMs + s.tpotMs * Math.max(0, s.tokens - 1));
    const text = Array.from({ length: s.tokens }, (_, i) => `tok${i} `).join("");
    const doc =
      s.rawBody ??
      JSON.stringify({
        id: "cmpl-test",
        object: chat ? "chat.completion" : "text_completion",
        created: 1700000000,
        model,
        choices: [
          chat
            ? { index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }
            : { index: 0, text, finish_reason: "stop" },
        ],
        usage,
      });
    res.writeHead(200, { "content-type": "application/json", "x-request-id": "req-mock" });
    res.end(doc);
    return;
  }
  const object = chat ? "chat.completion.chunk" : "text_completion";
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.flushHeaders();
  if (s.rawStream !== undefined) {
    res.end(s.rawStream);
    return;
  }
  if (chat)
    await writeEvent(res, chunkJson(model, object, { delta: { role: "assistant", content: "" } }), false);
  await pause(s.ttftMs);
  for (let i = 0; i < s.tokens; i++) {
    if (i > 0) await pause(s.tpotMs);
    if (i === s.stallAfter) return;
    if (i === s.dropAfter) {
      req.socket.destroy();
      return;
    }
    if (i === s.errorEventAfter) {
      res.write(
        `data: ${JSON.stringify({ error: { message: "engine died", type: "InternalServerError" } })}\n\n`,
      );
      res.end("data: [DONE]\n\n");
      return;
    }
    const choice = chat ? { delta: { content: `tok${i} ` } } : { text: `tok${i} ` };
    await writeEvent(
      res,
      chunkJson(model, object, { ...choice, finish_reason: null }),
      s.splitEvents === true,
    );
    if (res.destroyed) return;
  }
  const last = chat ? { delta: {}, finish_reason: "stop" } : { text: "", finish_reason: "stop" };
  await writeEvent(res, chunkJson(model, object, last), false);
  const so = body.stream_options as { include_usage?: boolean } | undefined;
  if (s.usage && so?.include_usage === true) {
    const u = JSON.stringify({ id: "cmpl-test", object, created: 1700000000, model, choices: [], usage });
    await writeEvent(res, u, false);
  }
  res.end("data: [DONE]\n\n");
}

export async function startMockUpstream(scenario: Partial<Scenario> = {}): Promise<MockUpstream> {
  const requests: SeenRequest[] = [];
  const mock = { scenario: { ...DEFAULT_SCENARIO, ...scenario }, requests };
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const seen: SeenRequest = {
        path: req.url ?? "",
        headers: req.headers,
        body: JSON.parse(Buffer.concat(parts).toString("utf8")) as Record<string, unknown>,
        aborted: false,
      };
      requests.push(seen);
      res.on("close", () => {
        if (!res.writableFinished) seen.aborted = true;
      });
      serve({ ...mock.scenario }, seen, req, res).catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return Object.assign(mock, {
    url,
    base: `${url}/v1`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}

/** A raw HTTP exchange's outcome: status, headers and the exact body bytes. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const clientAgent = new http.Agent({ keepAlive: true });

/** POSTs JSON (or GETs) and collects the response bytes. */
export function request(
  url: string,
  opts: { method?: string; body?: unknown; key?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = { ...opts.headers };
    if (payload !== undefined) headers["content-type"] = "application/json";
    if (opts.key !== undefined) headers.authorization = `Bearer ${opts.key}`;
    const req = http.request(url, {
      method: opts.method ?? (payload ? "POST" : "GET"),
      headers,
      agent: clientAgent,
    });
    req.on("response", (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(payload);
  });
}

export { sleep };

/**
 * A mock OpenAI-compatible model server with per-model lognormal TTFT and TPOT: `GET /v1/models`,
 * `POST /v1/chat/completions`, `POST /v1/completions`, streaming (SSE) and not, in OpenAI's shapes
 * (./openai.ts). It stands in for vLLM & co. behind the metering gateway in the demo and the tests.
 *
 * Plain node:http rather than Fastify: the server is mostly hand-written SSE writes on a shared
 * clock (./token-clock.ts), and no framework layer sits between the drawn latencies and the socket.
 *
 * Per request (index i in arrival order) a PRNG seeded from (seed, i) draws, in this order: TTFT,
 * TPOT, the output length (when the request sets no max_tokens), the injected fault, the token words.
 * TPOT is drawn once per request, as a request's decode speed: that is what the gateway measures
 * ((last − first) / (n − 1)), and per-token draws would move its median to the mean e^{σ²/2}·median.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  bernoulli,
  type Distribution,
  deriveSeed,
  lognormal,
  sampleCount,
  type Uniform,
} from "./distributions.js";
import {
  type CompletionRequest,
  chatRoleChunk,
  completionBody,
  contentChunk,
  errorBody,
  finishChunk,
  modelsList,
  parseCompletionRequest,
  type ResponseMeta,
  sse,
  usageChunk,
  usageOf,
} from "./openai.js";
import { mulberry32 } from "./random.js";
import {
  type ModelServerStats,
  type Outcome,
  type ServedRequest,
  ServerBook,
  type SimRequestInfo,
} from "./server-book.js";
import { TokenClock } from "./token-clock.js";

export type { ModelServerStats, ModelStats, Outcome, ServedRequest, SimRequestInfo } from "./server-book.js";

/** Lognormal latency in seconds: median and σ of the underlying normal. */
export interface LatencyDistribution {
  median: number;
  sigma: number;
}

export interface ModelProfile {
  /** Request arrival → first content token. */
  ttft: LatencyDistribution;
  /** Time between consecutive content tokens (per request). */
  tpot: LatencyDistribution;
  /** Output length when the request sets neither max_tokens nor max_completion_tokens. */
  outputTokens?: Distribution;
}

export const DEFAULT_OUTPUT_TOKENS: Distribution = {
  kind: "lognormal",
  median: 120,
  sigma: 0.6,
  min: 1,
  max: 1024,
};

/** What a test can make a request do instead of succeeding (`afterTokens` ≥ the length: no effect). */
export type Fault =
  /** Answer at once with this status and an OpenAI error body. */
  | { kind: "error"; status: number; message?: string }
  /** Destroy the connection after this many content tokens (non-streaming: instead of answering). */
  | { kind: "cut"; afterTokens: number }
  /** Stop sending after this many content tokens, keep the connection open (for timeout tests). */
  | { kind: "stall"; afterTokens: number };

export interface ModelServerOptions {
  models: Record<string, ModelProfile>;
  seed?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /** Fraction of requests answered 500 at once. */
  errorRate?: number;
  /** Fraction of requests whose connection is destroyed mid-way (after a uniform 0…n−1 tokens). */
  cutRate?: number;
  /** Deterministic faults for tests; when it returns a fault, the rates above are not consulted. */
  fault?: (req: SimRequestInfo) => Fault | undefined;
  /**
   * When chat's role chunk goes out: with the first token (OpenAI, vLLM) or as soon as the request
   * arrives, which checks that a gateway's TTFT ignores the empty-content role chunk.
   */
  roleChunk?: "with-first-token" | "immediate";
  /** `owned_by` in /v1/models. */
  ownedBy?: string;
  /** How many served requests requestLog() keeps (the most recent). Default 10 000. */
  logLimit?: number;
  /**
   * The clock of every request's arrival and token deadlines (default: real time). Tests pass one
   * on a fake time source to place each token exactly, whatever the machine's load.
   */
  clock?: TokenClock;
}

export interface RunningModelServer {
  /** Origin, e.g. http://127.0.0.1:41234 (paths are /v1/...). */
  url: string;
  /** OpenAI base URL: url + "/v1", what gateways and SDKs are configured with. */
  baseUrl: string;
  port: number;
  models: readonly string[];
  stats(): ModelServerStats;
  requestLog(): readonly ServedRequest[];
  close(): Promise<void>;
}

const WORDS = ["the", "model", "token", "stream", "fleet", "latency", "metric", "project", "serve", "quick"];
const MAX_BODY_BYTES = 8 << 20;

export async function startModelServer(options: ModelServerOptions): Promise<RunningModelServer> {
  const names = Object.keys(options.models);
  const seed = options.seed ?? 1;
  const ownedBy = options.ownedBy ?? "sim";
  const created = Math.floor(Date.now() / 1000);
  const clock = options.clock ?? new TokenClock();
  const open = new Set<http.ServerResponse>();
  const book = new ServerBook(names, options.logLimit ?? 10_000);
  let nextIndex = 0;

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  const reject = (res: http.ServerResponse, status: number, body: unknown) => {
    book.rejected++;
    json(res, status, body);
  };

  function chooseFault(info: SimRequestInfo, rand: Uniform): Fault | undefined {
    if (options.fault) return options.fault(info);
    if (bernoulli(rand, options.errorRate ?? 0)) return { kind: "error", status: 500 };
    if (bernoulli(rand, options.cutRate ?? 0)) {
      return { kind: "cut", afterTokens: Math.floor(rand() * info.completionTokens) };
    }
    return undefined;
  }

  function serve(req: CompletionRequest, t0: number, res: http.ServerResponse): void {
    const index = nextIndex++;
    const rand = mulberry32(deriveSeed(seed, index));
    const profile = options.models[req.model];
    const ttft = lognormal(rand, profile.ttft.median, profile.ttft.sigma);
    const tpot = lognormal(rand, profile.tpot.median, profile.tpot.sigma);
    const n = req.maxTokens ?? sampleCount(rand, profile.outputTokens ?? DEFAULT_OUTPUT_TOKENS);
    const reason = req.maxTokens !== undefined ? "length" : "stop";
    const info: SimRequestInfo = { ...req, index, completionTokens: n };
    const fault = chooseFault(info, rand);
    book.accepted(req.model);

    const served: ServedRequest = {
      ...info,
      outcome: "ok",
      status: 200,
      tokensSent: 0,
      ttft,
      tpot,
      measuredTtft: undefined,
      measuredTpot: undefined,
    };
    let finished = false;
    let firstAt = 0;
    const finish = (outcome: Outcome) => {
      if (finished) return;
      finished = true;
      open.delete(res);
      served.outcome = outcome;
      book.record(served);
    };
    const noteTokens = (count: number, now: number) => {
      if (count === 0) return;
      if (served.tokensSent === 0) {
        firstAt = now;
        served.measuredTtft = (now - t0) / 1000;
      }
      served.tokensSent += count;
      if (served.tokensSent > 1) served.measuredTpot = (now - firstAt) / 1000 / (served.tokensSent - 1);
    };

    if (fault?.kind === "error") {
      served.status = fault.status;
      const type =
        fault.status === 429
          ? "rate_limit_error"
          : fault.status >= 500
            ? "server_error"
            : "invalid_request_error";
      const message = fault.message ?? "The server had an error while processing your request.";
      json(res, fault.status, errorBody(message, type, null, null));
      finish("error");
      return;
    }

    open.add(res);
    const meta: ResponseMeta = {
      id: `${req.endpoint === "chat" ? "chatcmpl" : "cmpl"}-sim${seed}x${index}`,
      created: Math.floor(Date.now() / 1000),
      model: req.model,
      includeUsage: req.includeUsage,
    };
    const word = () => ` ${WORDS[Math.floor(rand() * WORDS.length)]}`;
    const firstDeadline = t0 + ttft * 1000;
    const deadline = (k: number) => firstDeadline + k * tpot * 1000;
    const stopAt = fault ? Math.min(fault.afterTokens, n) : n;
    let entry = { cancelled: false };
    let stalled = false;
    res.on("close", () => {
      entry.cancelled = true;
      finish(stalled ? "stalled" : "client_closed");
    });

    if (!req.stream) {
      // The whole body goes out at once, so there is no per-token timing to report (measured* stay
      // undefined); the delay is still TTFT + (n − 1)·TPOT, as a real server would take.
      entry = clock.at(deadline(n - 1), () => {
        if (fault?.kind === "cut") {
          res.destroy();
          finish("cut");
        } else if (fault?.kind === "stall") {
          stalled = true;
        } else {
          let text = "";
          for (let k = 0; k < n; k++) text += word();
          served.tokensSent = n;
          json(res, 200, completionBody(meta, req.endpoint, text, reason, usageOf(req.promptTokens, n)));
          finish("ok");
        }
      });
      return;
    }

    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-request-id": meta.id,
    });
    res.flushHeaders();
    let roleSent = req.endpoint !== "chat";
    if (!roleSent && options.roleChunk === "immediate") {
      res.write(sse(chatRoleChunk(meta)));
      roleSent = true;
    }
    // Writes every token due by now (+ the clock's slack) in one write, then sleeps until the next.
    const emitDue = (now: number) => {
      let buf = "";
      if (!roleSent) {
        buf += sse(chatRoleChunk(meta));
        roleSent = true;
      }
      let k = served.tokensSent;
      while (k < stopAt && deadline(k) <= now + clock.slackMs) {
        buf += sse(contentChunk(meta, req.endpoint, word()));
        k++;
      }
      noteTokens(k - served.tokensSent, now);
      if (k === n) {
        buf += sse(finishChunk(meta, req.endpoint, reason));
        if (req.includeUsage) buf += sse(usageChunk(meta, req.endpoint, usageOf(req.promptTokens, n)));
        buf += sse("[DONE]");
        res.end(buf);
        finish("ok");
        return;
      }
      if (k === stopAt) {
        // A fault's turn: cut drops the connection once the tokens before it are on the wire
        // (destroying at once would discard them), stall just never schedules another write.
        if (fault?.kind === "cut") {
          finish("cut");
          res.write(buf, () => res.destroy());
        } else {
          if (buf) res.write(buf);
          stalled = true;
        }
        return;
      }
      if (buf) res.write(buf);
      entry = clock.at(deadline(k), emitDue);
    };
    entry = clock.at(firstDeadline, emitDue);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const t0 = clock.now();
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/v1/models")
      return json(res, 200, modelsList(names, created, ownedBy));
    if (req.method === "GET" && path === "/health") return json(res, 200, { status: "ok" });
    const endpoint =
      path === "/v1/chat/completions" ? "chat" : path === "/v1/completions" ? "completions" : undefined;
    if (req.method !== "POST" || endpoint === undefined) {
      return reject(
        res,
        404,
        errorBody(`Invalid URL (${req.method} ${path})`, "invalid_request_error", null, null),
      );
    }
    const raw = await readBody(req);
    if (raw === undefined) {
      // The rest of the body was not read, so the connection can't carry another request.
      res.setHeader("connection", "close");
      return reject(res, 413, errorBody("Request body too large.", "invalid_request_error", null, null));
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return reject(
        res,
        400,
        errorBody("We could not parse the JSON body of your request.", "invalid_request_error", null, null),
      );
    }
    const parsed = parseCompletionRequest(endpoint, body);
    if ("status" in parsed) return reject(res, parsed.status, parsed.body);
    if (!Object.hasOwn(options.models, parsed.model)) {
      const message = `The model \`${parsed.model}\` does not exist or you do not have access to it.`;
      return reject(res, 404, errorBody(message, "invalid_request_error", null, "model_not_found"));
    }
    serve(parsed, t0, res);
  }

  const server = http.createServer({ noDelay: true }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, errorBody(String(err), "server_error", null, null));
      else res.destroy();
    });
  });
  // Longer than clients' usual idle pools, so a gateway's reused connection is rarely closed under it.
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? "127.0.0.1";

  let closing: Promise<void> | undefined;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    port,
    models: names,
    stats: () => book.stats(),
    requestLog: () => book.requestLog(),
    close: () => {
      // Idempotent: a fleet and a test's finally may both close the same server.
      closing ??= (async () => {
        clock.clear();
        for (const res of open) res.destroy();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}

/** The body as text, or undefined past MAX_BODY_BYTES. */
async function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    const b = c as Buffer;
    size += b.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}

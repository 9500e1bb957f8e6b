/**
 * One proxied completion: sends the request upstream, forwards the response to the client, and
 * measures it. The client gets the upstream's status, headers (minus hop-by-hop ones) and body
 * bytes; the only change is that, for a stream, the usage-only chunk the gateway asked for on the
 * client's behalf is left out.
 *
 * Measurements (all from the input's `clock`, a monotonic clock: performance.now() unless a test
 * drives one by hand):
 * - TTFT: from the request's arrival at the gateway to the write, to the client, of the first
 *   event carrying generated content (text, reasoning, refusal or tool calls). Streams only: a
 *   non-streamed response delivers every token at once, so its "first token" time is the whole
 *   generation and would drag the TTFT histogram towards end-to-end latency.
 * - TPOT: (last content write − first content write) / (output tokens − 1), for streams that
 *   complete with more than one output token.
 * - Tokens: from the response's `usage`. A stream without usage (an upstream that ignores
 *   stream_options, or a model with `stream_usage: false`) counts one output token per content
 *   event, which is exact for servers that send a token per event (vLLM, SGLang, TGI) and an
 *   undercount for those that batch; its input tokens are then unknown and counted as 0. Likewise
 *   a request cut short (client gone, upstream failure) counts the content events seen so far.
 *
 * Every exchange ends in exactly one `record` call, whatever happens: success, upstream status,
 * timeout, upstream failure or client disconnect.
 */
import type http from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ErrorReason, Meter } from "./meter.js";
import { errors, sendError } from "./openai-errors.js";
import { inspectEvent, readUsage, SseSplitter, type Usage } from "./sse.js";
import { responseHeaders, type UpstreamTarget, upstreamRequestHeaders } from "./upstream.js";

/** Non-streamed bodies are kept (to read usage) up to this size; larger ones pass unread. */
const MAX_KEPT_BODY = 64 * 1024 * 1024;

export interface ExchangeInput {
  req: IncomingMessage;
  res: ServerResponse;
  target: UpstreamTarget;
  meter: Meter;
  slot: number;
  /** "/chat/completions" or "/completions". */
  path: string;
  /** What to send upstream (the client's body, maybe with include_usage added). */
  body: Buffer;
  /** The client asked for stream_options.include_usage itself. */
  clientWantsUsage: boolean;
  /** Monotonic ms for the latency measurements and the timeouts (the gateway's performance.now). */
  clock: () => number;
  /** clock() when the request arrived. */
  arrival: number;
  onDone: () => void;
}

export class Exchange {
  private upstreamReq: http.ClientRequest | null = null;
  private upstreamRes: IncomingMessage | null = null;
  private timer: NodeJS.Timeout | null = null;
  private retried = false;
  private gotHeaders = false;
  private upstreamDone = false;
  /** undefined: not decided yet; null: success; else the error. */
  private outcome: ErrorReason | null | undefined = undefined;
  private recorded = false;
  private lastChunkAt = 0;
  private sse = false;
  private splitter: SseSplitter | null = null;
  private kept: Buffer[] | null = null;
  private keptBytes = 0;
  private usage: Usage | null = null;
  private contentEvents = 0;
  private firstTokenAt = -1;
  private lastTokenAt = -1;
  private sawErrorEvent = false;
  private waitingDrain = false;
  // Range of the current chunk waiting to be written (consecutive forwarded events).
  private pendBuf: Buffer | null = null;
  private pendStart = 0;
  private pendEnd = 0;
  private chunkHadContent = false;

  constructor(private readonly x: ExchangeInput) {}

  start(): void {
    this.x.res.on("close", this.onClientClose);
    const t = this.x.target.route.timeouts;
    this.timer = setTimeout(this.onTimer, Math.min(t.responseMs, t.totalMs));
    this.send();
  }

  private send(): void {
    const { target, req, body, path } = this.x;
    const ureq = target.request({
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      path: target.basePath + path,
      method: "POST",
      agent: target.agent,
      headers: upstreamRequestHeaders(target, req.headers, body.length),
    });
    this.upstreamReq = ureq;
    ureq.on("response", this.onResponse);
    ureq.on("error", (err: NodeJS.ErrnoException) => this.onUpstreamError(ureq, err));
    ureq.end(body);
  }

  private readonly onResponse = (ur: IncomingMessage): void => {
    if (this.outcome !== undefined || this.x.res.destroyed) {
      ur.resume();
      return;
    }
    this.upstreamRes = ur;
    this.gotHeaders = true;
    this.lastChunkAt = this.x.clock();
    const status = ur.statusCode ?? 502;
    const ok = status >= 200 && status < 300;
    const type = ur.headers["content-type"];
    this.sse = ok && typeof type === "string" && type.toLowerCase().startsWith("text/event-stream");
    const { res } = this.x;
    res.writeHead(status, ur.statusMessage, responseHeaders(ur.rawHeaders, this.sse));
    if (this.sse) {
      this.splitter = new SseSplitter();
      // Clients see the stream open at once, as they would from the upstream.
      res.flushHeaders();
      ur.on("data", this.onSseData);
    } else {
      if (ok) this.kept = [];
      ur.on("data", this.onBodyData);
    }
    ur.on("end", () => this.onUpstreamEnd(status));
    ur.on("error", () => {}); // reported through "close" with complete === false
    ur.on("close", () => {
      if (!ur.complete && !this.upstreamDone) this.failMidBody();
    });
  };

  private readonly onBodyData = (chunk: Buffer): void => {
    this.lastChunkAt = this.x.clock();
    if (this.kept !== null) {
      this.keptBytes += chunk.length;
      if (this.keptBytes <= MAX_KEPT_BODY) this.kept.push(chunk);
      else this.kept = null;
    }
    this.write(chunk);
  };

  private readonly onSseData = (chunk: Buffer): void => {
    this.chunkHadContent = false;
    (this.splitter as SseSplitter).push(chunk, this.onEvent);
    this.flushPending();
    const now = this.x.clock();
    this.lastChunkAt = now;
    this.markTokens(now);
  };

  /** Content just written to the client: the first and (so far) last token times. */
  private markTokens(now: number): void {
    if (!this.chunkHadContent) return;
    if (this.firstTokenAt < 0) this.firstTokenAt = now;
    this.lastTokenAt = now;
  }

  private readonly onEvent = (buf: Buffer, start: number, end: number): void => {
    const info = inspectEvent(buf, start, end);
    if (info.usage !== null) this.usage = info.usage;
    if (info.error) this.sawErrorEvent = true;
    if (info.content) {
      this.contentEvents++;
      this.chunkHadContent = true;
    }
    if (info.usageOnly && !this.x.clientWantsUsage) {
      this.flushPending(); // everything before it goes out; the usage chunk does not
      return;
    }
    if (this.pendBuf === buf && this.pendEnd === start) {
      this.pendEnd = end;
      return;
    }
    this.flushPending();
    this.pendBuf = buf;
    this.pendStart = start;
    this.pendEnd = end;
  };

  private flushPending(): void {
    const b = this.pendBuf;
    if (b === null) return;
    this.pendBuf = null;
    this.write(
      this.pendStart === 0 && this.pendEnd === b.length ? b : b.subarray(this.pendStart, this.pendEnd),
    );
  }

  private write(chunk: Buffer): void {
    const { res } = this.x;
    if (res.destroyed) return;
    // Backpressure: a slow client pauses the upstream instead of growing the gateway's memory.
    if (!res.write(chunk) && !this.waitingDrain && this.upstreamRes !== null) {
      this.waitingDrain = true;
      this.upstreamRes.pause();
      res.once("drain", () => {
        this.waitingDrain = false;
        this.upstreamRes?.resume();
      });
    }
  }

  private onUpstreamEnd(status: number): void {
    if (this.upstreamDone) return;
    this.upstreamDone = true;
    if (this.splitter !== null) {
      // A last event without its blank line is still an event (and may be the usage chunk).
      const tail = this.splitter.takeTail();
      if (tail !== null) {
        this.chunkHadContent = false;
        this.onEvent(tail, 0, tail.length);
        this.flushPending();
        this.markTokens(this.x.clock());
      }
    }
    let outcome: ErrorReason | null = null;
    if (status === 429) outcome = "rate_limited";
    else if (status >= 400 && status < 500) outcome = "upstream_4xx";
    else if (status >= 500) outcome = "upstream_5xx";
    else if (status < 200 || status >= 300) outcome = "bad_response";
    else if (this.sawErrorEvent) outcome = "upstream_5xx";
    else if (this.kept !== null) outcome = this.readBodyUsage();
    this.decide(outcome);
    this.x.res.end();
  }

  /** Usage of a non-streamed 2xx; a body that is not JSON is a bad response (still forwarded). */
  private readBodyUsage(): ErrorReason | null {
    const kept = this.kept as Buffer[];
    try {
      const doc = JSON.parse(Buffer.concat(kept).toString("utf8")) as { usage?: unknown } | null;
      this.usage = readUsage(doc?.usage);
      return null;
    } catch {
      return "bad_response";
    }
  }

  private onUpstreamError(ureq: http.ClientRequest, err: NodeJS.ErrnoException): void {
    if (ureq !== this.upstreamReq || this.outcome !== undefined || this.upstreamDone) return;
    if (this.x.res.destroyed) return; // the client left first; recorded as client_disconnect
    if (!this.gotHeaders) {
      // A kept-alive connection the upstream closed just as we reused it: the request never
      // reached it, so one retry on a fresh connection is safe.
      if (!this.retried && ureq.reusedSocket && err.code === "ECONNRESET") {
        this.retried = true;
        this.send();
        return;
      }
      this.decide("upstream_unreachable");
      sendError(this.x.res, errors.upstreamUnreachable(this.x.target.route.name));
      return;
    }
    this.failMidBody();
  }

  /** The upstream connection broke after the headers: the client's response is cut short too. */
  private failMidBody(): void {
    if (this.outcome !== undefined || this.upstreamDone) return;
    this.upstreamDone = true;
    this.decide("bad_response");
    this.x.res.destroy();
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    if (this.outcome !== undefined || this.upstreamDone) return;
    const t = this.x.target.route.timeouts;
    const now = this.x.clock();
    const total = this.x.arrival + t.totalMs;
    const deadline = this.gotHeaders
      ? Math.min(total, this.lastChunkAt + t.idleMs)
      : Math.min(total, this.x.arrival + t.responseMs);
    if (now < deadline) {
      this.timer = setTimeout(this.onTimer, Math.max(1, deadline - now));
      return;
    }
    this.decide("timeout");
    this.upstreamReq?.destroy();
    if (this.x.res.headersSent) this.x.res.destroy();
    else sendError(this.x.res, errors.upstreamTimeout(this.x.target.route.name));
  };

  private decide(outcome: ErrorReason | null): void {
    if (this.outcome === undefined) this.outcome = outcome;
  }

  /** The client's response is over (sent in full, or the connection is gone). */
  private readonly onClientClose = (): void => {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const { res } = this.x;
    if (this.outcome === undefined || (this.outcome === null && !res.writableFinished)) {
      this.outcome = "client_disconnect";
    }
    if (!this.upstreamDone) {
      // Tell the model server to stop generating for nobody.
      this.upstreamDone = true;
      this.upstreamReq?.destroy();
    }
    this.record(this.outcome);
    this.x.onDone();
  };

  private record(reason: ErrorReason | null): void {
    if (this.recorded) return;
    this.recorded = true;
    const { meter, slot, arrival } = this.x;
    const input = this.usage?.inputTokens ?? 0;
    const output = this.usage?.outputTokens ?? (this.sse ? this.contentEvents : 0);
    meter.recordRequest(slot, input, output);
    if (reason !== null) meter.recordError(slot, reason);
    if (this.firstTokenAt >= 0) {
      meter.observeTtft(slot, (this.firstTokenAt - arrival) / 1000);
      if (reason === null && output > 1) {
        meter.observeTpot(slot, (this.lastTokenAt - this.firstTokenAt) / 1000 / (output - 1));
      }
    }
  }
}

/**
 * The metering gateway: an OpenAI-compatible HTTP front (`POST /v1/chat/completions`,
 * `POST /v1/completions`, `GET /v1/models`, `GET /v1/models/{id}`) in front of model servers.
 * The client's inference API key names the project, the request's `model` the upstream and the
 * service tier; each completion is metered (exchange.ts) into the meter, which the flusher
 * writes to the store every flush interval.
 *
 * Plain node:http on both sides, no framework: the request path is short (read body, parse JSON,
 * look two things up, pipe), and the added latency target is under a millisecond.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type { Appendable } from "../storage/index.js";
import { type GatewayConfig, sha256Hex } from "./config.js";
import { Exchange } from "./exchange.js";
import { Flusher, type FlushResult, type GatewayLog } from "./flush.js";
import { Meter } from "./meter.js";
import { errors, sendError } from "./openai-errors.js";
import { type Agents, createAgents, type UpstreamTarget, upstreamTarget } from "./upstream.js";

export interface GatewayOptions {
  config: GatewayConfig;
  /** Where the counters go (the embedded Tsdb, or any other store). */
  appendable: Appendable;
  /** "host:port" to listen on (default "127.0.0.1:0": any free port). */
  listen?: string;
  /** Wall clock in ms for the samples' timestamps (default Date.now). */
  now?: () => number;
  /**
   * Monotonic clock in ms for TTFT, TPOT and the upstream timeouts (default performance.now). A
   * test sets it to measure known intervals exactly instead of timing real sleeps.
   */
  monotonicNow?: () => number;
  /** Overrides the config's flush interval; 0 flushes only on flush() and close(). */
  flushIntervalMs?: number;
  /** How long close() lets requests in flight finish before cutting them (default 10 s). */
  closeGraceMs?: number;
  log?: GatewayLog;
}

export interface Gateway {
  /** Base URL, e.g. http://127.0.0.1:41234 (clients use `${url}/v1`). */
  url: string;
  meter: Meter;
  /** Writes the counters to the store now. */
  flush(): FlushResult;
  /** Stops accepting requests, lets those in flight finish, flushes one last time. */
  close(): Promise<void>;
}

const COMPLETION_PATHS: ReadonlyMap<string, string> = new Map([
  ["/v1/chat/completions", "/chat/completions"],
  ["/v1/completions", "/completions"],
]);

function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  if (i < 0) throw new Error(`listen address ${JSON.stringify(listen)} must be host:port`);
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  const port = Number(listen.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`listen address ${JSON.stringify(listen)}: bad port`);
  }
  return { host, port };
}

/** Project of a bearer key. Valid keys are cached so SHA-256 runs once per key, not per request. */
class KeyRing {
  private readonly known = new Map<string, string>();
  constructor(private readonly hashes: ReadonlyMap<string, string>) {}

  project(key: string): string | undefined {
    const cached = this.known.get(key);
    if (cached !== undefined) return cached;
    const p = this.hashes.get(sha256Hex(key));
    // Only keys that exist are cached, so random guesses cannot grow the map.
    if (p !== undefined) this.known.set(key, p);
    return p;
  }
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(h);
  return m === null ? undefined : m[1];
}

/** Adds stream_options.include_usage to a streamed request's body, keeping its other bytes. */
function withUsageRequested(raw: Buffer, doc: Record<string, unknown>): Buffer {
  if (!("stream_options" in doc)) {
    // Splice the member in after the opening brace rather than re-serialising a possibly large
    // prompt: the body is an object with at least "model", so a trailing comma is valid.
    const brace = raw.indexOf(0x7b);
    return Buffer.concat([
      raw.subarray(0, brace + 1),
      Buffer.from('"stream_options":{"include_usage":true},'),
      raw.subarray(brace + 1),
    ]);
  }
  const so = doc.stream_options;
  const merged = so !== null && typeof so === "object" && !Array.isArray(so) ? { ...so } : {};
  return Buffer.from(JSON.stringify({ ...doc, stream_options: { ...merged, include_usage: true } }));
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config } = options;
  const log = options.log ?? (() => {});
  const now = options.now ?? Date.now;
  const clock = options.monotonicNow ?? (() => performance.now());
  const meter = new Meter({
    now,
    extraLabels: config.instance === undefined ? undefined : { instance: config.instance },
  });
  const flusher = new Flusher(meter, options.appendable, {
    intervalMs: options.flushIntervalMs ?? config.flushIntervalMs,
    now,
    log,
  });
  const agents: Agents = createAgents();
  const targets = new Map<string, UpstreamTarget>();
  for (const [name, route] of config.models) targets.set(name, upstreamTarget(route, agents));
  const keys = new KeyRing(config.keyHashes);
  const createdAt = Math.floor(Date.now() / 1000);
  const modelList = [...config.models.keys()].map((id) => ({
    id,
    object: "model",
    created: createdAt,
    owned_by: "managed-inference",
  }));
  let inFlight = 0;
  let closing = false;
  let drained: (() => void) | null = null;
  const done = () => {
    inFlight--;
    if (inFlight === 0 && drained !== null) drained();
  };

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const arrival = clock();
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    if (closing) {
      sendError(res, errors.shuttingDown(), { connection: "close" });
      return;
    }
    const upstreamPath = COMPLETION_PATHS.get(path);
    const isModels = path === "/v1/models" || path.startsWith("/v1/models/");
    if (upstreamPath === undefined && !isModels) {
      sendError(res, errors.notFound(req.method ?? "", path));
      return;
    }
    const wantMethod = isModels ? "GET" : "POST";
    if (req.method !== wantMethod) {
      sendError(res, errors.methodNotAllowed(req.method ?? "", path), { allow: wantMethod });
      return;
    }
    const key = bearer(req);
    if (key === undefined) {
      sendError(res, errors.missingKey());
      return;
    }
    const projectId = keys.project(key);
    if (projectId === undefined) {
      sendError(res, errors.badKey(key));
      return;
    }
    if (isModels) {
      serveModels(path, res);
      return;
    }
    readBody(req, res, (raw) => proxy(req, res, raw, projectId, upstreamPath as string, arrival));
  }

  function serveModels(path: string, res: ServerResponse): void {
    let body: string;
    if (path === "/v1/models") {
      body = JSON.stringify({ object: "list", data: modelList });
    } else {
      const rawId = path.slice("/v1/models/".length);
      let id = rawId;
      try {
        id = decodeURIComponent(rawId);
      } catch {
        // A malformed escape names no model; answered as unknown below.
      }
      const m = modelList.find((x) => x.id === id);
      if (m === undefined) {
        sendError(res, errors.unknownModel(id));
        return;
      }
      body = JSON.stringify(m);
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  }

  function readBody(req: IncomingMessage, res: ServerResponse, then: (raw: Buffer) => void): void {
    const limit = config.maxBodyBytes;
    const declared = Number(req.headers["content-length"]);
    if (declared > limit) {
      sendError(res, errors.tooLarge(limit), { connection: "close" });
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        if (!over) sendError(res, errors.tooLarge(limit), { connection: "close" });
        over = true;
        return;
      }
      parts.push(c);
    });
    req.on("end", () => {
      if (!over && !res.destroyed) then(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    });
    req.on("error", () => res.destroy());
  }

  function proxy(
    req: IncomingMessage,
    res: ServerResponse,
    raw: Buffer,
    projectId: string,
    upstreamPath: string,
    arrival: number,
  ): void {
    let doc: unknown;
    try {
      doc = JSON.parse(raw.toString("utf8"));
    } catch {
      sendError(res, errors.badRequest("We could not parse the JSON body of your request."));
      return;
    }
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
      sendError(res, errors.badRequest("The request body must be a JSON object."));
      return;
    }
    const body = doc as Record<string, unknown>;
    const model = body.model;
    if (typeof model !== "string" || model === "") {
      sendError(res, errors.badRequest("You must provide a model parameter.", "model"));
      return;
    }
    const target = targets.get(model);
    if (target === undefined) {
      sendError(res, errors.unknownModel(model));
      return;
    }
    const so = body.stream_options as { include_usage?: unknown } | null | undefined;
    const clientWantsUsage = typeof so === "object" && so !== null && so.include_usage === true;
    const ask = body.stream === true && target.route.streamUsage && !clientWantsUsage;
    const slot = meter.slot(projectId, model, target.route.tier);
    inFlight++;
    new Exchange({
      req,
      res,
      target,
      meter,
      slot,
      path: upstreamPath,
      body: ask ? withUsageRequested(raw, body) : raw,
      clientWantsUsage: clientWantsUsage || !ask,
      clock,
      arrival,
      onDone: done,
    }).start();
  }

  const server = http.createServer({ keepAlive: true }, (req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      // A bug here must cost one request, never the gateway.
      log(`gateway: request failed: ${(err as Error).stack ?? err}`, "error");
      sendError(res, { status: 500, message: "internal error", type: "server_error", code: null });
    }
  });
  // Longer than the usual client pools' idle time, so clients do not reuse a socket being closed.
  server.keepAliveTimeout = 65_000;
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });

  const { host, port } = parseListen(options.listen ?? "127.0.0.1:0");
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    agents.destroy();
    throw new Error(`gateway cannot listen on ${options.listen ?? "127.0.0.1:0"}: ${(err as Error).message}`);
  }
  server.on("error", (err) => log(`gateway: server error: ${err.message}`, "error"));
  flusher.start();
  const addr = server.address() as AddressInfo;
  const hostPart = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;

  let closed: Promise<void> | null = null;
  return {
    url: `http://${hostPart}:${addr.port}`,
    meter,
    flush: () => flusher.flush(),
    close(): Promise<void> {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (inFlight > 0) {
          const grace = options.closeGraceMs ?? 10_000;
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, grace);
            drained = () => {
              clearTimeout(t);
              resolve();
            };
          });
        }
        // Whatever is still open is cut; each exchange records itself as its response closes,
        // which must happen before the last flush.
        server.closeAllConnections();
        if (inFlight > 0) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 1000);
            drained = () => {
              clearTimeout(t);
              resolve();
            };
          });
        }
        await stopped;
        agents.destroy();
        flusher.close();
      })();
      return closed;
    },
  };
}

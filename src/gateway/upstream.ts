/**
 * Talking to model servers: keep-alive agents (a fresh TCP connection per request would add a
 * round trip to every request, far over the 1 ms budget), the request options built once per
 * model, and which headers cross the gateway in each direction.
 */
import http, { type IncomingHttpHeaders } from "node:http";
import https from "node:https";
import type { ModelRoute } from "./config.js";

export interface Agents {
  http: http.Agent;
  https: https.Agent;
  destroy(): void;
}

export function createAgents(): Agents {
  // LIFO reuse keeps a few warm connections busy instead of cycling through many that an
  // upstream with a short keep-alive timeout (uvicorn's is 5 s) may be closing.
  const opts = { keepAlive: true, maxFreeSockets: 256, scheduling: "lifo" as const };
  const a = { http: new http.Agent(opts), https: new https.Agent(opts) };
  return {
    ...a,
    destroy() {
      a.http.destroy();
      a.https.destroy();
    },
  };
}

/** What is fixed per model, so a request only fills in the path and body headers. */
export interface UpstreamTarget {
  route: ModelRoute;
  request: typeof http.request;
  agent: http.Agent;
  protocol: string;
  hostname: string;
  port: number;
  basePath: string;
  authorization: string | undefined;
}

export function upstreamTarget(route: ModelRoute, agents: Agents): UpstreamTarget {
  const u = route.upstream;
  const secure = u.protocol === "https:";
  return {
    route,
    request: secure ? https.request : http.request,
    agent: secure ? agents.https : agents.http,
    protocol: u.protocol,
    // URL keeps IPv6 hosts in brackets; the request options want them bare.
    hostname: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: u.port === "" ? (secure ? 443 : 80) : Number(u.port),
    basePath: u.pathname,
    authorization: route.upstreamApiKey === undefined ? undefined : `Bearer ${route.upstreamApiKey}`,
  };
}

/** Client headers worth passing on (tracing, request ids); never the client's API key. */
const FORWARDED_REQUEST_HEADERS = ["accept", "user-agent", "x-request-id", "traceparent", "tracestate"];

export function upstreamRequestHeaders(
  target: UpstreamTarget,
  client: IncomingHttpHeaders,
  bodyLength: number,
): http.OutgoingHttpHeaders {
  const h: http.OutgoingHttpHeaders = {
    "content-type": "application/json",
    "content-length": bodyLength,
    // The gateway reads usage from the body, so it must see it uncompressed.
    "accept-encoding": "identity",
  };
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const v = client[name];
    if (v !== undefined) h[name] = v;
  }
  if (target.authorization !== undefined) h.authorization = target.authorization;
  return h;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection and are never forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * The upstream's response headers as a flat [name, value, …] list (original case and order),
 * minus hop-by-hop ones and, when the body may be changed (a stripped usage chunk), its length.
 */
export function responseHeaders(raw: readonly string[], dropLength: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(name)) continue;
    if (dropLength && name === "content-length") continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

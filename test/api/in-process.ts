/**
 * Requests into a Fastify app without a socket, for tests whose subject is the routes and their
 * contract rather than the HTTP connection: `injectRaw` sends a request target byte for byte (as
 * node:http's client would), `injectFetch` is the global fetch's signature over the same path and
 * answers a real WHATWG `Response`.
 *
 * Both dispatch through light-my-request (what Fastify's own `inject` uses) into `app.routing`,
 * because `app.inject` passes every URL through WHATWG URL parsing first: "..", "\", "#", quotes
 * and the like would be rewritten before the router saw them, and tests of those must see them
 * arrive as sent. Headers repeated in a list are folded as Node's HTTP parser folds them.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { Readable } from "node:stream";
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from "node:zlib";
import type { FastifyInstance } from "fastify";
import inject from "light-my-request";

/** The origin of a service that does not listen: `url` and `base()` still read as URLs. */
export const IN_PROCESS_ORIGIN = "http://mim.test";

export interface RawRequest {
  method?: string;
  /** The request target, sent as is. */
  path: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Buffer;
  /** The client's address, as the socket would show it (default 127.0.0.1: loopback). */
  remoteAddress?: string;
  signal?: AbortSignal;
}

export interface RawResponse {
  status: number;
  statusText: string;
  /** As node:http's client exposes them: lower-case names, string values, set-cookie a list. */
  headers: IncomingHttpHeaders;
  /** The body as sent: still compressed if the answer was. */
  body: Buffer;
}

export async function injectRaw(app: FastifyInstance, r: RawRequest): Promise<RawResponse> {
  await app.ready();
  const headers: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  headers.host ??= new URL(IN_PROCESS_ORIGIN).host;
  // A Buffer payload gets a Content-Length from light-my-request; a declared chunked body must
  // arrive without one, so the server reads it as a stream (and its limit counts as it goes).
  const chunked = headers["transfer-encoding"] !== undefined;
  const payload = r.body === undefined ? undefined : chunked ? Readable.from([Buffer.from(r.body)]) : r.body;
  const answer = inject(
    (req, res) => {
      req.url = r.path;
      app.routing(req, res);
    },
    {
      method: r.method ?? "GET",
      url: "/",
      headers,
      remoteAddress: r.remoteAddress,
      ...(payload === undefined ? {} : { payload }),
      ...(r.signal ? { signal: r.signal } : {}),
    },
  );
  const res = await (r.signal ? abortable(answer, r.signal) : answer);
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined) continue;
    const values = (Array.isArray(v) ? v : [v]).map(String);
    if (k === "set-cookie") out[k] = values;
    else out[k] = values.join(", ");
  }
  return { status: res.statusCode, statusText: res.statusMessage, headers: out, body: res.rawPayload };
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** What Node's fetch (undici) adds to every plain-http request that does not set them. */
const FETCH_DEFAULT_HEADERS: Readonly<Record<string, string>> = {
  accept: "*/*",
  "accept-language": "*",
  "sec-fetch-mode": "cors",
  "user-agent": "node",
  // So @fastify/compress answers as it answers a real fetch, which then decodes (see below).
  "accept-encoding": "gzip, deflate",
};

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Undoes Content-Encoding as fetch does: every listed coding in reverse, or none if one is unknown. */
function decodeBody(body: Buffer, contentEncoding: string | null): Buffer {
  if (contentEncoding === null || body.length === 0) return body;
  const codings = contentEncoding
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  let out = body;
  for (const c of codings.reverse()) {
    if (c === "gzip" || c === "x-gzip") out = gunzipSync(out);
    else if (c === "deflate") {
      try {
        out = inflateSync(out);
      } catch {
        out = inflateRawSync(out);
      }
    } else if (c === "br") out = brotliDecompressSync(out);
    else return body;
  }
  return out;
}

/**
 * The global fetch for URLs of `origin`, answered by `app` without a socket: the request's
 * headers are fetch's (defaults included), the answer's body is decoded as fetch decodes it and
 * its Content-Encoding and Content-Length headers stay. Another origin is an error, not a
 * network request, and so is a redirect to be followed (the API answers none).
 */
export function injectFetch(app: FastifyInstance, origin: string = IN_PROCESS_ORIGIN): typeof fetch {
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.origin !== origin) {
      throw new TypeError(`in-process fetch answers ${origin} only, not ${url.origin} (${request.url})`);
    }
    const headers: OutgoingHttpHeaders = { ...FETCH_DEFAULT_HEADERS, host: url.host };
    for (const [k, v] of request.headers) headers[k] = v;
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const raw = await injectRaw(app, {
      method: request.method,
      path: url.pathname + url.search,
      headers,
      body,
      signal: request.signal,
    });
    if (
      REDIRECT_STATUSES.has(raw.status) &&
      raw.headers.location !== undefined &&
      request.redirect === "follow"
    ) {
      throw new TypeError(
        `in-process fetch does not follow redirects (${raw.status} to ${raw.headers.location})`,
      );
    }
    const responseHeaders = new Headers();
    for (const [k, v] of Object.entries(raw.headers)) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) responseHeaders.append(k, one);
    }
    const noBody = request.method === "HEAD" || NULL_BODY_STATUSES.has(raw.status);
    const response = new Response(
      noBody ? null : decodeBody(raw.body, responseHeaders.get("content-encoding")),
      {
        status: raw.status,
        statusText: raw.statusText,
        headers: responseHeaders,
      },
    );
    // A constructed Response has an empty url; fetch's names what was asked for.
    Object.defineProperty(response, "url", { value: url.href });
    return response;
  };
}

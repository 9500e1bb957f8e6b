/**
 * The read half of remote storage mode: a client of a Prometheus-compatible engine's HTTP API
 * (Prometheus, VictoriaMetrics single node or `vmselect`, Mimir's query-frontend). It only moves
 * requests and envelopes; what is asked is decided by the caller, which has already rewritten
 * every selector for the project (enforce.ts). Errors keep the engine's errorType where the engine
 * gave one, so the API can answer in Prometheus's shape; the engine's unavailability is its own
 * kind, so callers can answer 503 and say which side failed.
 */

export interface EngineClientOptions {
  /**
   * Base of the engine's Prometheus API: `<url>/api/v1/query` must exist. May contain `{tenant}`
   * (a VictoriaMetrics cluster account id in `vmselect`'s path), replaced by the tenant of a call.
   */
  url: string;
  /** Sent as `Authorization: Bearer …`. */
  bearerToken?: string;
  /** Extra headers on every request (an engine's own credentials, say). */
  headers?: Readonly<Record<string, string>>;
  /** Carries the tenant of a call, e.g. `X-Scope-OrgID` for Mimir / Cortex. */
  tenantHeader?: string;
  /** One call may take this long before it counts as the engine being unavailable (ms, default 150,000). */
  timeoutMs?: number;
  /**
   * Largest answer read, in bytes (default 64 MiB); a larger one is an error. The answer is parsed
   * whole on the event loop (~25 ms per MiB), so this bounds how long one query can hold it.
   */
  maxResponseBytes?: number;
}

/** Why a call failed: the engine's own errorType, or "unavailable" when it could not be reached or answered nonsense. */
export type EngineErrorKind = "bad_data" | "execution" | "timeout" | "canceled" | "internal" | "unavailable";

export class EngineError extends Error {
  override readonly name = "EngineError";
  constructor(
    readonly kind: EngineErrorKind,
    message: string,
    /** The engine's HTTP status, if it answered. */
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

export interface EngineAnswer {
  /** The envelope's `data`, not yet checked. */
  data: unknown;
  warnings: string[];
  infos: string[];
}

export interface CallOptions {
  /** POST the parameters as a form (long queries) instead of a GET query string. */
  post?: boolean;
  /** The tenant (our project id) for tenant-per-project engines. */
  tenant?: string;
  signal?: AbortSignal;
  /** Shorter deadline for this call, in ms. */
  timeoutMs?: number;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 64 << 20;
const KNOWN_KINDS = new Set<string>(["bad_data", "execution", "timeout", "canceled", "internal"]);
const TENANT_PLACEHOLDER = "{tenant}";
/** Engines explain failures in the body; keep enough to act on, not a whole HTML page. */
const MAX_MESSAGE = 1024;

export class EngineClient {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  readonly perTenant: boolean;

  constructor(private readonly o: EngineClientOptions) {
    const probe = o.url.replaceAll(TENANT_PLACEHOLDER, "0");
    let url: URL;
    try {
      url = new URL(probe);
    } catch {
      throw new RangeError(`remote query url ${JSON.stringify(o.url)} is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new RangeError(`remote query url ${JSON.stringify(o.url)} must be http or https`);
    }
    if (url.search !== "" || url.hash !== "") {
      throw new RangeError(`remote query url ${JSON.stringify(o.url)} must not have a query or fragment`);
    }
    this.base = o.url.replace(/\/+$/, "");
    this.perTenant = o.url.includes(TENANT_PLACEHOLDER) || o.tenantHeader !== undefined;
    this.headers = { Accept: "application/json", ...o.headers };
    if (o.bearerToken !== undefined) this.headers.Authorization = `Bearer ${o.bearerToken}`;
    this.timeoutMs = o.timeoutMs ?? 150_000;
    this.maxResponseBytes = o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  /** Calls `path` (e.g. "/api/v1/query") and returns the success envelope's parts. */
  async call(path: string, params: URLSearchParams, opts: CallOptions = {}): Promise<EngineAnswer> {
    const headers = { ...this.headers };
    let base = this.base;
    if (this.perTenant) {
      if (opts.tenant === undefined || opts.tenant === "") {
        throw new EngineError("internal", "a tenant-per-project engine was called without a tenant");
      }
      if (this.o.tenantHeader) headers[this.o.tenantHeader] = opts.tenant;
      base = base.replaceAll(TENANT_PLACEHOLDER, encodeURIComponent(opts.tenant));
    }
    let url = `${base}${path}`;
    let body: string | undefined;
    if (opts.post) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = params.toString();
    } else {
      const qs = params.toString();
      if (qs) url += `?${qs}`;
    }
    const timeoutMs = Math.min(opts.timeoutMs ?? this.timeoutMs, this.timeoutMs);
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
    const cancel = () => ac.abort();
    opts.signal?.addEventListener("abort", cancel, { once: true });
    if (opts.signal?.aborted) ac.abort();
    let status: number;
    let text: string;
    try {
      const res = await fetch(url, { method: opts.post ? "POST" : "GET", headers, body, signal: ac.signal });
      status = res.status;
      text = await this.readBody(res);
    } catch (err) {
      if (err instanceof EngineError) throw err;
      if (opts.signal?.aborted && !timedOut) throw new EngineError("canceled", "query canceled");
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = timedOut
        ? `no answer within ${timeoutMs} ms`
        : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new EngineError("unavailable", `remote storage unreachable: ${why}`);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", cancel);
    }
    return parseEnvelope(status, text);
  }

  private async readBody(res: Response): Promise<string> {
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > this.maxResponseBytes) {
      await res.body?.cancel();
      throw new EngineError("execution", this.tooLarge());
    }
    if (!res.body) return "";
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > this.maxResponseBytes) throw new EngineError("execution", this.tooLarge());
      parts.push(chunk);
    }
    return Buffer.concat(parts, size).toString("utf8");
  }

  private tooLarge(): string {
    return `the remote storage's answer is larger than ${this.maxResponseBytes} bytes (--remote-max-answer-size); select fewer series, aggregate, or use a shorter range or a longer step`;
  }
}

function clip(s: string): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > MAX_MESSAGE ? `${one.slice(0, MAX_MESSAGE)}…` : one;
}

/** Prometheus's envelope on any status; anything else from the engine is its failure, not the caller's. */
export function parseEnvelope(status: number, text: string): EngineAnswer {
  let env: unknown;
  try {
    env = JSON.parse(text);
  } catch {
    const kind: EngineErrorKind = status === 400 ? "bad_data" : status === 422 ? "execution" : "unavailable";
    throw new EngineError(
      kind,
      `remote storage answered HTTP ${status}: ${clip(text) || "(empty body)"}`,
      status,
    );
  }
  const e = (env ?? {}) as Record<string, unknown>;
  if (e.status === "success" && status >= 200 && status < 300) {
    return { data: e.data, warnings: stringArray(e.warnings), infos: stringArray(e.infos) };
  }
  if (e.status === "error" || status >= 300) {
    const errorType = typeof e.errorType === "string" ? e.errorType : "";
    const message = typeof e.error === "string" ? e.error : `HTTP ${status}`;
    let kind: EngineErrorKind;
    if (KNOWN_KINDS.has(errorType)) kind = errorType as EngineErrorKind;
    else if (status === 400) kind = "bad_data";
    else if (status === 422) kind = "execution";
    else if (status === 503 || status === 502 || status === 504 || status === 429) kind = "unavailable";
    else kind = "internal";
    throw new EngineError(kind, `remote storage: ${clip(message)}`, status);
  }
  throw new EngineError(
    "unavailable",
    `remote storage answered HTTP ${status} without a Prometheus envelope`,
    status,
  );
}

function stringArray(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

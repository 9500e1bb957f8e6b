/**
 * The page's only way to the server: the public query API and the token API of one project, with
 * the monitoring token in the Authorization header. Every failure becomes an ApiError carrying
 * the API's own errorType and text, so views can show it as is.
 */
import type { CreatedTokenResource, TokenResource as TokenInfo } from "../../src/api/token-resource.js";

export class ApiError extends Error {
  constructor(
    /** The API's errorType ("bad_data", "unauthorized", …), or "network" / "http" / "response". */
    readonly errorType: string,
    message: string,
    /** HTTP status, 0 when the request never got an answer. */
    readonly status: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
  /** The token is unknown, expired or revoked, or not for this project: signing in again helps. */
  get isAuth(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export const isAbort = (e: unknown) => e instanceof DOMException && e.name === "AbortError";

export interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}
export interface InstantSample {
  metric: Record<string, string>;
  value: [number, string];
}
// The service's own wire type: one definition for both ends.
export type { TokenInfo };

export function timeseriesBase(origin: string, project: string): string {
  return `${origin}/v1alpha5/projects/${encodeURIComponent(project)}/metrics/timeseries`;
}

export class Api {
  private readonly root: string;
  constructor(
    readonly project: string,
    private readonly token: string,
  ) {
    this.root = `/v1alpha5/projects/${encodeURIComponent(project)}`;
  }

  private async call<T>(path: string, init: RequestInit = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.root + path, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), Authorization: `Bearer ${this.token}` },
        // The token is the only credential; cookies are never needed.
        credentials: "omit",
        cache: "no-store",
      });
    } catch (e) {
      if (isAbort(e)) throw e;
      throw new ApiError("network", `could not reach the API: ${(e as Error).message}`, 0);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let body: { status?: string; errorType?: string; error?: string } | undefined;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok || body?.status === "error") {
      if (body?.errorType && body.error) throw new ApiError(body.errorType, body.error, res.status);
      throw new ApiError("http", `HTTP ${res.status} ${res.statusText}: ${text.slice(0, 300)}`, res.status);
    }
    if (body === undefined) throw new ApiError("response", `not JSON: ${text.slice(0, 300)}`, res.status);
    return body as T;
  }

  private get<T>(path: string, params: Record<string, string | number>, signal?: AbortSignal) {
    const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
    return this.call<{ data: T }>(`${path}?${qs}`, { signal }).then((b) => b.data);
  }

  async queryRange(query: string, start: number, end: number, step: number, signal?: AbortSignal) {
    const data = await this.get<{ resultType: string; result: RangeSeries[] }>(
      "/metrics/timeseries/api/v1/query_range",
      { query, start, end, step },
      signal,
    );
    return data.result;
  }

  async query(query: string, time: number, signal?: AbortSignal) {
    const data = await this.get<{ resultType: string; result: InstantSample[] }>(
      "/metrics/timeseries/api/v1/query",
      { query, time },
      signal,
    );
    return data.result;
  }

  labelValues(name: string, match: string, signal?: AbortSignal) {
    return this.get<string[]>(
      `/metrics/timeseries/api/v1/label/${encodeURIComponent(name)}/values`,
      { "match[]": match },
      signal,
    );
  }

  async listTokens(): Promise<TokenInfo[]> {
    return (await this.call<{ tokens: TokenInfo[] }>("/monitoring/tokens")).tokens;
  }

  createToken(name: string, expiresIn: string | null): Promise<CreatedTokenResource> {
    return this.call("/monitoring/tokens", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(expiresIn ? { name, expires_in: expiresIn } : { name }),
    });
  }

  revokeToken(id: string): Promise<void> {
    return this.call(`/monitoring/tokens/${encodeURIComponent(id)}`, { method: "DELETE" });
  }
}

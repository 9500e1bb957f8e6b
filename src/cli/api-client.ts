/**
 * The CLI's HTTP client for the service: the token admin API (admin key) and the query API
 * (monitoring token). Errors carry the service's own message from its JSON envelope.
 */
import type { TokenResource } from "../api/token-resource.js";

export class ApiClientError extends Error {
  override readonly name = "ApiClientError";
  constructor(
    message: string,
    readonly status: number,
    readonly errorType?: string,
  ) {
    super(message);
  }
}

async function call(url: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new ApiClientError(
      `cannot reach ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}. Is \`mim serve\` running, and is the endpoint right?`,
      0,
    );
  }
  if (res.status === 204) return undefined;
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiClientError(`HTTP ${res.status} from ${url}: ${text.slice(0, 200)}`, res.status);
  }
  const env = body as { status?: string; errorType?: string; error?: string };
  if (!res.ok || env.status === "error") {
    throw new ApiClientError(
      `${env.errorType ?? `HTTP ${res.status}`}: ${env.error ?? res.statusText}`,
      res.status,
      env.errorType,
    );
  }
  return body;
}

export class ApiClient {
  constructor(
    readonly endpoint: string,
    private readonly adminKey?: string,
  ) {}

  projectUrl(projectId: string): string {
    return `${this.endpoint.replace(/\/+$/, "")}/v1alpha5/projects/${encodeURIComponent(projectId)}`;
  }

  /** The query API's base URL: what Grafana and promtool take as their server. */
  queryBase(projectId: string): string {
    return `${this.projectUrl(projectId)}/metrics/timeseries`;
  }

  private admin(): Record<string, string> {
    if (!this.adminKey) {
      throw new ApiClientError(
        "no admin key: pass --admin-key, set CRUSOE_ADMIN_KEY, or run `mim serve` on this machine once so it writes the CLI config",
        0,
      );
    }
    return { Authorization: `Bearer ${this.adminKey}` };
  }

  async createToken(
    projectId: string,
    name: string,
    expiresIn: string | undefined,
  ): Promise<TokenResource & { token: string }> {
    const body: Record<string, string> = { name };
    if (expiresIn !== undefined) body.expires_in = expiresIn;
    return (await call(`${this.projectUrl(projectId)}/monitoring/tokens`, {
      method: "POST",
      headers: { ...this.admin(), "Content-Type": "application/json" },
      body: JSON.stringify(body),
    })) as TokenResource & { token: string };
  }

  async listTokens(projectId: string): Promise<TokenResource[]> {
    const res = (await call(`${this.projectUrl(projectId)}/monitoring/tokens`, {
      headers: this.admin(),
    })) as {
      tokens: TokenResource[];
    };
    return res.tokens;
  }

  async revokeToken(projectId: string, tokenId: string): Promise<void> {
    await call(`${this.projectUrl(projectId)}/monitoring/tokens/${encodeURIComponent(tokenId)}`, {
      method: "DELETE",
      headers: this.admin(),
    });
  }

  async createIngestToken(
    projectId: string | undefined,
    name: string,
    expiresIn: string | undefined,
  ): Promise<TokenResource & { token: string }> {
    const body: Record<string, string> = { name };
    if (projectId !== undefined) body.project_id = projectId;
    if (expiresIn !== undefined) body.expires_in = expiresIn;
    return (await call(`${this.root()}/v1alpha5/ingest-tokens`, {
      method: "POST",
      headers: { ...this.admin(), "Content-Type": "application/json" },
      body: JSON.stringify(body),
    })) as TokenResource & { token: string };
  }

  async listIngestTokens(): Promise<TokenResource[]> {
    const res = (await call(`${this.root()}/v1alpha5/ingest-tokens`, { headers: this.admin() })) as {
      tokens: TokenResource[];
    };
    return res.tokens;
  }

  async revokeIngestToken(tokenId: string): Promise<void> {
    await call(`${this.root()}/v1alpha5/ingest-tokens/${encodeURIComponent(tokenId)}`, {
      method: "DELETE",
      headers: this.admin(),
    });
  }

  /** The remote-write URL senders use with an ingest token. */
  remoteWriteUrl(): string {
    return `${this.root()}/api/v1/write`;
  }

  private root(): string {
    return this.endpoint.replace(/\/+$/, "");
  }

  /** Runs a query through the query API; returns the Prometheus envelope. */
  async query(projectId: string, token: string, params: Record<string, string>): Promise<QueryEnvelope> {
    const range = params.start !== undefined;
    return (await call(`${this.queryBase(projectId)}/api/v1/${range ? "query_range" : "query"}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(params).toString(),
    })) as QueryEnvelope;
  }
}

export interface QueryEnvelope {
  status: "success";
  data:
    | { resultType: "scalar" | "string"; result: [number, string] }
    | { resultType: "vector"; result: Array<{ metric: Record<string, string>; value: [number, string] }> }
    | {
        resultType: "matrix";
        result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }>;
      };
  warnings?: string[];
  infos?: string[];
}

/**
 * The API server in-process for tests that need no socket: the embedded store and metadata
 * database in a temp directory, requests through Fastify's `inject` (which sets the client
 * address, so per-address limits can be exercised), a settable clock, and optionally another
 * token repository in place of the SQLite one (to make the store fail as a full disk does).
 * The service itself is harness.ts's `startRouteService`; this adds the clock and `request`.
 */
import type { FastifyInstance } from "fastify";
import { type ApiLimits, DEFAULT_LIMITS } from "../../src/api/context.js";
import type { RulesView } from "../../src/api/metadata-routes.js";
import { API_PREFIX, TIMESERIES_PREFIX } from "../../src/api/server.js";
import type { TokenStore } from "../../src/auth/token-store.js";
import type { TokenTable } from "../../src/auth/token-table.js";
import { startRouteService } from "./harness.js";

export const INJECT_ADMIN_KEY = "mim_adm_inject-admin-key-0123456789";
export const T0 = 1_700_000_000_000;

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
  json: Record<string, unknown>;
}

export interface InjectService {
  app: FastifyInstance;
  tokens: TokenStore;
  /** The test clock (ms); advance it with `tick`. */
  clock: { t: number };
  tick(ms: number): void;
  /** A monitoring token of the project, made through the store. */
  token(projectId: string, expiresAt?: Date | null): string;
  /** An ingest token for `projectId` ("*": any project), made through the store. */
  ingestToken(projectId?: string): string;
  request(o: {
    method?: "GET" | "POST" | "DELETE";
    url: string;
    token?: string;
    authorization?: string;
    from?: string;
    body?: unknown;
  }): Promise<Answer>;
  /** A project's query API path. */
  base(projectId: string): string;
  /** A project's monitoring-token admin path. */
  tokensPath(projectId: string): string;
  close(): Promise<void>;
}

export async function startInjectService(
  o: {
    limits?: Partial<ApiLimits>;
    rules?: () => RulesView;
    /** Wraps (or replaces) the monitoring-token repository. */
    monitoringTable?: (sqlite: TokenTable) => TokenTable;
    /** Where the metadata database lives (default: a fresh temp directory). */
    metaDir?: string;
    /** Serve remote-write (POST /api/v1/write) into the store too. */
    writable?: boolean;
  } = {},
): Promise<InjectService> {
  const clock = { t: T0 };
  const svc = await startRouteService({
    // These suites exercise the limits as the service ships them, rate limits included.
    limits: {
      rateLimitPerSecond: DEFAULT_LIMITS.rateLimitPerSecond,
      projectRateLimitPerSecond: DEFAULT_LIMITS.projectRateLimitPerSecond,
      authFailuresPerMinute: DEFAULT_LIMITS.authFailuresPerMinute,
      tokenCreatesPerMinute: DEFAULT_LIMITS.tokenCreatesPerMinute,
      ...o.limits,
    },
    remoteWrite: o.writable === true,
    adminKey: INJECT_ADMIN_KEY,
    rules: o.rules,
    monitoringTable: o.monitoringTable,
    metaDir: o.metaDir,
    now: () => clock.t,
  });
  const { app } = svc;
  const base = (p: string) => TIMESERIES_PREFIX.replace(":projectId", encodeURIComponent(p));
  return {
    app,
    tokens: svc.tokens,
    clock,
    tick: (ms) => {
      clock.t += ms;
    },
    token: svc.token,
    ingestToken: svc.ingestToken,
    async request(r) {
      const authorization = r.authorization ?? (r.token === undefined ? undefined : `Bearer ${r.token}`);
      const res = await app.inject({
        method: r.method ?? "GET",
        url: r.url,
        remoteAddress: r.from ?? "192.0.2.1",
        headers: {
          ...(authorization === undefined ? {} : { authorization }),
          ...(r.body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(r.body === undefined ? {} : { payload: JSON.stringify(r.body) }),
      });
      let json: Record<string, unknown> = {};
      try {
        json = res.body === "" ? {} : (JSON.parse(res.body) as Record<string, unknown>);
      } catch {}
      return { status: res.statusCode, headers: res.headers, text: res.body, json };
    },
    base,
    tokensPath: (p) => `${API_PREFIX.replace(":projectId", encodeURIComponent(p))}/monitoring/tokens`,
    close: svc.close,
  };
}

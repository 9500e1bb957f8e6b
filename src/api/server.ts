/**
 * The HTTP server: Prometheus's query API under each project's base path, the token admin API,
 * and the service's own /metrics and health endpoints. Routes are thin: they merge parameters,
 * authenticate, and call the handlers in query-routes, metadata-routes and admin-routes, which
 * return pre-encoded JSON. Every failure leaves as Prometheus's error envelope.
 */
import compress from "@fastify/compress";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import { RateLimiter } from "../auth/rate-limit.js";
import type { TokenInfo } from "../auth/tokens.js";
import { FairAdmission } from "../exec/admission.js";
import { SelfMetrics } from "../metrics/self-metrics.js";
import { OPERATOR, type ReadScope, scopeName } from "../modes/backend.js";
import type { ServiceStorage } from "../modes/storage.js";
import {
  createIngestToken,
  createToken,
  listIngestTokens,
  listTokens,
  revokeIngestToken,
  revokeToken,
} from "./admin-routes.js";
import { authorizeAdmin, authorizeMonitoring, authorizeTokenManager } from "./auth.js";
import { type ApiContext, type ApiLimits, DEFAULT_LIMITS } from "./context.js";
import { errorBody, successBody } from "./encode.js";
import { ApiError, toApiError } from "./errors.js";
import {
  buildInfo,
  labelNames,
  labelValues,
  metadata,
  type RulesView,
  rulesData,
  series,
} from "./metadata-routes.js";
import { mergeParams, type Params } from "./params.js";
import {
  baseQuery,
  formatQuery,
  instantQuery,
  queryExemplars,
  type Reply,
  rangeQuery,
} from "./query-routes.js";
import { registerWebRoutes } from "./web-routes.js";
import { registerWriteRoute } from "./write-route.js";

export const API_PREFIX = "/v1alpha5/projects/:projectId";
export const TIMESERIES_PREFIX = `${API_PREFIX}/metrics/timeseries`;
/** The operator's Prometheus API root: every project's series, with the admin key. */
export const OPERATOR_PREFIX = "/v1alpha5/operator/metrics/timeseries";

/** What the API needs of the storage mode (src/modes/storage.ts); it never asks which mode it is. */
export type ApiStorage = Pick<
  ServiceStorage,
  "appendable" | "queries" | "querySlots" | "watch" | "tokens" | "ingestTokens"
>;

export interface ApiServerOptions {
  storage: ApiStorage;
  /** Serve remote-write (POST /api/v1/write) into the storage (default true). */
  remoteWrite?: boolean;
  adminKey: string;
  limits?: Partial<ApiLimits>;
  /** A pino logger, or false for none. */
  logger?: FastifyBaseLogger | false;
  metrics?: SelfMetrics;
  /** The built metrics page (web/dist); without it the page is not served. */
  webRoot?: string;
  /** The recording rules, for /api/v1/rules. */
  rules?: () => RulesView;
  ready?: () => boolean;
  now?: () => number;
}

/** Tokens must never reach a log line, even if a client puts one where it does not belong. */
const SECRET_RE = /mim_(?:mon|adm|ing)_[A-Za-z0-9_-]+/g;
export function redactSecrets(s: string): string {
  return s.replace(SECRET_RE, (m) => `${m.slice(0, 8)}[REDACTED]`);
}

function formToObject(body: string): Record<string, string[]> {
  // No prototype: a key such as "__proto__" must stay an ordinary key.
  const out: Record<string, string[]> = Object.create(null);
  for (const [k, v] of new URLSearchParams(body)) {
    const list = out[k];
    if (list) list.push(v);
    else out[k] = [v];
  }
  return out;
}

function isForm(request: FastifyRequest): boolean {
  return (request.headers["content-type"] ?? "")
    .toLowerCase()
    .startsWith("application/x-www-form-urlencoded");
}

/** Aborts when the client goes away before its answer was sent, so work on its behalf stops. */
function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

export async function buildApiServer(o: ApiServerOptions): Promise<FastifyInstance> {
  const limits: ApiLimits = { ...DEFAULT_LIMITS, ...o.limits };
  const metrics = o.metrics ?? new SelfMetrics();
  const now = o.now ?? Date.now;
  const slots = o.storage.querySlots;
  const admission = new FairAdmission({
    maxConcurrent: limits.queryConcurrency || slots.total,
    perKey: limits.queryConcurrencyPerProject || slots.perProject,
    maxQueuedPerKey: limits.queryQueuePerProject,
  });
  metrics.watchAdmission(admission);
  o.storage.watch(metrics);
  const ctx: ApiContext = {
    backend: o.storage.queries,
    admission,
    tokens: o.storage.tokens,
    ingestTokens: o.storage.ingestTokens,
    adminKey: o.adminKey,
    rateLimiter: new RateLimiter(
      { ratePerSecond: limits.rateLimitPerSecond, burst: limits.rateLimitBurst },
      now,
    ),
    limits,
    metrics,
    ready: o.ready ?? (() => true),
    now,
  };

  const app = Fastify({
    ...(o.logger ? { loggerInstance: o.logger } : { logger: false }),
    // One line per request comes from the onResponse hook below, with route and project.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.maxBodyBytes,
    // Go's server takes 1 MiB of headers; long GET queries (Grafana's regexes) need more than Node's 16 KiB.
    http: { maxHeaderSize: 1 << 20 },
    // Malformed URLs and over-long path parameters still get Prometheus's envelope.
    frameworkErrors: (err, _request, reply) => {
      (reply as FastifyReply)
        .code(400)
        .type("application/json")
        .send(errorBody("bad_data", redactSecrets(err.message)));
    },
    // What Node's HTTP parser rejects never reaches Fastify: answer it in the envelope too.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return;
      const code = (err as { code?: string }).code;
      const [status, text] =
        code === "HPE_HEADER_OVERFLOW" ? [431, "Request Header Fields Too Large"] : [400, "Bad Request"];
      const body = errorBody("bad_data", `malformed HTTP request: ${text.toLowerCase()}`);
      socket.end(
        `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
  });

  // Query answers are mostly digits, which gzip level 6 shrinks only ~7 % more than level 1 at
  // 2.5× the CPU. Answers up to 256 KiB are compressed in one synchronous call (≤ ~3 ms at level
  // 1): the plugin's default on 2 cores (8 KiB) sends an ordinary 80 KiB range answer through a
  // zlib stream, which took 4–5 ms longer than the compression itself.
  await app.register(compress, {
    global: true,
    encodings: ["gzip", "deflate"],
    threshold: 1024,
    zlibOptions: { level: 1 },
    syncThreshold: 256 * 1024,
  });

  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) =>
    done(null, formToObject(body as string)),
  );
  // The admin API's JSON; an empty body (a DELETE with a JSON content type, say) is no body.
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(ApiError.badData(`request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
  // Like Go's ParseForm, bodies of other types are read (so limits apply) and ignored.
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, _body, done) => done(null, undefined));

  app.setErrorHandler((err, request, reply) => {
    const api = toApiError(err, { maxBodyBytes: limits.maxBodyBytes });
    if (api.status >= 500 && api.type === "internal") request.log.error({ err }, "request failed");
    reply
      .code(api.status)
      .headers(api.headers)
      .type("application/json")
      .send(errorBody(api.type, api.message));
  });
  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .type("application/json")
      .send(
        errorBody(
          "not_found",
          `no such endpoint: ${request.method} ${redactSecrets(request.url.split("?")[0])}`,
        ),
      );
  });

  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.requests.inc({ route, method: request.method, code: String(reply.statusCode) });
    metrics.requestDuration.observe({ route }, reply.elapsedTime / 1000);
    request.log.info(
      {
        method: request.method,
        route,
        url: redactSecrets(request.url),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      "request",
    );
    done();
  });

  const json = (reply: FastifyReply, body: Reply) => reply.type("application/json").send(body);
  type ProjectRequest = FastifyRequest<{ Params: { projectId: string; name?: string; tokenId?: string } }>;
  const params = (request: FastifyRequest): Params =>
    mergeParams(request.query, isForm(request) ? request.body : undefined);

  // Health, readiness and the service's own metrics: no credentials, no customer data.
  const healthy = (_req: FastifyRequest, reply: FastifyReply) => reply.type("text/plain").send("Healthy.\n");
  const ready = (_req: FastifyRequest, reply: FastifyReply) =>
    ctx.ready()
      ? reply.type("text/plain").send("Ready.\n")
      : reply.code(503).type("text/plain").send("Service Unavailable: still opening the store.\n");
  for (const base of ["", TIMESERIES_PREFIX, OPERATOR_PREFIX]) {
    app.get(`${base}/-/healthy`, healthy);
    app.get(`${base}/-/ready`, ready);
  }
  app.get("/metrics", async (_req, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  /** Prometheus's query API, each request read within the scope its credentials give. */
  const queryApi =
    (
      scopeOf: (request: ProjectRequest) => ReadScope,
      authorize: (request: ProjectRequest) => Promise<void>,
    ) =>
    async (scope: FastifyInstance) => {
      scope.addHook("onRequest", async (request) => authorize(request as ProjectRequest));
      const both = ["GET", "POST"] as const;
      const route = (
        url: string,
        handler: (p: Params, scope: ReadScope, signal: AbortSignal) => Reply | Promise<Reply>,
      ) =>
        scope.route({
          method: [...both],
          url,
          handler: async (request: ProjectRequest, reply) =>
            json(reply, await handler(params(request), scopeOf(request), clientGone(reply))),
        });
      route("", (p, s, signal) => baseQuery(ctx, p, s, signal));
      route("/api/v1/query", (p, s, signal) => instantQuery(ctx, p, s, signal));
      route("/api/v1/query_range", (p, s, signal) => rangeQuery(ctx, p, s, signal));
      route("/api/v1/format_query", (p) => formatQuery(p));
      route("/api/v1/query_exemplars", (p) => queryExemplars(ctx, p));
      route("/api/v1/series", (p, s, signal) => series(ctx, p, s, signal));
      route("/api/v1/labels", (p, s, signal) => labelNames(ctx, p, s, signal));
      scope.get("/api/v1/label/:name/values", async (request: ProjectRequest, reply) =>
        json(
          reply,
          await labelValues(
            ctx,
            params(request),
            scopeOf(request),
            request.params.name ?? "",
            clientGone(reply),
          ),
        ),
      );
      scope.post("/api/v1/label/:name/values", async () => {
        throw new ApiError("method_not_allowed", "label values are only served to GET requests", {
          Allow: "GET",
        });
      });
      scope.get("/api/v1/metadata", async (request: ProjectRequest, reply) =>
        json(reply, await metadata(ctx, params(request), scopeOf(request))),
      );
      scope.get("/api/v1/status/buildinfo", async (_request, reply) => json(reply, buildInfo()));
      scope.get("/api/v1/rules", async (request, reply) =>
        json(reply, rulesData(o.rules?.(), params(request))),
      );
      scope.get("/api/v1/alerts", async (_request, reply) =>
        json(reply, successBody({ data: '{"alerts":[]}' })),
      );
    };

  // A project's query API, behind its monitoring token.
  await app.register(
    queryApi(
      (request) => request.params.projectId,
      async (request) => {
        const { projectId } = request.params;
        const token = await authorizeMonitoring(ctx, request, projectId);
        request.log = request.log.child({ project: projectId, token_id: token.id });
      },
    ),
    { prefix: TIMESERIES_PREFIX },
  );
  // The operator's query API over every project, behind the admin key: the provider's own
  // Grafana and fleet-wide queries. Never reachable with a monitoring token.
  await app.register(
    queryApi(
      () => OPERATOR,
      async (request) => {
        authorizeAdmin(ctx, request);
        request.log = request.log.child({ project: scopeName(OPERATOR) });
      },
    ),
    { prefix: OPERATOR_PREFIX },
  );

  if (o.webRoot) await registerWebRoutes(app, o.webRoot);

  if (o.remoteWrite !== false) {
    await registerWriteRoute(app, {
      storage: o.storage.appendable,
      api: ctx,
      ingestLimits: {
        maxFutureMs: limits.ingestMaxFutureMs,
        maxLabelNameLength: limits.ingestMaxLabelNameLength,
        maxLabelValueLength: limits.ingestMaxLabelValueLength,
        maxLabelsPerSeries: limits.ingestMaxLabelsPerSeries,
        maxSeriesPerProject: limits.ingestMaxSeriesPerProject,
      },
      ingestTokens: o.storage.ingestTokens,
      metrics,
      maxBodyBytes: limits.remoteWriteMaxBodyBytes,
      maxDecompressedBytes: limits.remoteWriteMaxDecompressedBytes,
      samplesPerSecond: limits.remoteWriteSamplesPerSecond,
      now,
    });
  }

  // The token admin API, behind the admin key.
  await app.register(
    async (scope) => {
      scope.addHook("onRequest", async (request) => {
        const r = request as ProjectRequest & { caller?: TokenInfo | null };
        r.caller = await authorizeTokenManager(ctx, request, r.params.projectId);
      });
      scope.post("/monitoring/tokens", async (request: ProjectRequest, reply) =>
        reply
          .code(201)
          .send(
            await createToken(
              ctx,
              request.params.projectId,
              request.body,
              (request as { caller?: TokenInfo | null }).caller,
            ),
          ),
      );
      scope.get("/monitoring/tokens", async (request: ProjectRequest) =>
        listTokens(ctx, request.params.projectId),
      );
      scope.delete("/monitoring/tokens/:tokenId", async (request: ProjectRequest, reply) => {
        await revokeToken(ctx, request.params.projectId, request.params.tokenId ?? "");
        return reply.code(204).send();
      });
    },
    { prefix: API_PREFIX },
  );
  await app.register(async (scope) => {
    scope.addHook("onRequest", async (request) => authorizeAdmin(ctx, request));
    scope.post("/v1alpha5/ingest-tokens", async (request, reply) =>
      reply.code(201).send(await createIngestToken(ctx, request.body)),
    );
    scope.get("/v1alpha5/ingest-tokens", async (request) =>
      listIngestTokens(ctx, (request.query as Record<string, string | undefined>).project_id),
    );
    scope.delete("/v1alpha5/ingest-tokens/:tokenId", async (request, reply) => {
      await revokeIngestToken(ctx, (request.params as { tokenId: string }).tokenId);
      return reply.code(204).send();
    });
  });

  return app;
}

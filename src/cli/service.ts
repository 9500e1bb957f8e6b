/**
 * The composition root of `mim serve`: opens the storage (the embedded store, or in remote mode
 * the remote-write queue and a client of the engine's query API) and the metadata database, loads
 * or creates the admin key, starts the API server, then what feeds the storage: the recording
 * rules, the metering gateway, the scraper and, for the demo, a simulated fleet with its load.
 * Kept apart from flag parsing so tests and the demo start exactly what operators run. Closing
 * stops the producers first (the gateway's last flush lands), then the API, then the storage.
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import type { QueryBackend } from "../api/backend.js";
import type { ApiLimits } from "../api/context.js";
import { RemoteBackend } from "../api/remote-backend.js";
import { SelfMetrics } from "../api/self-metrics.js";
import { buildApiServer } from "../api/server.js";
import { type AdminKey, loadOrCreateAdminKey } from "../auth/admin-key.js";
import { openMetaDb } from "../auth/meta-db.js";
import { openTokenRepositories } from "../auth/pg/open.js";
import type { TokenRepository } from "../auth/pg/repository.js";
import { QueryPool } from "../exec/query-pool.js";
import {
  type Gateway,
  type GatewayConfig,
  loadGatewayConfig,
  parseGatewayConfig,
  startGateway,
} from "../gateway/index.js";
import { loadScrapeConfig, type ScrapeConfig, type Scraper, startScraper } from "../ingest/scrape/index.js";
import { EngineClient } from "../remote/read/client.js";
import { decodeQueryData } from "../remote/read/decode.js";
import { RemoteWriteStorage } from "../remote/sender/index.js";
import { builtinRuleGroups } from "../rules/builtin.js";
import { RuleManager, type RuleManagerOptions, type RuleQuery } from "../rules/manager.js";
import { loadRuleFile, type RuleGroup } from "../rules/rule-file.js";
import { type SimFleet, startSimFleet } from "../sim/fleet.js";
import type { RunningLoad } from "../sim/load.js";
import { type Appendable, PROJECT_LABEL } from "../storage/index.js";
import type { SyncMode } from "../tsdb/sqlite-store.js";
import { Tsdb } from "../tsdb/tsdb.js";

/**
 * Remote storage mode: samples go by remote-write to a Prometheus-compatible engine
 * (VictoriaMetrics, Mimir / Cortex, Thanos Receive, Prometheus) and queries to its Prometheus API.
 */
export interface RemoteStorageConfig {
  /** The engine's remote-write endpoint, e.g. http://vminsert:8480/insert/0/prometheus/api/v1/write. */
  writeUrl: string;
  /** Base of the engine's Prometheus API (`<url>/api/v1/query`), e.g. http://vmselect:8481/select/0/prometheus. */
  queryUrl: string;
  /** Sent to the engine as `Authorization: Bearer …` on both paths. */
  bearerToken?: string;
  /** Extra headers to the engine on both paths. */
  headers?: Readonly<Record<string, string>>;
  /**
   * Tenant per project: the project id travels in this header (`X-Scope-OrgID` for Mimir/Cortex),
   * and/or replaces `{tenant}` in both URLs (VictoriaMetrics cluster account ids, which must then
   * be numeric project ids).
   */
  tenantHeader?: string;
  /** Concurrent remote-write senders (default 4). */
  shards?: number;
  /** Bound on the on-disk queue (default 1 GiB). */
  maxQueueBytes?: number;
  /** Largest answer taken from the engine, in bytes (default 64 MiB). */
  maxResponseBytes?: number;
}

export interface ServiceConfig {
  dataDir: string;
  /** host:port to listen on; port 0 picks a free one. */
  listen: string;
  retentionMs: number;
  sync: SyncMode;
  maxDiskBytes: number;
  lookbackDeltaMs: number;
  limits: ApiLimits;
  /** Worker threads evaluating queries (default: one per core, at least 2). */
  queryWorkers?: number;
  /** Heap budget of one query, MiB (default 1024). */
  queryMaxMemoryMb?: number;
  logLevel: string;
  /** MIM_ADMIN_KEY, if set. */
  adminKeyFromEnv?: string;
  /** Where JSON logs go (default stdout). */
  logDestination?: NodeJS.WritableStream;
  /** Rule files in Prometheus's format, evaluated besides the built-in rules. */
  ruleFiles?: readonly string[];
  /** The built-in TTFT/TPOT quantile rules (default on). */
  builtinRules?: boolean;
  /** Evaluation interval of groups that do not set one, in ms (default 60 s). */
  ruleIntervalMs?: number;
  /** Runs the metering gateway with this config file. */
  gatewayConfig?: string;
  /** host:port of the gateway (default 127.0.0.1:9301). */
  gatewayListen?: string;
  /** Gateway flush interval in ms, overriding the config file's. */
  gatewayFlushMs?: number;
  /** Runs a simulated fleet behind the gateway with its load (the demo). */
  simFleet?: boolean;
  /** The built metrics page (default: web/dist of this checkout). */
  webRoot?: string;
  /** Scrapes vLLM-style /metrics targets listed in this config file. */
  scrapeConfig?: string;
  /**
   * Keeps tokens in this PostgreSQL database (shared by API replicas; the schema is created or
   * brought up to date) and evaluates the rules only while holding the leader lease there.
   * Without it, tokens live in the embedded metadata database and this node evaluates alone.
   */
  postgresUrl?: string;
  /** Remote storage mode; without it the embedded store holds everything. */
  remote?: RemoteStorageConfig;
}

export interface RunningService {
  /** e.g. http://127.0.0.1:9300 */
  url: string;
  adminKey: AdminKey;
  /** The embedded store (absent in remote mode). */
  db?: Tsdb;
  /** The worker threads that evaluate the embedded store's queries (absent in remote mode). */
  queryPool?: QueryPool;
  /** The remote-write queue (remote mode only). */
  remote?: RemoteWriteStorage;
  /** Where producers write: the embedded store, or the remote-write queue. */
  appendable: Appendable;
  tokens: TokenRepository;
  ingestTokens: TokenRepository;
  app: FastifyInstance;
  rules: RuleManager;
  gateway?: Gateway;
  scraper?: Scraper;
  fleet?: SimFleet;
  load?: RunningLoad;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535)
    throw new Error(`invalid --listen ${JSON.stringify(listen)}: use HOST:PORT`);
  const host = m[1].replace(/^\[(.*)\]$/, "$1") || "0.0.0.0";
  return { host, port: Number(m[2]) };
}

function loopbackUrl(address: string, host: string): string {
  return host === "0.0.0.0" || host === "::"
    ? address.replace(/\/\/[^:/]+|\/\/\[[^\]]+\]/, "//127.0.0.1")
    : address;
}

interface OpenedStorage {
  db?: Tsdb;
  /** Evaluates the embedded store's queries (API and rules). */
  pool?: QueryPool;
  remote?: RemoteWriteStorage;
  backend?: QueryBackend;
  appendable: Appendable;
  rules: Pick<RuleManagerOptions, "query" | "appendable">;
  close(): Promise<void> | void;
}

/** Whether the engine separates projects as tenants; a half-configured tenant mode is an error. */
function isTenantPerProject(r: RemoteStorageConfig): boolean {
  const inWrite = r.writeUrl.includes("{tenant}");
  const inQuery = r.queryUrl.includes("{tenant}");
  if (r.tenantHeader === undefined && inWrite !== inQuery) {
    throw new Error(
      `{tenant} is in the remote ${inWrite ? "write" : "query"} URL only: put it in both (VictoriaMetrics cluster: /insert/{tenant}/… and /select/{tenant}/…), or use --remote-tenant-header`,
    );
  }
  return r.tenantHeader !== undefined || inWrite;
}

function openStorage(cfg: ServiceConfig, dataDir: string, logger: pino.Logger): OpenedStorage {
  const r = cfg.remote;
  if (!r) {
    const db = Tsdb.open({
      dir: dataDir,
      retentionMs: cfg.retentionMs,
      sync: cfg.sync,
      maxDiskBytes: cfg.maxDiskBytes,
      log: (m, level) => logger[level]({ component: "tsdb" }, m),
    });
    // One pool of query workers for the API and the rules: no query runs on this thread.
    const pool = new QueryPool({
      workers: cfg.queryWorkers,
      maxMemoryMb: cfg.queryMaxMemoryMb,
      engine: {
        lookbackDeltaMs: cfg.lookbackDeltaMs,
        timeoutMs: cfg.limits.queryTimeoutMs,
        maxSamples: cfg.limits.maxSamples,
      },
      log: (m) => logger.error({ component: "query-pool" }, m),
    });
    // Rules read across projects, so they get the whole store.
    const query: RuleQuery = async (expr, t, signal) => {
      const deadline = Date.now() + cfg.limits.queryTimeoutMs;
      return (
        await pool.run({ kind: "instant", query: expr, start: t, end: t, step: 0, deadline, signal }, db)
      ).value;
    };
    return {
      db,
      pool,
      appendable: db,
      rules: { query, appendable: db },
      close: async () => {
        await pool.close();
        db.close();
      },
    };
  }
  const tenantPerProject = isTenantPerProject(r);
  const client = new EngineClient({
    url: r.queryUrl,
    bearerToken: r.bearerToken,
    headers: r.headers,
    tenantHeader: r.tenantHeader,
    timeoutMs: cfg.limits.queryTimeoutMs + 10_000,
    maxResponseBytes: r.maxResponseBytes,
  });
  const remote = new RemoteWriteStorage({
    url: r.writeUrl,
    dir: dataDir,
    bearerToken: r.bearerToken,
    headers: r.headers,
    ...(tenantPerProject ? { tenant: { label: PROJECT_LABEL, header: r.tenantHeader } } : {}),
    shards: r.shards,
    maxQueueBytes: r.maxQueueBytes,
    sync: cfg.sync,
    log: (m) => logger.warn({ component: "remote-write" }, m),
  });
  // The rules read across projects, so they run against the engine as the service itself, unscoped.
  const query = async (expr: string, t: number, signal: AbortSignal) => {
    const params = new URLSearchParams({ query: expr, time: String(t / 1000) });
    return decodeQueryData((await client.call("/api/v1/query", params, { post: true, signal })).data);
  };
  return {
    remote,
    backend: new RemoteBackend(client, cfg.limits.queryTimeoutMs),
    appendable: remote,
    rules: { query, appendable: remote },
    close: () => remote.close(),
  };
}

export async function startService(cfg: ServiceConfig): Promise<RunningService> {
  const dataDir = resolve(cfg.dataDir);
  const { host, port } = parseListen(cfg.listen);
  mkdirSync(dataDir, { recursive: true });
  const logger = pino(
    {
      level: cfg.logLevel,
      base: { service: "mim" },
      redact: {
        paths: ["req.headers.authorization", "headers.authorization", "token"],
        censor: "[REDACTED]",
      },
    },
    (cfg.logDestination ?? process.stdout) as pino.DestinationStream,
  );
  // Read every config file before opening anything, so a typo fails fast and touches nothing.
  const ruleInterval = cfg.ruleIntervalMs ?? 60_000;
  // A tenant-per-project engine has no query across projects: rules belong to its own ruler there.
  const tenantPerProject = cfg.remote !== undefined && isTenantPerProject(cfg.remote);
  if (tenantPerProject && (cfg.ruleFiles ?? []).length > 0) {
    throw new Error(
      "recording rules cannot run here in tenant-per-project mode (a query sees one tenant); use the engine's ruler (Mimir ruler, vmalert) instead",
    );
  }
  if (tenantPerProject && cfg.builtinRules !== false) {
    logger.warn(
      { component: "rules" },
      "tenant-per-project mode: the built-in TTFT/TPOT quantile rules do not run here (a query sees one tenant); run them in the engine's ruler per tenant",
    );
  }
  const groups: RuleGroup[] = [
    ...(cfg.builtinRules === false || tenantPerProject ? [] : builtinRuleGroups(ruleInterval)),
    ...(cfg.ruleFiles ?? []).flatMap((f) => loadRuleFile(f, ruleInterval)),
  ];
  const gatewayFile: GatewayConfig | undefined = cfg.gatewayConfig
    ? loadGatewayConfig(cfg.gatewayConfig)
    : undefined;
  const scrapeFile: ScrapeConfig | undefined = cfg.scrapeConfig
    ? loadScrapeConfig(cfg.scrapeConfig)
    : undefined;

  const meta = openMetaDb(dataDir, (m) => logger.warn({ component: "tokens" }, m));
  // Stopped in reverse order of starting.
  const closers: Array<() => Promise<void> | void> = [
    () => {
      meta.close();
    },
  ];
  const closeAll = async () => {
    for (const c of closers.reverse()) {
      try {
        await c();
      } catch (err) {
        logger.error({ err }, "error while stopping");
      }
    }
    closers.length = 0;
    logger.flush();
  };
  try {
    const storage = openStorage(cfg, dataDir, logger);
    closers.push(() => storage.close());
    const repos = await openTokenRepositories({
      postgresUrl: cfg.postgresUrl,
      metaDb: meta,
      log: (fields, message) => logger.info({ component: "tokens", ...fields }, message),
    });
    closers.push(() => repos.close());
    const { tokens, ingestTokens } = repos;
    const engine = { lookbackDeltaMs: cfg.lookbackDeltaMs };
    const rules = new RuleManager({
      groups,
      ...storage.rules,
      leadership: repos.rulesLeadership,
      log: (fields, message) => logger.warn({ component: "rules", ...fields }, message),
    });
    const adminKey = loadOrCreateAdminKey(dataDir, cfg.adminKeyFromEnv);
    const metrics = new SelfMetrics();
    const remote = storage.remote;
    if (remote) metrics.watchRemoteWrite(() => remote.status());
    const app = await buildApiServer({
      metrics,
      ...(storage.db ? { storage: storage.db, queryRunner: storage.pool } : { backend: storage.backend }),
      writable: storage.appendable,
      tokens,
      ingestTokens,
      adminKey: adminKey.value,
      limits: cfg.limits,
      engine,
      logger,
      rules: () => ({ groups: rules.groups, health: rules.health() }),
      webRoot: cfg.webRoot ?? fileURLToPath(new URL("../../web/dist", import.meta.url)),
    });
    const url = loopbackUrl(await app.listen({ host, port }), host);
    closers.push(() => app.close());
    await repos.start();
    rules.start();
    closers.push(() => rules.stop());

    const running: RunningService = {
      url,
      adminKey,
      db: storage.db,
      queryPool: storage.pool,
      remote: storage.remote,
      appendable: storage.appendable,
      tokens,
      ingestTokens,
      app,
      rules,
      close: closeAll,
    };
    let gatewayConfig = gatewayFile;
    if (cfg.simFleet) {
      const fleet = await startSimFleet();
      closers.push(() => fleet.close(2_000));
      running.fleet = fleet;
      gatewayConfig ??= parseGatewayConfig(fleet.gatewayConfig, "the simulated fleet");
    }
    if (gatewayConfig) {
      const gateway = await startGateway({
        config: gatewayConfig,
        appendable: storage.appendable,
        listen: cfg.gatewayListen ?? "127.0.0.1:9301",
        flushIntervalMs: cfg.gatewayFlushMs,
        log: (m, level) => logger[level]({ component: "gateway" }, m),
      });
      closers.push(() => gateway.close());
      running.gateway = gateway;
    }
    if (scrapeFile) {
      const scraper = startScraper({
        config: scrapeFile,
        appendable: storage.appendable,
        log: logger.child({ component: "scrape" }),
      });
      closers.push(() => scraper.close());
      running.scraper = scraper;
    }
    if (running.fleet && running.gateway) {
      // The load is stopped before the gateway (closers run in reverse), so its last requests are metered.
      running.load = running.fleet.startLoad(running.gateway.url);
      const load = running.load;
      closers.push(() => load.stop(2_000));
    }
    return running;
  } catch (err) {
    await closeAll();
    throw err;
  }
}

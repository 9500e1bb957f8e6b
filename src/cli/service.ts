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
import type { ApiLimits } from "../api/context.js";
import { buildApiServer } from "../api/server.js";
import { type AdminKey, loadOrCreateAdminKey } from "../auth/admin-key.js";
import type { TokenStore } from "../auth/token-store.js";
import type { QueryPool } from "../exec/query-pool.js";
import {
  type Gateway,
  type GatewayConfig,
  loadGatewayConfig,
  parseGatewayConfig,
  startGateway,
} from "../gateway/index.js";
import { loadScrapeConfig, type ScrapeConfig, type Scraper, startScraper } from "../ingest/scrape/index.js";
import { SelfMetrics } from "../metrics/self-metrics.js";
import { CloseStack } from "../modes/close-stack.js";
import type { DataDirLock } from "../modes/data-dir-lock.js";
import { openStorage } from "../modes/open.js";
import { isTenantPerProject, type RemoteStorageConfig } from "../modes/remote.js";
import type { ServiceStorage } from "../modes/storage.js";
import type { RemoteWriteStorage } from "../remote/sender/index.js";
import { builtinRuleGroups } from "../rules/builtin.js";
import { RuleManager } from "../rules/manager.js";
import { loadRuleFile, type RuleGroup } from "../rules/rule-file.js";
import { type SimFleet, startSimFleet } from "../sim/fleet.js";
import type { RunningLoad } from "../sim/load.js";
import type { Appendable } from "../storage/index.js";
import type { SyncMode } from "../tsdb/sqlite-store.js";
import type { Tsdb } from "../tsdb/tsdb.js";

export type { RemoteStorageConfig };

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
  /** The opened storage mode, as every part of the service sees it. */
  storage: ServiceStorage;
  /** `<data-dir>/lock`, held until close (src/modes/data-dir-lock.ts). */
  dataDirLock: DataDirLock;
  /** Where producers write: the embedded store, or the remote-write queue. */
  appendable: Appendable;
  tokens: TokenStore;
  ingestTokens: TokenStore;
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

  // Stopped in reverse order of starting.
  const closers = new CloseStack((err) => logger.error({ err }, "error while stopping"));
  const closeAll = async () => {
    await closers.closeAll();
    logger.flush();
  };
  try {
    const opened = await openStorage(
      {
        dataDir,
        retentionMs: cfg.retentionMs,
        sync: cfg.sync,
        maxDiskBytes: cfg.maxDiskBytes,
        engine: {
          lookbackDeltaMs: cfg.lookbackDeltaMs,
          timeoutMs: cfg.limits.queryTimeoutMs,
          maxSamples: cfg.limits.maxSamples,
        },
        queryWorkers: cfg.queryWorkers,
        queryMaxMemoryMb: cfg.queryMaxMemoryMb,
        postgresUrl: cfg.postgresUrl,
        remote: cfg.remote,
      },
      logger,
    );
    const { storage } = opened;
    closers.push(() => storage.close());
    const rules = new RuleManager({
      groups,
      query: storage.ruleQuery,
      appendable: storage.appendable,
      leadership: storage.rulesLeadership,
      log: (fields, message) => logger.warn({ component: "rules", ...fields }, message),
    });
    const adminKey = loadOrCreateAdminKey(dataDir, cfg.adminKeyFromEnv);
    const app = await buildApiServer({
      storage,
      metrics: new SelfMetrics(),
      adminKey: adminKey.value,
      limits: cfg.limits,
      logger,
      rules: () => ({ groups: rules.groups, health: rules.health() }),
      webRoot: cfg.webRoot ?? fileURLToPath(new URL("../../web/dist", import.meta.url)),
    });
    const url = loopbackUrl(await app.listen({ host, port }), host);
    closers.push(() => app.close());
    await storage.start();
    rules.start();
    closers.push(() => rules.stop());

    const running: RunningService = {
      url,
      adminKey,
      storage,
      dataDirLock: opened.dataDirLock,
      db: opened.db,
      queryPool: opened.queryPool,
      remote: opened.remoteQueue,
      appendable: storage.appendable,
      tokens: storage.tokens,
      ingestTokens: storage.ingestTokens,
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

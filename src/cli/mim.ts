#!/usr/bin/env node
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { DEFAULT_LIMITS } from "../api/context.js";
import { isDiskFull } from "../auth/errors.js";
import { formatDurationMs } from "../config/duration.js";
import { acquireDataDirLock } from "../modes/data-dir-lock.js";
import { displayUrl } from "../remote/sender/index.js";
import { Tsdb } from "../tsdb/tsdb.js";
import { ApiClient } from "./api-client.js";
import { demoBanner } from "./banner.js";
import { cliConfigPath, readCliConfig, updateCliConfig } from "./cli-config.js";
import {
  applyConfigFile,
  duration,
  remoteConfig,
  type ServeFlags,
  type StoreFlags,
  serveOptions,
  storeOptions,
} from "./serve-flags.js";
import { startService } from "./service.js";
import { tokenTable } from "./token-table.js";

function openStore(flags: StoreFlags, log: (m: string) => void): Tsdb {
  return Tsdb.open({
    dir: resolve(flags.dataDir),
    retentionMs: flags.retention,
    sync: flags.sync,
    maxDiskBytes: flags.maxDiskSize,
    log,
  });
}

const program = new Command("mim")
  .description("Managed Inference Metrics: operator commands")
  .showHelpAfterError();

serveOptions(
  program
    .command("serve")
    .description("run the query API on the embedded store (or a remote engine) until interrupted"),
).action(async (_flags: ServeFlags, cmd: Command) => {
  const initial = cmd.opts<ServeFlags>();
  if (initial.config) applyConfigFile(cmd, initial.config);
  const flags = cmd.opts<ServeFlags>();
  if (flags.demo) flags.demoProject ??= "demo";
  const service = await startService({
    remote: remoteConfig(flags),
    ruleFiles: flags.rules,
    builtinRules: flags.builtinRules,
    gatewayConfig: flags.gatewayConfig,
    gatewayListen: flags.gatewayListen,
    scrapeConfig: flags.scrapeConfig,
    postgresUrl: flags.postgresUrl,
    simFleet: flags.demo,
    dataDir: flags.dataDir,
    listen: flags.listen,
    retentionMs: flags.retention,
    sync: flags.sync,
    maxDiskBytes: flags.maxDiskSize,
    lookbackDeltaMs: flags.lookbackDelta,
    logLevel: flags.logLevel,
    adminKeyFromEnv: process.env.MIM_ADMIN_KEY,
    limits: {
      queryTimeoutMs: flags.queryTimeout,
      maxSamples: flags.queryMaxSamples,
      maxSeries: flags.queryMaxSeries,
      maxPointsPerSeries: flags.queryMaxPoints,
      maxBodyBytes: flags.maxBodySize,
      rateLimitPerSecond: flags.rateLimit,
      rateLimitBurst: flags.rateLimitBurst,
      projectRateLimitPerSecond: flags.projectRateLimit,
      projectRateLimitBurst: flags.projectRateLimitBurst,
      authFailuresPerMinute: flags.authFailureLimit,
      authFailureBurst: flags.authFailureBurst,
      tokenCreatesPerMinute: flags.tokenCreateRate,
      tokenCreateBurst: flags.tokenCreateBurst,
      maxTokensPerProject: flags.maxTokensPerProject,
      remoteWriteMaxBodyBytes: DEFAULT_LIMITS.remoteWriteMaxBodyBytes,
      remoteWriteMaxDecompressedBytes: DEFAULT_LIMITS.remoteWriteMaxDecompressedBytes,
      remoteWriteSamplesPerSecond: flags.remoteWriteRate,
      ingestMaxFutureMs: flags.ingestMaxFuture,
      ingestMaxLabelNameLength: flags.ingestMaxLabelNameLength,
      ingestMaxLabelValueLength: flags.ingestMaxLabelValueLength,
      ingestMaxLabelsPerSeries: flags.ingestMaxLabelsPerSeries,
      ingestMaxSeriesPerProject: flags.ingestMaxSeriesPerProject,
      queryConcurrency: flags.queryConcurrency,
      queryConcurrencyPerProject: flags.queryConcurrencyPerProject,
      queryQueuePerProject: flags.queryQueuePerProject,
    },
    queryWorkers: flags.queryWorkers || undefined,
    queryMaxMemoryMb: Math.max(16, Math.round(flags.queryMaxMemory / 1024 ** 2)),
  });
  const say = (m: string) => process.stderr.write(`${m}\n`);
  if (service.db) {
    const st = service.db.stats();
    say(
      `mim: serving ${service.url} from ${resolve(flags.dataDir)} (${st.series} series, retention ${formatDurationMs(flags.retention)}).`,
    );
  } else if (service.remote) {
    const st = service.remote.status();
    say(
      `mim: serving ${service.url} on remote storage: writes to ${st.url} (queue in ${resolve(flags.dataDir)}, ${st.queuedSamples} samples queued), queries to ${displayUrl(flags.remoteQueryUrl ?? "")}.`,
    );
  }
  if (service.dataDirLock.warning) say(`mim: ${service.dataDirLock.warning}.`);
  if (service.adminKey.generated)
    say(`mim: generated an admin key into ${service.adminKey.source} (mode 0600).`);
  if (flags.cliConfig && service.adminKey.source !== "env") {
    const path = cliConfigPath();
    const keepProject = readCliConfig(path).project;
    updateCliConfig(path, {
      endpoint: service.url,
      admin_key: service.adminKey.value,
      ...(keepProject === undefined && flags.demoProject ? { project: flags.demoProject } : {}),
    });
    say(`mim: the crusoe CLI on this machine is configured (${path}).`);
  }
  if (service.gateway) say(`mim: metering gateway (OpenAI-compatible) on ${service.gateway.url}/v1`);
  if (service.fleet)
    say(`mim: simulated fleet: ${service.fleet.models.map((m) => m.name).join(", ")}; load running`);
  if (flags.demoProject) {
    try {
      const { token } = await service.tokens.create(flags.demoProject, "demo", null);
      for (const line of demoBanner(service, flags.demoProject, token)) say(line);
    } catch (err) {
      // A full disk must not stop the service from serving what it has: only the demo token is lost.
      if (!isDiskFull(err)) throw err;
      say(
        "mim: the disk is full: no demo token was made; free space, then create one with `crusoe monitoring tokens create`.",
      );
    }
  }
  say("mim: press Ctrl-C to stop (the store checkpoints on the way out).");
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`mim: ${signal}: stopping`);
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        say(`mim: error while stopping: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
});

storeOptions(
  program
    .command("inspect")
    .description(
      "open a data directory (not one a running mim holds), report recovery and contents, and exit",
    ),
).action((flags: StoreFlags) => {
  // Opening the store writes (log replay, start-up checkpoint, salvage of a damaged file), so a
  // live data dir is refused like a second `mim serve`, before anything is opened.
  const lock = acquireDataDirLock(resolve(flags.dataDir));
  if (lock.warning) console.error(`mim: ${lock.warning}.`);
  try {
    const db = openStore(flags, (m) => console.error(m));
    try {
      const q = db.querier(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      console.log(
        JSON.stringify(
          { recovery: db.recovery, stats: db.stats(), metrics: q.labelValues("__name__").length },
          null,
          2,
        ),
      );
    } finally {
      db.close();
    }
  } finally {
    lock.release();
  }
});

/** The admin API client from flags, env or the local CLI config, as crusoe builds it. */
function adminClient(flags: { endpoint?: string; adminKey?: string }): ApiClient {
  const config = readCliConfig(cliConfigPath());
  const endpoint = flags.endpoint ?? config.endpoint;
  if (!endpoint) {
    throw new Error(
      `no endpoint: pass --endpoint URL, set CRUSOE_API_ENDPOINT, or start \`mim serve\` on this machine once`,
    );
  }
  return new ApiClient(endpoint, flags.adminKey ?? config.admin_key);
}

const adminOptions = (cmd: Command) =>
  cmd
    .addOption(
      new Option("--endpoint <url>", "service URL (default: the local CLI config)").env(
        "CRUSOE_API_ENDPOINT",
      ),
    )
    .addOption(
      new Option("--admin-key <key>", "admin key (default: the local CLI config)").env("CRUSOE_ADMIN_KEY"),
    );

const ingest = program
  .command("ingest-tokens")
  .description("tokens for Prometheus remote-write into /api/v1/write");
adminOptions(
  ingest
    .command("create")
    .description("create an ingest token; it is printed once")
    .option("--project <id>", "the only project it may write (default: every project)")
    .option("--name <name>", "a name to recognise it by", "remote-write")
    .option("--expires <duration>", "lifetime, e.g. 90d (default: never)")
    .addOption(new Option("--output <format>", "text or json").choices(["text", "json"]).default("text")),
).action(
  async (flags: {
    project?: string;
    name: string;
    expires?: string;
    output: string;
    endpoint?: string;
    adminKey?: string;
  }) => {
    if (flags.expires !== undefined) duration(flags.expires);
    const client = adminClient(flags);
    const t = await client.createIngestToken(flags.project, flags.name, flags.expires);
    if (flags.output === "json") {
      console.log(JSON.stringify({ ...t, remote_write_url: client.remoteWriteUrl() }, null, 2));
      return;
    }
    console.log(
      `Created ingest token "${t.name}" (${t.id}) for ${t.project_id === "*" ? "every project" : `project ${t.project_id}`}; shown only this once:`,
    );
    console.log(`\n  ${t.token}\n`);
    console.log("Prometheus (prometheus.yml):");
    console.log(
      `  remote_write:\n    - url: ${client.remoteWriteUrl()}\n      authorization:\n        credentials: ${t.token}`,
    );
  },
);
adminOptions(
  ingest
    .command("list")
    .description("list ingest tokens (never their values)")
    .addOption(new Option("--output <format>", "table or json").choices(["table", "json"]).default("table")),
).action(async (flags: { output: string; endpoint?: string; adminKey?: string }) => {
  const list = await adminClient(flags).listIngestTokens();
  if (flags.output === "json") console.log(JSON.stringify(list, null, 2));
  else
    console.log(
      list.length === 0
        ? "no ingest tokens; create one with `mim ingest-tokens create`"
        : tokenTable(list, true),
    );
});
adminOptions(
  ingest
    .command("revoke")
    .description("revoke an ingest token; writes with it fail at once")
    .argument("<token-id>"),
).action(async (tokenId: string, flags: { endpoint?: string; adminKey?: string }) => {
  await adminClient(flags).revokeIngestToken(tokenId);
  console.log(`Revoked ${tokenId}.`);
});

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`mim: ${(err as Error).message}`);
  process.exit(1);
});

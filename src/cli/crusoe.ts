#!/usr/bin/env node
/**
 * `crusoe`: the customer's CLI, after the product page's `crusoe monitoring tokens create`.
 * Endpoint and admin key come from flags, CRUSOE_API_ENDPOINT / CRUSOE_ADMIN_KEY, or the local
 * config that `mim serve` writes; the project from --project, CRUSOE_PROJECT_ID or the config.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { parseDurationMs } from "../config/duration.js";
import { ApiClient, ApiClientError } from "./api-client.js";
import { type CliConfig, cliConfigPath, readCliConfig, updateCliConfig } from "./cli-config.js";
import { formatQueryResult } from "./query-output.js";
import { tokenTable } from "./token-table.js";

interface GlobalFlags {
  endpoint?: string;
  adminKey?: string;
}

function context(cmd: Command): { client: ApiClient; config: CliConfig; configPath: string } {
  const global = cmd.optsWithGlobals<GlobalFlags>();
  const configPath = cliConfigPath();
  const config = readCliConfig(configPath);
  const endpoint = global.endpoint ?? config.endpoint;
  if (!endpoint) {
    throw new ApiClientError(
      `no endpoint: pass --endpoint URL, set CRUSOE_API_ENDPOINT, or run \`mim serve\` on this machine once (it writes ${configPath})`,
      0,
    );
  }
  return { client: new ApiClient(endpoint, global.adminKey ?? config.admin_key), config, configPath };
}

function project(flag: string | undefined, config: CliConfig, configPath: string): string {
  const p = flag ?? config.project;
  if (!p) {
    throw new ApiClientError(
      `no project: pass --project ID, set CRUSOE_PROJECT_ID, or save a default with \`crusoe config set project ID\` (${configPath})`,
      0,
    );
  }
  return p;
}

function expires(value: string): string | undefined {
  if (value === "never") return undefined;
  try {
    parseDurationMs(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
}

const projectOption = () =>
  new Option("--project <id>", "project id (default: the config's project)").env("CRUSOE_PROJECT_ID");
const out = (s: string) => process.stdout.write(`${s}\n`);

const program = new Command("crusoe")
  .description("Crusoe CLI: monitoring tokens and PromQL queries for Managed Inference Metrics")
  .addOption(
    new Option("--endpoint <url>", "service URL, e.g. http://127.0.0.1:9300").env("CRUSOE_API_ENDPOINT"),
  )
  .addOption(new Option("--admin-key <key>", "admin key for token management").env("CRUSOE_ADMIN_KEY"))
  .showHelpAfterError();

const monitoring = program.command("monitoring").description("metrics of your managed inference models");
const tokens = monitoring.command("tokens").description("monitoring tokens for the query API");

tokens
  .command("create")
  .description("create a monitoring token; it is printed once and cannot be shown again")
  .addOption(projectOption())
  .option("--name <name>", "a name to recognise the token by", "monitoring")
  .addOption(
    new Option("--expires <duration>", 'lifetime, e.g. 90d, 12h, or "never"')
      .argParser(expires)
      .default(undefined, "never"),
  )
  .addOption(new Option("--output <format>", "text or json").choices(["text", "json"]).default("text"))
  .action(
    async (flags: { project?: string; name: string; expires?: string; output: string }, cmd: Command) => {
      const { client, config, configPath } = context(cmd);
      const id = project(flags.project, config, configPath);
      const t = await client.createToken(id, flags.name, flags.expires);
      const base = client.queryBase(id);
      if (flags.output === "json") {
        out(JSON.stringify({ ...t, query_url: base }, null, 2));
        return;
      }
      out(
        `Created monitoring token "${t.name}" (${t.id}) for project ${id}, expires ${t.expires_at ?? "never"}.`,
      );
      out("Store it in a secret manager now: it is shown only this once.");
      out("");
      out(`  ${t.token}`);
      out("");
      out("Query the API with curl:");
      out(
        `  curl -G ${base}\\?query=crusoe_inference_first_token_latency -H 'Authorization: Bearer ${t.token}'`,
      );
      out("");
      out("Grafana → Connections → Add data source → Prometheus:");
      out(`  Prometheus server URL:  ${base}`);
      out("  HTTP headers:           Authorization = Bearer <the token above>");
      out("  Scrape interval:        60s (the metrics are updated every minute)");
    },
  );

tokens
  .command("list")
  .description("list a project's monitoring tokens (never their values)")
  .addOption(projectOption())
  .addOption(new Option("--output <format>", "table or json").choices(["table", "json"]).default("table"))
  .action(async (flags: { project?: string; output: string }, cmd: Command) => {
    const { client, config, configPath } = context(cmd);
    const list = await client.listTokens(project(flags.project, config, configPath));
    if (flags.output === "json") {
      out(JSON.stringify(list, null, 2));
      return;
    }
    if (list.length === 0) {
      out("no monitoring tokens; create one with `crusoe monitoring tokens create`");
      return;
    }
    out(tokenTable(list));
  });

tokens
  .command("revoke")
  .description("revoke a monitoring token; it stops working at once")
  .argument("<token-id>", "the token's id, as `list` shows it")
  .addOption(projectOption())
  .action(async (tokenId: string, flags: { project?: string }, cmd: Command) => {
    const { client, config, configPath } = context(cmd);
    const id = project(flags.project, config, configPath);
    await client.revokeToken(id, tokenId);
    out(`Revoked ${tokenId} of project ${id}.`);
  });

monitoring
  .command("query")
  .description("run a PromQL query: instant (at --time, default now) or range (--start, --end, --step)")
  .argument("<promql>", "the query, e.g. 'sum by (model_name) (rate(crusoe_inference_request_count[5m]))'")
  .addOption(projectOption())
  .addOption(
    new Option(
      "--token <token>",
      "monitoring token (default: a short-lived one made with the admin key)",
    ).env("CRUSOE_MONITORING_TOKEN"),
  )
  .option("--time <time>", "evaluation time, RFC 3339 or unix seconds")
  .option("--start <time>", "range start, RFC 3339 or unix seconds")
  .option("--end <time>", "range end (default now)")
  .option("--step <duration>", "range step, e.g. 60 or 1m (default: about 250 points)")
  .addOption(new Option("--output <format>", "table or json").choices(["table", "json"]).default("table"))
  .action(
    async (
      promql: string,
      flags: {
        project?: string;
        token?: string;
        time?: string;
        start?: string;
        end?: string;
        step?: string;
        output: string;
      },
      cmd: Command,
    ) => {
      const { client, config, configPath } = context(cmd);
      const id = project(flags.project, config, configPath);
      const params: Record<string, string> = { query: promql };
      if (flags.start !== undefined || flags.end !== undefined || flags.step !== undefined) {
        if (flags.time !== undefined)
          throw new ApiClientError("give either --time or --start/--end/--step", 0);
        if (flags.start === undefined) throw new ApiClientError("a range query needs --start", 0);
        params.start = flags.start;
        params.end = flags.end ?? String(Date.now() / 1000);
        params.step = flags.step ?? defaultStep(params.start, params.end);
      } else if (flags.time !== undefined) {
        params.time = flags.time;
      }
      let token = flags.token;
      let temporary: string | undefined;
      if (!token) {
        const t = await client.createToken(id, "crusoe-cli-query", "15m");
        token = t.token;
        temporary = t.id;
      }
      try {
        const res = await client.query(id, token, params);
        if (flags.output === "json") out(JSON.stringify(res, null, 2));
        else out(formatQueryResult(res));
        for (const w of res.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
      } finally {
        if (temporary) await client.revokeToken(id, temporary);
      }
    },
  );

function defaultStep(start: string, end: string): string {
  const s = Number(start);
  const e = Number(end);
  const span =
    Number.isFinite(s) && Number.isFinite(e) ? e - s : (Date.parse(end) - Date.parse(start)) / 1000;
  return String(Math.max(1, Math.floor(span / 250)));
}

const config = program.command("config").description("the local CLI configuration");
config
  .command("set")
  .description("save a setting: project, endpoint or admin_key")
  .argument("<key>", "project | endpoint | admin_key")
  .argument("<value>")
  .action((key: string, value: string) => {
    if (!["project", "endpoint", "admin_key"].includes(key)) {
      throw new ApiClientError(
        `unknown setting ${JSON.stringify(key)}: use project, endpoint or admin_key`,
        0,
      );
    }
    const path = cliConfigPath();
    updateCliConfig(path, { [key]: value });
    out(`saved ${key} in ${path}`);
  });
config
  .command("show")
  .description("print the local configuration (the admin key abbreviated)")
  .action(() => {
    const path = cliConfigPath();
    const c = readCliConfig(path);
    out(
      JSON.stringify(
        { path, ...c, admin_key: c.admin_key ? `${c.admin_key.slice(0, 12)}…` : undefined },
        null,
        2,
      ),
    );
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`crusoe: ${(err as Error).message}\n`);
  process.exit(1);
});

/**
 * The demo fleet: a fast 8B and a slow 70B model, each behind its own mock server (as each model
 * has its own vLLM deployment in a real fleet), three projects with inference API keys, and their
 * request rates. `npm start` and the end-to-end tests start it, put the real gateway in front with
 * `gatewayConfig`, and point the load at the gateway.
 *
 * The rates add up to ~2 requests/s with ~5-10 streams open at a time: enough for every panel of
 * every project to have data within a minute, little enough for a 2-core laptop that also runs the
 * store, the API and the gateway.
 */
import type { ServiceTier } from "../catalog/metrics.js";
import { deriveSeed } from "./distributions.js";
import { type LoadOptions, type LoadStream, type RunningLoad, startLoad } from "./load.js";
import {
  type ModelProfile,
  type ModelServerOptions,
  type RunningModelServer,
  startModelServer,
} from "./model-server.js";

export interface FleetModel {
  name: string;
  serviceTier: ServiceTier;
  profile: ModelProfile;
}

export interface FleetProject {
  projectId: string;
  /** The inference API key clients of this project send to the gateway (demo value, not a secret). */
  apiKey: string;
  /** Requests/s per model name. */
  rates: Record<string, number>;
}

export const FAST_8B = "meta-llama/Llama-3.1-8B-Instruct";
export const SLOW_70B = "meta-llama/Llama-3.3-70B-Instruct";

export const DEMO_MODELS: readonly FleetModel[] = [
  {
    name: FAST_8B,
    serviceTier: "on_demand",
    profile: {
      ttft: { median: 0.08, sigma: 0.35 },
      tpot: { median: 0.012, sigma: 0.2 },
      outputTokens: { kind: "lognormal", median: 150, sigma: 0.6, min: 1, max: 1024 },
    },
  },
  {
    name: SLOW_70B,
    serviceTier: "pt",
    profile: {
      ttft: { median: 0.35, sigma: 0.4 },
      tpot: { median: 0.045, sigma: 0.2 },
      outputTokens: { kind: "lognormal", median: 150, sigma: 0.6, min: 1, max: 1024 },
    },
  },
];

export const DEMO_PROJECTS: readonly FleetProject[] = [
  { projectId: "demo", apiKey: "sk-sim-demo", rates: { [FAST_8B]: 0.6, [SLOW_70B]: 0.25 } },
  { projectId: "acme", apiKey: "sk-sim-acme", rates: { [FAST_8B]: 0.5, [SLOW_70B]: 0.2 } },
  { projectId: "globex", apiKey: "sk-sim-globex", rates: { [FAST_8B]: 0.3, [SLOW_70B]: 0.15 } },
];

export interface SimFleetOptions {
  models?: readonly FleetModel[];
  projects?: readonly FleetProject[];
  seed?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Multiplies every project's rates (e.g. 0.5 for a slower laptop, 10 for a stress run). */
  rateScale?: number;
  /** Passed to every model server (fault injection, role chunk timing). */
  server?: Pick<ModelServerOptions, "errorRate" | "cutRate" | "fault" | "roleChunk" | "logLimit">;
}

/** The gateway's config file fields the fleet determines, in that file's JSON shape (src/gateway/config.ts). */
export interface FleetGatewayConfig {
  api_keys: Array<{ key: string; project_id: string }>;
  models: Record<string, { upstream: string; service_tier: ServiceTier }>;
}

export interface SimFleet {
  /** Model name → its running mock server. */
  servers: Record<string, RunningModelServer>;
  /** Model name → OpenAI base URL of its server (with /v1) and its service tier. */
  models: Array<{ name: string; upstream: string; serviceTier: ServiceTier }>;
  /** Inference API key → project. */
  apiKeys: Array<{ key: string; projectId: string }>;
  gatewayConfig: FleetGatewayConfig;
  /** One load stream per (project, model) with a rate, scaled by rateScale. */
  loadStreams: LoadStream[];
  /** Starts the fleet's load against a gateway; overrides replace any LoadOptions field. */
  startLoad(gatewayUrl: string, overrides?: Partial<LoadOptions>): RunningLoad;
  /** Stops the loads started through startLoad (see RunningLoad.stop for graceMs), then the servers. */
  close(graceMs?: number): Promise<void>;
}

export async function startSimFleet(options: SimFleetOptions = {}): Promise<SimFleet> {
  const models = options.models ?? DEMO_MODELS;
  const projects = options.projects ?? DEMO_PROJECTS;
  const seed = options.seed ?? 1;
  const scale = options.rateScale ?? 1;
  const known = new Set(models.map((m) => m.name));
  for (const p of projects) {
    for (const name of Object.keys(p.rates)) {
      if (!known.has(name)) throw new Error(`sim fleet: project ${p.projectId} calls unknown model ${name}`);
    }
  }

  const servers: Record<string, RunningModelServer> = {};
  try {
    for (const [i, m] of models.entries()) {
      servers[m.name] = await startModelServer({
        ...options.server,
        models: { [m.name]: m.profile },
        seed: deriveSeed(seed, i),
        host: options.host,
      });
    }
  } catch (err) {
    await Promise.all(Object.values(servers).map((s) => s.close()));
    throw err;
  }

  const fleetModels = models.map((m) => ({
    name: m.name,
    upstream: servers[m.name].baseUrl,
    serviceTier: m.serviceTier,
  }));
  const apiKeys = projects.map((p) => ({ key: p.apiKey, projectId: p.projectId }));
  const loadStreams: LoadStream[] = projects.flatMap((p) =>
    Object.entries(p.rates)
      .filter(([, rate]) => rate * scale > 0)
      .map(([model, rate]) => ({ apiKey: p.apiKey, model, rate: rate * scale })),
  );
  const loads = new Set<RunningLoad>();

  return {
    servers,
    models: fleetModels,
    apiKeys,
    gatewayConfig: {
      api_keys: apiKeys.map((k) => ({ key: k.key, project_id: k.projectId })),
      models: Object.fromEntries(
        fleetModels.map((m) => [m.name, { upstream: m.upstream, service_tier: m.serviceTier }]),
      ),
    },
    loadStreams,
    startLoad(gatewayUrl, overrides = {}) {
      const load = startLoad({ baseUrl: gatewayUrl, streams: loadStreams, seed, ...overrides });
      loads.add(load);
      return load;
    },
    async close(graceMs?: number) {
      await Promise.all([...loads].map((l) => l.stop(graceMs)));
      loads.clear();
      await Promise.all(Object.values(servers).map((s) => s.close()));
    },
  };
}

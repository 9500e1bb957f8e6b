/**
 * The local CLI configuration shared by `mim serve` (which writes the endpoint and admin key on
 * first start) and `crusoe` (which reads them), so the CLI works on the service's machine with no
 * set-up. JSON, mode 0600, at $CRUSOE_CONFIG or $XDG_CONFIG_HOME/crusoe/config.json.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export interface CliConfig {
  /** Base URL of the service, e.g. http://127.0.0.1:9300 */
  endpoint?: string;
  admin_key?: string;
  /** The project commands use when --project is not given. */
  project?: string;
}

export function cliConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CRUSOE_CONFIG) return env.CRUSOE_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "crusoe", "config.json");
}

export function readCliConfig(path: string): CliConfig {
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message}); fix or delete it`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(`${path}: expected a JSON object`);
  }
  const out: CliConfig = {};
  for (const key of ["endpoint", "admin_key", "project"] as const) {
    const v = (parsed as Record<string, unknown>)[key];
    if (v !== undefined && typeof v !== "string") throw new Error(`${path}: "${key}" must be a string`);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** Merges `update` into the file, keeping what it does not mention. */
export function updateCliConfig(path: string, update: CliConfig): void {
  const merged = { ...readCliConfig(path), ...update };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(merged, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

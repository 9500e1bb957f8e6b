/** Shared set-up for the gateway tests: a mock upstream, a config pointing at it, a gateway. */
import { createHash } from "node:crypto";
import { type GatewayConfig, parseGatewayConfig } from "../../src/gateway/config.js";
import { type Gateway, startGateway } from "../../src/gateway/proxy.js";
import type { Appendable, Appender } from "../../src/storage/index.js";
import { type MockUpstream, type Scenario, startMockUpstream } from "./mock-upstream.js";

export const KEY_A = "sk-test-project-a";
export const KEY_B = "sk-test-project-b";
/** Configured by its SHA-256 only. */
export const KEY_C = "sk-test-hashed-c";

/** An Appendable that drops everything (tests that only look at the meter). */
export const nullAppendable: Appendable = {
  appender(): Appender {
    return {
      append: () => 0,
      commit: () => ({ samples: 0, outOfOrder: 0 }),
      rollback: () => {},
    };
  },
};

export function configFor(base: string, extra: Record<string, unknown> = {}): GatewayConfig {
  return parseGatewayConfig(
    {
      api_keys: [
        { key: KEY_A, project_id: "proj-a" },
        { key_sha256: createHash("sha256").update(KEY_C).digest("hex").toUpperCase(), project_id: "proj-c" },
        { key: KEY_B, project_id: "proj-b" },
      ],
      models: {
        "small-8b": { upstream: base, service_tier: "on_demand", upstream_api_key: "upstream-secret" },
        "big-70b": { upstream: base, service_tier: "pt" },
      },
      ...extra,
    },
    "test-config",
  );
}

export interface Rig {
  mock: MockUpstream;
  gw: Gateway;
  /** The gateway's OpenAI base URL (…/v1). */
  v1: string;
  close(): Promise<void>;
}

export async function startRig(
  scenario: Partial<Scenario> = {},
  opts: { extra?: Record<string, unknown>; appendable?: Appendable; now?: () => number } = {},
): Promise<Rig> {
  const mock = await startMockUpstream(scenario);
  const gw = await startGateway({
    config: configFor(mock.base, opts.extra),
    appendable: opts.appendable ?? nullAppendable,
    listen: "127.0.0.1:0",
    flushIntervalMs: 0,
    now: opts.now,
    closeGraceMs: 500,
  });
  return {
    mock,
    gw,
    v1: `${gw.url}/v1`,
    async close() {
      await gw.close();
      await mock.close();
    },
  };
}

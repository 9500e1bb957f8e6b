/**
 * The `startService` configuration tests and benchmarks start from: loopback on a free port,
 * silent logs, no rate limit, a fixed admin key; each caller adds what it is about (remote
 * storage, PostgreSQL, rules, the demo fleet).
 */
import { DEFAULT_LIMITS } from "../../src/api/context.js";
import type { ServiceConfig } from "../../src/cli/service.js";

export function testServiceConfig(
  dataDir: string,
  adminKey: string,
  extra: Partial<ServiceConfig> = {},
): ServiceConfig {
  return {
    dataDir,
    listen: "127.0.0.1:0",
    adminKeyFromEnv: adminKey,
    retentionMs: 30 * 86_400_000,
    sync: "normal",
    maxDiskBytes: 0,
    lookbackDeltaMs: 300_000,
    limits: {
      ...DEFAULT_LIMITS,
      rateLimitPerSecond: 0,
      projectRateLimitPerSecond: 0,
      authFailuresPerMinute: 0,
      tokenCreatesPerMinute: 0,
    },
    logLevel: "silent",
    ...extra,
  };
}

/** A log destination for a test service that keeps every JSON line, to assert on what was logged. */
export function capturedLogs(): { logs: string[]; logDestination: NodeJS.WritableStream } {
  const logs: string[] = [];
  const logDestination = {
    write: (line: string) => {
      logs.push(line);
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return { logs, logDestination };
}

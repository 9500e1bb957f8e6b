/** The metering gateway: an OpenAI-compatible proxy that meters every completion into the store. */
export {
  DEFAULT_FLUSH_INTERVAL_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TIMEOUTS,
  type GatewayConfig,
  GatewayConfigError,
  loadGatewayConfig,
  type ModelRoute,
  parseGatewayConfig,
  type Timeouts,
} from "./config.js";
export { Flusher, type FlusherOptions, type FlushResult } from "./flush.js";
export {
  ERROR_REASONS,
  type ErrorReason,
  formatBucketBound,
  type HistogramSnapshot,
  Meter,
  type MeterOptions,
  SERIES_PER_SLOT,
  type SlotSnapshot,
} from "./meter.js";
export { type Gateway, type GatewayOptions, startGateway } from "./proxy.js";

/**
 * The remote-write sender: RemoteWriteStorage is an Appendable whose commits go into a bounded
 * on-disk queue and on to a Prometheus-compatible engine by remote-write 1.0.
 */
export { RemoteWriteAppender } from "./appender.js";
export { backoffDelay, parseRetryAfter } from "./backoff.js";
export { displayUrl, type RemoteWriteStorageOptions, type SyncMode } from "./options.js";
export { QUEUE_FILE } from "./queue-db.js";
export type { RemoteWriteStatus } from "./status.js";
export { RemoteWriteStorage } from "./storage.js";
export { buildWriteRequest, encodeLabelFields } from "./wire.js";

/**
 * The remote-write sender: RemoteWriteStorage is an Appendable whose commits go into a bounded
 * on-disk queue and on to a Prometheus-compatible engine by remote-write 1.0.
 */
export { RemoteWriteAppender } from "./appender.js";
export { backoffDelay, parseRetryAfter } from "./backoff.js";
export {
  displayUrl,
  type RemoteWriteStorageOptions,
  type RemoteWriteTenantOptions,
  type SyncMode,
} from "./options.js";
export { QUEUE_FILE } from "./queue-db.js";
export type { RemoteWriteStatus, TenantStatus } from "./status.js";
export { RemoteWriteStorage } from "./storage.js";
export { MAX_TENANT_ID_LENGTH, tenantIdProblem } from "./tenant.js";
export { buildWriteRequest, decodeLabelFields, encodeLabelFields } from "./wire.js";

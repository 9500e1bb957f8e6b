/**
 * Tenant-per-project mode (option `tenant`): which tenant a series belongs to, and where and how a
 * tenant's requests go.
 *
 * A series' tenant is resolved once, when its entry is created (series.ts), and cached there; a
 * series an earlier process queued gets its tenant from its label fields on disk, once (storage.ts).
 * Tenants are interned: one object per tenant id, holding its URL, its headers and its counters,
 * so a request is split by object identity. A series without a valid tenant id gets a `NoTenant`
 * of its own, with the reason: its samples are dropped at commit (see storage.ts).
 */
import { formatLabels, getLabel, type Labels } from "../../storage/index.js";
import type { ResolvedTenantOptions } from "./options.js";
import { decodeLabelFields } from "./wire.js";

export interface Tenant {
  /** Null: a valid tenant. */
  readonly problem: null;
  readonly id: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  sentSamples: number;
  failedSamples: number;
  retries: number;
}

/** Why a series belongs to no tenant. */
export interface NoTenant {
  readonly problem: string;
  /** Its drop has been logged (once per series, not per commit). */
  reported: boolean;
}

export type TenantOf = Tenant | NoTenant;

/** Mimir's limit (its `tenant.ValidTenantID`), which Cortex and Thanos ids fit in too. */
export const MAX_TENANT_ID_LENGTH = 150;
const BAD_CHAR = /[^a-zA-Z0-9!\-_.*'()]/u;

/**
 * Why `id` is not a valid tenant id, or null. Mimir's rules: 1 to 150 characters of
 * `[a-zA-Z0-9!-_.*'()]`, not `.` or `..`. Those characters are all RFC 3986 unreserved or
 * sub-delims, which a URL path segment holds as they are, and `.` and `..` (dot segments, which
 * would change the path) are refused: so a valid id is URL-safe in a path too, and
 * `encodeURIComponent` leaves it unchanged. Ids with anything else (`/`, `%`, `:`, spaces,
 * non-ASCII) are refused rather than escaped, in a URL as in a header.
 */
export function tenantIdProblem(id: string): string | null {
  if (id.length > MAX_TENANT_ID_LENGTH) return `it is longer than ${MAX_TENANT_ID_LENGTH} characters`;
  if (id === "." || id === "..") return `"." and ".." are not allowed (they are path segments)`;
  const bad = BAD_CHAR.exec(id);
  if (bad !== null) {
    return `it contains ${JSON.stringify(bad[0])}; tenant ids allow only a-z, A-Z, 0-9 and !-_.*'()`;
  }
  return null;
}

export class Tenants {
  private readonly known = new Map<string, Tenant>();

  constructor(
    readonly o: ResolvedTenantOptions,
    private readonly requestHeaders: Readonly<Record<string, string>>,
    private readonly url: string,
  ) {}

  /** The tenant of a series (normalised labels: an empty value is no label). */
  of(labels: Labels): TenantOf {
    const id = getLabel(labels, this.o.label);
    const known = this.known.get(id);
    if (known !== undefined) return known;
    if (id === "") {
      return {
        problem: `series ${formatLabels(labels)} has no label ${JSON.stringify(this.o.label)}, so it belongs to no tenant`,
        reported: false,
      };
    }
    const why = tenantIdProblem(id);
    if (why !== null) {
      return {
        problem: `series ${formatLabels(labels)} has an invalid tenant id ${JSON.stringify(id)} in label ${JSON.stringify(this.o.label)}: ${why}`,
        reported: false,
      };
    }
    const { header, urlParts } = this.o;
    const t: Tenant = {
      problem: null,
      id,
      url: urlParts === null ? this.url : urlParts.join(encodeURIComponent(id)),
      headers: header === null ? this.requestHeaders : { ...this.requestHeaders, [header]: id },
      sentSamples: 0,
      failedSamples: 0,
      retries: 0,
    };
    this.known.set(id, t);
    return t;
  }

  /** The tenant of a series an earlier process queued, from its label fields. */
  ofFields(labelFields: Uint8Array): TenantOf {
    let labels: Labels;
    try {
      labels = decodeLabelFields(labelFields);
    } catch (err) {
      return {
        problem: `the labels of a queued series cannot be read: ${(err as Error).message}`,
        reported: false,
      };
    }
    return this.of(labels);
  }

  /** The tenants seen so far, by id. */
  all(): Tenant[] {
    return [...this.known.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

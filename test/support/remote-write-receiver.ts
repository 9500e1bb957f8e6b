/**
 * A loopback remote-write endpoint for the sender's tests (node:http + our decoder): it decodes
 * every request, records its url, headers, tenant and samples, keeps what it "stored" per series,
 * and answers as the test scripts it (status, headers, body, a delay, a gate, never).
 */
import http from "node:http";
import { decodeRemoteWrite } from "../../src/ingest/remote-write/index.js";
import { formatLabels, getLabel, isStaleNaN, normalizeLabels } from "../../src/storage/index.js";

export interface Got {
  /** The series' labels, formatted. */
  key: string;
  /** Its project_id label ("" without one). */
  project: string;
  t: number;
  v: number;
  stale: boolean;
}

export interface ReceivedRequest {
  url: string;
  headers: http.IncomingHttpHeaders;
  /** The tenant it was addressed to: the X-Scope-OrgID header, else the /insert/<tenant>/ segment. */
  tenant: string;
  samples: Got[];
  /** performance.now() when it was decoded. */
  at: number;
  status: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Store the samples although the answer is not 2xx (the engine took them, the answer got lost). */
  store?: boolean;
  /** Never answer (until the receiver stops). */
  hang?: boolean;
  /** Answer after this many ms. */
  delayMs?: number;
  /** Answer once this settles (a test holding answers back until requests pile up). */
  after?: Promise<unknown>;
}

export class RemoteWriteReceiver {
  readonly requests: ReceivedRequest[] = [];
  readonly stored = new Map<string, Got[]>();
  /** `n`: how many requests came before this one. */
  answer: (r: Omit<ReceivedRequest, "status">, n: number) => Answer = () => ({ status: 204 });
  /** Requests received and not yet answered (or cut off by the sender). */
  inFlight = 0;
  maxInFlight = 0;
  /** Requests the sender cut off before they were answered. */
  cutOff = 0;
  port = 0;
  private server: http.Server | null = null;

  async start(port = 0): Promise<this> {
    const server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    return this;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Prometheus's path. */
  get url(): string {
    return `${this.base}/api/v1/write`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }

  /** Samples stored per series, as timestamps in arrival order. */
  times(key: string): number[] {
    return (this.stored.get(key) ?? []).map((g) => g.t);
  }

  get storedCount(): number {
    let n = 0;
    for (const v of this.stored.values()) n += v.length;
    return n;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on("close", () => {
      this.inFlight--;
      if (!res.writableFinished) this.cutOff++;
    });
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const samples: Got[] = [];
      let key = "";
      let project = "";
      decodeRemoteWrite(Buffer.concat(chunks), {
        series(labels) {
          const l = normalizeLabels(labels);
          key = formatLabels(l);
          project = getLabel(l, "project_id");
        },
        samples(ts, vs, count) {
          for (let i = 0; i < count; i++) {
            samples.push({ key, project, t: ts[i], v: vs[i], stale: isStaleNaN(vs[i]) });
          }
        },
      });
      const url = req.url ?? "";
      const fromUrl = /^\/insert\/([^/]+)\//.exec(url)?.[1];
      const header = req.headers["x-scope-orgid"];
      const tenant = typeof header === "string" ? header : decodeURIComponent(fromUrl ?? "");
      const r = { url, headers: req.headers, tenant, samples, at: performance.now() };
      const a = this.answer(r, this.requests.length);
      this.requests.push({ ...r, status: a.status });
      if (a.store || (a.status >= 200 && a.status < 300)) {
        for (const g of samples) {
          const list = this.stored.get(g.key);
          if (list) list.push(g);
          else this.stored.set(g.key, [g]);
        }
      }
      if (a.hang) return;
      const reply = () => {
        if (res.destroyed) return;
        res.writeHead(a.status, a.headers);
        res.end(a.body ?? (a.status >= 400 ? `refused for ${tenant}` : ""));
      };
      if (a.after) void a.after.then(reply);
      else if (a.delayMs) setTimeout(reply, a.delayMs);
      else reply();
    });
  }
}

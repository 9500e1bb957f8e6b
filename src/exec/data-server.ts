/**
 * The owner's side of a pool worker's storage reads: selects and label look-ups of the job the
 * worker is running, answered from the Queryable the pool bound to that job (for a tenant's
 * query: the store scoped to its project), so a worker can read nothing else. Each answer is one
 * bounded page (series-pages.ts), so a wide selection is served in slices between the owner's
 * other work instead of in one long stretch.
 */
import { Matcher, type MatchType, type Querier, type Queryable } from "../storage/index.js";
import { type PageBounds, pageTransferables, SeriesPageWriter } from "../tsdb/series-pages.js";
import type { DataReply, DataRequest, WireMatcher } from "./protocol.js";
import type { SyncAnswer } from "./sync-call.js";

interface Cursor {
  writer: SeriesPageWriter;
  warnings: () => readonly string[];
}

export class DataServer {
  private job: { id: number; queryable: Queryable; canceled: boolean } | null = null;
  private readonly queriers: Querier[] = [];
  private readonly cursors = new Map<number, Cursor>();
  private nextCursor = 1;
  /** Pages served and their chunk bytes, for the pool's metrics and tests. */
  readonly stats = { pages: 0, bytes: 0 };

  constructor(private readonly bounds: PageBounds) {}

  begin(id: number, queryable: Queryable): void {
    this.end();
    this.job = { id, queryable, canceled: false };
  }

  cancel(id: number): void {
    if (this.job?.id === id) this.job.canceled = true;
  }

  end(): void {
    this.cursors.clear();
    for (const q of this.queriers.splice(0)) q.close();
    this.job = null;
  }

  handle(req: DataRequest): SyncAnswer<DataReply> {
    const job = this.job;
    if (job === null || job.id !== req.job) {
      return { reply: { ok: false, canceled: true, message: "the query is no longer running" } };
    }
    if (job.canceled) return { reply: { ok: false, canceled: true, message: "query was canceled" } };
    try {
      switch (req.op) {
        case "select": {
          const q = this.querier(job.queryable, req.mint, req.maxt);
          const set = q.select(req.sort, req.hints, ...toMatchers(req.matchers));
          return this.page({ writer: new SeriesPageWriter(set), warnings: () => set.warnings() });
        }
        case "next": {
          const cursor = this.cursors.get(req.cursor);
          if (!cursor)
            return { reply: { ok: false, canceled: false, message: `no open selection ${req.cursor}` } };
          this.cursors.delete(req.cursor);
          return this.page(cursor);
        }
        case "labelValues": {
          const q = this.querier(job.queryable, req.mint, req.maxt);
          return { reply: { ok: true, strings: q.labelValues(req.name, ...toMatchers(req.matchers)) } };
        }
        case "labelNames": {
          const q = this.querier(job.queryable, req.mint, req.maxt);
          return { reply: { ok: true, strings: q.labelNames(...toMatchers(req.matchers)) } };
        }
      }
    } catch (err) {
      return { reply: { ok: false, canceled: false, message: (err as Error).message ?? String(err) } };
    }
  }

  private querier(queryable: Queryable, mint: number, maxt: number): Querier {
    const q = queryable.querier(mint, maxt);
    this.queriers.push(q);
    return q;
  }

  private page(cursor: Cursor): SyncAnswer<DataReply> {
    const page = cursor.writer.next(this.bounds);
    let id = 0;
    if (!page.done) {
      id = this.nextCursor++;
      this.cursors.set(id, cursor);
    }
    this.stats.pages++;
    this.stats.bytes += page.bytes.length;
    return {
      reply: { ok: true, page, cursor: id, warnings: [...cursor.warnings()] },
      transfer: pageTransferables(page),
    };
  }
}

function toMatchers(wire: readonly WireMatcher[]): Matcher[] {
  return wire.map(([type, name, value]) => new Matcher(type as MatchType, name, value));
}

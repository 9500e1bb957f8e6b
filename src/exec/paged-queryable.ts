/**
 * The worker's view of the store: a Queryable whose reads are blocking calls to the owning thread
 * (sync-call.ts), answered in pages of compressed chunks that this thread decodes itself.
 */
import { QueryCanceledError } from "../promql/errors.js";
import type { Matcher, Querier, Queryable, SelectHints, SeriesSet } from "../storage/index.js";
import { PagedSeriesSet, type SeriesPage } from "../tsdb/series-pages.js";
import type { DataReply, DataRequest, WireMatcher } from "./protocol.js";
import type { SyncCaller } from "./sync-call.js";

export class PagedQueryable implements Queryable {
  constructor(
    private readonly caller: SyncCaller<DataRequest, DataReply>,
    private readonly job: number,
  ) {}

  querier(mint: number, maxt: number): Querier {
    const call = (req: DataRequest): DataReply => {
      const reply = this.caller.call(req);
      if (!reply.ok) throw reply.canceled ? new QueryCanceledError(reply.message) : new Error(reply.message);
      return reply;
    };
    const job = this.job;
    return {
      select(sort: boolean, hints: SelectHints | undefined, ...matchers: Matcher[]): SeriesSet {
        const first = call({ op: "select", job, mint, maxt, sort, hints, matchers: wire(matchers) });
        if (!("page" in first)) throw new Error("select answered without a page");
        const warnings: string[] = [...first.warnings];
        let cursor = first.cursor;
        const fetchNext = (): SeriesPage => {
          const r = call({ op: "next", job, cursor });
          if (!("page" in r)) throw new Error("next answered without a page");
          cursor = r.cursor;
          warnings.splice(0, warnings.length, ...r.warnings);
          return r.page;
        };
        return new PagedSeriesSet(first.page, fetchNext, warnings);
      },
      labelValues(name: string, ...matchers: Matcher[]): string[] {
        const r = call({ op: "labelValues", job, mint, maxt, name, matchers: wire(matchers) });
        return "strings" in r ? r.strings : [];
      },
      labelNames(...matchers: Matcher[]): string[] {
        const r = call({ op: "labelNames", job, mint, maxt, matchers: wire(matchers) });
        return "strings" in r ? r.strings : [];
      },
      close(): void {},
    };
  }
}

function wire(matchers: readonly Matcher[]): WireMatcher[] {
  return matchers.map((m) => [m.type, m.name, m.value]);
}

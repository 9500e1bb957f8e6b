/**
 * `startScraper`: runs one loop per configured target until `close()`. Targets are independent:
 * a slow or failing one never delays the others, and no failure stops the scraper.
 */
import type { Appendable } from "../../storage/interface.js";
import type { ScrapeConfig, ScrapeTarget } from "./config.js";
import { type ScrapeLogger, type ScrapeOutcome, TargetLoop, type TargetStatus } from "./target-loop.js";

export interface ScraperOptions {
  config: ScrapeConfig;
  appendable: Appendable;
  /** Wall clock in ms for sample timestamps (default Date.now). Scheduling uses real time. */
  now?: () => number;
  log?: ScrapeLogger;
  /** Called after every scrape, e.g. to count samples in the service's own metrics. */
  onScrape?: (outcome: ScrapeOutcome) => void;
}

export interface ScraperStatus {
  targets: TargetStatus[];
  /** Targets whose last scrape succeeded / failed. */
  up: number;
  down: number;
}

export interface Scraper {
  /** Stops every loop and waits for scrapes in flight; writes no stale markers (see docs). */
  close(): Promise<void>;
  /** A snapshot; safe to serialise as JSON. */
  status(): ScraperStatus;
}

/**
 * Where in its interval a target is scraped: a stable hash of the target, as Prometheus does, so
 * many targets with one interval do not all fire at the same instant after a start.
 */
export function scrapeOffsetMs(target: ScrapeTarget): number {
  let h = 0x811c9dc5;
  const key = `${target.url.href} ${target.project_id}`;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % target.intervalMs;
}

export function startScraper(options: ScraperOptions): Scraper {
  const stop = new AbortController();
  const now = options.now ?? Date.now;
  const loops = options.config.targets.map(
    (t) => new TargetLoop(t, options.appendable, now, stop.signal, options.log, options.onScrape),
  );
  for (const [i, loop] of loops.entries()) loop.start(scrapeOffsetMs(options.config.targets[i]));
  options.log?.info(
    { targets: loops.length, source: options.config.source },
    `scraping ${loops.length} target(s)`,
  );
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        stop.abort();
        await Promise.all(loops.map((l) => l.close()));
      })();
      return closing;
    },
    status() {
      const targets = loops.map((l) => structuredClone(l.status));
      const up = targets.filter((t) => t.health === "up").length;
      const down = targets.filter((t) => t.health === "down").length;
      return { targets, up, down };
    },
  };
}

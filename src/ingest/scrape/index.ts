/** Scraping Prometheus-text / OpenMetrics targets (vLLM and the like) into the store. */
export {
  DEFAULT_INTERVAL_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TIMEOUT_MS,
  loadScrapeConfig,
  parseScrapeConfig,
  type ScrapeConfig,
  ScrapeConfigError,
  type ScrapeTarget,
} from "./config.js";
export {
  type ExposedFamily,
  type ExposedSample,
  type Exposition,
  ExpositionError,
  type ExpositionFormat,
  type FamilyType,
  parseExposition,
} from "./exposition.js";
export { ACCEPT, type FetchedPage, fetchPage, formatForContentType, ScrapeError } from "./fetch.js";
export {
  type DropReason,
  type MappedSample,
  type MappingResult,
  mapExposition,
  type TargetLabels,
} from "./mapping.js";
export {
  type Scraper,
  type ScraperOptions,
  type ScraperStatus,
  scrapeOffsetMs,
  startScraper,
} from "./scraper.js";
export type { ScrapeLogger, ScrapeOutcome, TargetStatus } from "./target-loop.js";

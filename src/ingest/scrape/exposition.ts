/**
 * A strict parser for the two text formats a Prometheus scrape meets: the Prometheus text format
 * 0.0.4 and OpenMetrics 1.0 text. Hand-written because the npm packages checked are
 * unmaintained and wrong where it matters here (docs/scraping.md, "The parser, and why it is
 * hand-written"): `parse-prometheus-text-format` 1.1.1 keeps values and timestamps as strings, accepts
 * `m{a="x} 1` and `m 1 hello` without an error, keeps invalid escapes, and knows nothing of
 * OpenMetrics (`# EOF`, `_created`, exemplars, second-resolution timestamps); `prom2javascript`
 * 0.2.0 rejects `:` in metric names (every vLLM metric), `NaN` and `-Inf`.
 *
 * Strict means: a malformed line fails the whole exposition with its line number, the way
 * Prometheus fails such a scrape, instead of storing half-understood samples.
 * Not supported: Prometheus 3's quoted UTF-8 metric names (`{"my.metric"}`) and hex floats.
 */
import type { Label } from "../../storage/labels.js";
import { ExpositionError, LineCursor } from "./line-cursor.js";
import { FLOAT_SPEC, parseExposedFloat, parseTimestamp } from "./numbers.js";

export { ExpositionError };

export type ExpositionFormat = "prometheus-text" | "openmetrics";

export type FamilyType =
  | "counter"
  | "gauge"
  | "histogram"
  | "gaugehistogram"
  | "summary"
  | "info"
  | "stateset"
  | "unknown"
  | "untyped";

export interface ExposedSample {
  readonly name: string;
  /** As exposed, in order; empty values are kept (storage drops them). */
  readonly labels: readonly Label[];
  readonly value: number;
  /** The sample's own timestamp in ms, if the line has one. */
  readonly timestampMs: number | undefined;
  /** 1-based line number, for error messages further on. */
  readonly line: number;
}

export interface ExposedFamily {
  readonly name: string;
  type: FamilyType;
  help: string | undefined;
  unit: string | undefined;
}

export interface Exposition {
  readonly format: ExpositionFormat;
  readonly samples: ExposedSample[];
  readonly families: ReadonlyMap<string, ExposedFamily>;
  /** `_created` samples left out: they carry a creation time, not a value of the series. */
  readonly createdSkipped: number;
  /** OpenMetrics exemplars checked for syntax and left out (the store keeps float samples only). */
  readonly exemplarsSkipped: number;
}

const PROM_TYPES = new Set<FamilyType>(["counter", "gauge", "histogram", "summary", "untyped"]);
const OM_TYPES = new Set<FamilyType>([
  "counter",
  "gauge",
  "histogram",
  "gaugehistogram",
  "summary",
  "info",
  "stateset",
  "unknown",
]);
/** Sample-name suffixes each OpenMetrics family type allows ("" is the bare family name). */
const OM_SUFFIXES: Record<string, readonly string[]> = {
  counter: ["_total", "_created"],
  histogram: ["_bucket", "_count", "_sum", "_created"],
  gaugehistogram: ["_bucket", "_gcount", "_gsum"],
  summary: ["", "_count", "_sum", "_created"],
  info: ["_info"],
  gauge: [""],
  stateset: [""],
  unknown: [""],
};
/** Families whose `_created` samples are timestamps of creation (both formats). */
const HAS_CREATED = new Set<FamilyType>(["counter", "histogram", "summary"]);

/** Parses one exposition; throws ExpositionError naming the first bad line. */
export function parseExposition(text: string, format: ExpositionFormat = "prometheus-text"): Exposition {
  return new Parser(text, format).run();
}

class Parser extends LineCursor {
  private readonly samples: ExposedSample[] = [];
  private readonly families = new Map<string, ExposedFamily>();
  private readonly sampleNames = new Set<string>();
  private createdSkipped = 0;
  private exemplarsSkipped = 0;
  // OpenMetrics: the family the lines belong to now, and those already finished (no interleaving).
  private current: ExposedFamily | undefined;
  private readonly finished = new Set<string>();
  private samplesOfCurrent = 0;
  /** "HELP name", "TYPE name", "UNIT name": each at most once per family. */
  private readonly metaSeen = new Set<string>();
  constructor(
    private readonly text: string,
    private readonly format: ExpositionFormat,
  ) {
    super(format === "openmetrics");
  }

  run(): Exposition {
    const lines = this.text.split("\n");
    // The newline ending the last line does not start another one.
    if (lines[lines.length - 1] === "") lines.pop();
    let sawEof = false;
    for (let i = 0; i < lines.length; i++) {
      this.lineNo = i + 1;
      let line = lines[i];
      if (sawEof) {
        this.pos = 0;
        this.lineText = line;
        this.fail("content after # EOF");
      }
      if (!this.om && line.endsWith("\r")) line = line.slice(0, -1);
      this.lineText = line;
      this.pos = 0;
      if (line === "") {
        if (this.om) this.fail("empty lines are not allowed in OpenMetrics");
        continue;
      }
      if (this.om) {
        if (line.startsWith("#")) {
          if (line === "# EOF") sawEof = true;
          else this.omMetadata();
          continue;
        }
      } else {
        this.skipBlanks();
        if (this.pos === line.length) continue;
        if (line.charCodeAt(this.pos) === 35 /* # */) {
          this.promComment();
          continue;
        }
      }
      this.sampleLine();
    }
    if (this.om && !sawEof) {
      this.lineNo = lines.length + 1;
      this.lineText = "";
      this.pos = 0;
      this.fail("OpenMetrics exposition does not end with # EOF");
    }
    return {
      format: this.format,
      samples: this.samples,
      families: this.families,
      createdSkipped: this.createdSkipped,
      exemplarsSkipped: this.exemplarsSkipped,
    };
  }

  // --- Prometheus 0.0.4 comments: HELP and TYPE are metadata, every other comment is ignored. ---

  private promComment(): void {
    this.pos++; // '#'
    this.skipBlanks();
    const keyword = this.token();
    if (keyword !== "HELP" && keyword !== "TYPE") return;
    this.skipBlanks();
    const metric = this.name(true, `a metric name after # ${keyword}`);
    const family = this.family(metric);
    const seen = `${keyword} ${metric}`;
    if (this.metaSeen.has(seen)) this.fail(`second ${keyword} line for ${metric}`);
    this.metaSeen.add(seen);
    if (keyword === "HELP") {
      if (!this.atEnd()) this.separator("the help text");
      family.help = this.unescape(this.lineText.slice(this.pos), false, "help text");
      return;
    }
    if (this.sampleNames.has(metric)) this.fail(`TYPE line for ${metric} after its samples`);
    this.separator("the metric type");
    const type = this.token() as FamilyType;
    this.skipBlanks();
    if (!PROM_TYPES.has(type) || !this.atEnd())
      this.fail("expected counter, gauge, histogram, summary or untyped");
    family.type = type;
  }

  private family(name: string): ExposedFamily {
    let f = this.families.get(name);
    if (f === undefined) {
      f = { name, type: this.om ? "unknown" : "untyped", help: undefined, unit: undefined };
      this.families.set(name, f);
    }
    return f;
  }

  // --- OpenMetrics metadata: only HELP, TYPE, UNIT (and EOF, handled by the caller). ---

  private omMetadata(): void {
    const s = this.lineText;
    if (!s.startsWith("# ")) this.fail("expected # HELP, # TYPE, # UNIT or # EOF");
    this.pos = 2;
    const keyword = this.token();
    if (keyword !== "HELP" && keyword !== "TYPE" && keyword !== "UNIT")
      this.fail("expected # HELP, # TYPE, # UNIT or # EOF");
    this.separator("a metric family name");
    const metric = this.name(true, "a metric family name");
    if (this.current?.name !== metric) {
      if (this.finished.has(metric) || this.families.has(metric))
        this.fail(`metadata for ${metric} after its samples or apart from its other metadata`);
      if (this.current) this.finished.add(this.current.name);
      this.current = this.family(metric);
      this.samplesOfCurrent = 0;
    }
    const family = this.current;
    const seen = `${keyword} ${metric}`;
    if (this.metaSeen.has(seen)) this.fail(`second ${keyword} line for ${metric}`);
    this.metaSeen.add(seen);
    if (this.samplesOfCurrent > 0) this.fail(`${keyword} line for ${metric} after its samples`);
    if (keyword === "HELP") {
      if (!this.atEnd()) this.separator("the help text");
      family.help = this.unescape(s.slice(this.pos), true, "help text");
    } else if (keyword === "TYPE") {
      this.separator("the metric type");
      const type = this.token() as FamilyType;
      if (!OM_TYPES.has(type) || !this.atEnd()) this.fail("unknown OpenMetrics metric type");
      family.type = type;
    } else {
      this.separator("the unit");
      const unit = this.token();
      if (!this.atEnd()) this.fail("unexpected text after the unit");
      if (unit !== "" && !metric.endsWith(`_${unit}`))
        this.fail(`family ${metric} must end in _${unit} to have that unit`);
      family.unit = unit;
    }
  }

  /** OpenMetrics: the family a sample name belongs to (the current one, or a new untyped one). */
  private omFamilyOf(name: string): ExposedFamily {
    const cur = this.current;
    if (cur !== undefined && name.startsWith(cur.name)) {
      const suffix = name.slice(cur.name.length);
      if ((OM_SUFFIXES[cur.type] ?? [""]).includes(suffix)) return cur;
    }
    if (this.finished.has(name) || (cur !== undefined && cur.name === name) || this.families.has(name))
      this.fail(`samples of ${name} are not all together, or its name does not fit its TYPE`);
    if (cur) this.finished.add(cur.name);
    this.current = this.family(name);
    this.samplesOfCurrent = 0;
    return this.current;
  }

  // --- Samples. ---

  private sampleLine(): void {
    const s = this.lineText;
    const name = this.name(true, "a metric name");
    if (!this.om) {
      // 0.0.4 allows blanks between the name and the label set (Go's reference parser does).
      const afterName = this.pos;
      this.skipBlanks();
      if (s.charCodeAt(this.pos) !== 123) this.pos = afterName;
    }
    const labels = s.charCodeAt(this.pos) === 123 /* { */ ? this.labelSet() : [];
    this.separator("the value");
    const valueStart = this.pos;
    const value = parseExposedFloat(this.token());
    if (value === undefined) {
      this.pos = valueStart;
      this.fail(`invalid value (expected ${FLOAT_SPEC})`);
    }
    let timestampMs: number | undefined;
    let family: ExposedFamily | undefined;
    if (this.om) {
      family = this.omFamilyOf(name);
      this.samplesOfCurrent++;
    }
    if (!this.atEnd()) {
      this.separator("the timestamp");
      if (this.om && this.atEnd()) this.fail("trailing space");
      if (!this.atEnd() && s.charCodeAt(this.pos) !== 35 /* # */) {
        const tsStart = this.pos;
        timestampMs = parseTimestamp(this.token(), this.om);
        if (timestampMs === undefined) {
          this.pos = tsStart;
          this.fail(
            this.om ? "invalid timestamp (expected seconds)" : "invalid timestamp (expected integer ms)",
          );
        }
        if (!this.om) this.skipBlanks();
        else if (!this.atEnd()) this.separator("the exemplar");
      }
      if (!this.atEnd()) {
        if (!this.om || s.charCodeAt(this.pos) !== 35) this.fail("unexpected text after the sample");
        this.exemplar(name, family);
      }
    }
    this.sampleNames.add(name);
    if (this.isCreated(name, family)) {
      this.createdSkipped++;
      return;
    }
    this.samples.push({ name, labels, value, timestampMs, line: this.lineNo });
  }

  /**
   * `_created` samples: in OpenMetrics they belong to a counter, histogram or summary family; in
   * 0.0.4, Python's prometheus_client writes them as a gauge family `X_created` next to the family
   * `X` (histograms, summaries) or `X_total` (counters).
   */
  private isCreated(name: string, family: ExposedFamily | undefined): boolean {
    if (!name.endsWith("_created")) return false;
    if (family !== undefined) return HAS_CREATED.has(family.type) && name === `${family.name}_created`;
    const base = name.slice(0, -"_created".length);
    const f = this.families.get(base) ?? this.families.get(`${base}_total`);
    return f !== undefined && HAS_CREATED.has(f.type);
  }

  /** ` # {labels} value [timestamp]` after an OpenMetrics sample: checked, then dropped. */
  private exemplar(name: string, family: ExposedFamily | undefined): void {
    const s = this.lineText;
    const type = family?.type;
    const okCounter = type === "counter" && name.endsWith("_total");
    const okBucket = (type === "histogram" || type === "gaugehistogram") && name.endsWith("_bucket");
    if (!okCounter && !okBucket)
      this.fail("exemplars are only allowed on counter _total and _bucket samples");
    this.pos++; // '#'
    this.separator("the exemplar labels");
    if (s.charCodeAt(this.pos) !== 123) this.fail("expected { after # (exemplar labels)");
    this.labelSet();
    this.separator("the exemplar value");
    const vStart = this.pos;
    if (parseExposedFloat(this.token()) === undefined) {
      this.pos = vStart;
      this.fail("invalid exemplar value");
    }
    if (!this.atEnd()) {
      this.separator("the exemplar timestamp");
      const tStart = this.pos;
      if (parseTimestamp(this.token(), true) === undefined) {
        this.pos = tStart;
        this.fail("invalid exemplar timestamp");
      }
      if (!this.atEnd()) this.fail("unexpected text after the exemplar");
    }
    this.exemplarsSkipped++;
  }
}

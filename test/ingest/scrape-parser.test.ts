/**
 * The exposition parser: both text formats, the escapes and special values they allow, what is
 * skipped (`_created`, exemplars, comments) and that every malformed line fails with its number.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ExpositionError, parseExposition } from "../../src/ingest/scrape/exposition.js";

const samples = (text: string, format?: "prometheus-text" | "openmetrics") =>
  parseExposition(text, format).samples.map((s) => ({
    name: s.name,
    labels: Object.fromEntries(s.labels.map((l) => [l.name, l.value])),
    value: s.value,
    ts: s.timestampMs,
  }));

function fails(text: string, line: number, pattern: RegExp, format?: "prometheus-text" | "openmetrics") {
  assert.throws(
    () => parseExposition(text, format),
    (e: unknown) => {
      assert.ok(e instanceof ExpositionError, String(e));
      assert.equal(e.line, line, e.message);
      assert.match(e.message, pattern);
      assert.match(e.message, new RegExp(`^line ${line}, column \\d+: `));
      return true;
    },
  );
}

describe("exposition parser: Prometheus text 0.0.4", () => {
  it("reads names with colons, labels, values and integer-ms timestamps", () => {
    const text = [
      "# HELP vllm:num_requests_running Number of requests running.",
      "# TYPE vllm:num_requests_running gauge",
      'vllm:num_requests_running{engine="0",model_name="m"} 12.0',
      "http_requests_total 1027 1395066363000",
      'spaced { a = "1" ,b="2", } \t 3e2  ',
      "no_labels{} -0.5",
    ].join("\n");
    assert.deepEqual(samples(text), [
      {
        name: "vllm:num_requests_running",
        labels: { engine: "0", model_name: "m" },
        value: 12,
        ts: undefined,
      },
      { name: "http_requests_total", labels: {}, value: 1027, ts: 1395066363000 },
      { name: "spaced", labels: { a: "1", b: "2" }, value: 300, ts: undefined },
      { name: "no_labels", labels: {}, value: -0.5, ts: undefined },
    ]);
    const fam = parseExposition(text).families.get("vllm:num_requests_running");
    assert.equal(fam?.type, "gauge");
    assert.equal(fam?.help, "Number of requests running.");
  });

  it('unescapes \\\\, \\" and \\n in label values and \\\\, \\n in HELP', () => {
    const text =
      '# HELP m A \\\\ backslash\\nand newline\nm{path="C:\\\\dir\\\\",quote="say \\"hi\\"",nl="a\\nb",empty=""} 1\n';
    assert.deepEqual(samples(text)[0].labels, {
      path: "C:\\dir\\",
      quote: 'say "hi"',
      nl: "a\nb",
      empty: "",
    });
    assert.equal(parseExposition(text).families.get("m")?.help, "A \\ backslash\nand newline");
  });

  it("reads NaN, +Inf, -Inf and Go's other spellings", () => {
    const text = [
      "a NaN",
      "b +Inf",
      "c -Inf",
      "d Inf",
      "e -inf",
      "f 1e-3",
      "g .5",
      "h 6.122483712e+010",
    ].join("\n");
    const vs = samples(text).map((s) => s.value);
    assert.ok(Number.isNaN(vs[0]), "NaN");
    assert.deepEqual(vs.slice(1), [Infinity, -Infinity, Infinity, -Infinity, 0.001, 0.5, 61224837120]);
  });

  it("ignores comments, blank lines and CRLF endings", () => {
    const text = "# just a comment\n\n   \n#TYPE-ish words\n  # HELP\tm   indented help\r\nm 1\r\n";
    assert.deepEqual(samples(text), [{ name: "m", labels: {}, value: 1, ts: undefined }]);
    assert.equal(parseExposition(text).families.get("m")?.help, "indented help");
  });

  it("skips prometheus_client's _created gauges of counters and histograms only", () => {
    const text = [
      "# TYPE vllm:prompt_tokens_total counter",
      'vllm:prompt_tokens_total{model_name="m"} 5.0',
      "# TYPE vllm:prompt_tokens_created gauge",
      'vllm:prompt_tokens_created{model_name="m"} 1.7343618628412e+09',
      "# TYPE h histogram",
      'h_bucket{le="+Inf"} 1',
      "h_count 1",
      "h_sum 0.5",
      "h_created 1.7e+09",
      "# TYPE job_created gauge",
      "job_created 1.7e+09",
    ].join("\n");
    const e = parseExposition(text);
    assert.equal(e.createdSkipped, 2);
    assert.deepEqual(
      e.samples.map((s) => s.name),
      ["vllm:prompt_tokens_total", "h_bucket", "h_count", "h_sum", "job_created"],
    );
  });

  it("fails malformed lines with the line number", () => {
    fails('ok 1\nm{a="x} 1', 2, /unterminated label value/);
    fails("ok 1\nok 2\nm 1 hello", 3, /invalid timestamp/);
    fails("m 1 1.5", 1, /invalid timestamp \(expected integer ms\)/);
    fails('m{a="\\t"} 1', 1, /invalid escape sequence \\t in label value/);
    fails("m one", 1, /invalid value/);
    fails("m", 1, /expected a space before the value/);
    fails("3m 1", 1, /expected a metric name/);
    fails('m{a="1" b="2"} 1', 1, /expected , or }/);
    fails('m{a="1",a="2"} 1', 1, /duplicate label a/);
    fails('m{1a="1"} 1', 1, /expected a label name/);
    fails("m 1 2 3", 1, /unexpected text after the sample/);
    fails("# TYPE m counter\n# TYPE m gauge", 2, /second TYPE line for m/);
    fails("m 1\n# TYPE m counter", 2, /TYPE line for m after its samples/);
    fails("# TYPE m countr", 1, /expected counter, gauge/);
    fails("# HELP m bad \\q escape", 1, /invalid escape sequence \\q in help text/);
    fails('m{a="1"} 1 # {trace_id="x"} 1', 1, /unexpected text after the sample/);
  });
});

describe("exposition parser: OpenMetrics 1.0", () => {
  const om = (lines: string[]) => `${lines.join("\n")}\n# EOF\n`;

  it("reads second-resolution timestamps and skips _created and exemplars", () => {
    const text = om([
      "# TYPE vllm:request_success counter",
      '# HELP vllm:request_success Count of \\"successfully\\" processed requests.',
      'vllm:request_success_total{finished_reason="stop"} 812.0 1520879607.789 # {trace_id="KOO5S4vxi0o"} 1.0 1520879607.5',
      'vllm:request_success_created{finished_reason="stop"} 1.7574122013907e+09',
      "# TYPE lat_seconds histogram",
      "# UNIT lat_seconds seconds",
      'lat_seconds_bucket{le="0.1"} 3 # {trace_id="a"} 0.05',
      'lat_seconds_bucket{le="+Inf"} 4',
      "lat_seconds_count 4",
      "lat_seconds_sum 1.5",
      "lat_seconds_created 1.7e+09",
      "# TYPE up gauge",
      "up NaN",
    ]);
    const e = parseExposition(text, "openmetrics");
    assert.equal(e.createdSkipped, 2);
    assert.equal(e.exemplarsSkipped, 2);
    assert.equal(e.families.get("vllm:request_success")?.help, 'Count of "successfully" processed requests.');
    assert.equal(e.families.get("lat_seconds")?.unit, "seconds");
    const got = samples(text, "openmetrics");
    assert.deepEqual(got[0], {
      name: "vllm:request_success_total",
      labels: { finished_reason: "stop" },
      value: 812,
      ts: 1520879607789,
    });
    assert.deepEqual(
      got.map((s) => s.name),
      [
        "vllm:request_success_total",
        "lat_seconds_bucket",
        "lat_seconds_bucket",
        "lat_seconds_count",
        "lat_seconds_sum",
        "up",
      ],
    );
    assert.ok(Number.isNaN(got[5].value), "NaN");
  });

  it("requires # EOF and nothing after it", () => {
    fails("m 1\n", 2, /does not end with # EOF/, "openmetrics");
    fails("m 1\n# EOF\nm 2\n", 3, /content after # EOF/, "openmetrics");
    assert.equal(parseExposition("# EOF", "openmetrics").samples.length, 0);
  });

  it("is strict where OpenMetrics is", () => {
    fails("m 1\n\nn 2\n# EOF\n", 2, /empty lines are not allowed/, "openmetrics");
    fails("# a free comment\n# EOF\n", 1, /expected # HELP, # TYPE, # UNIT or # EOF/, "openmetrics");
    fails("m  1\n# EOF\n", 1, /more than one space/, "openmetrics");
    fails("m 1 \n# EOF\n", 1, /trailing space/, "openmetrics");
    fails('m{a="1",} 1\n# EOF\n', 1, /trailing comma/, "openmetrics");
    fails("m 1 1700000000000x\n# EOF\n", 1, /invalid timestamp \(expected seconds\)/, "openmetrics");
    fails('# TYPE g gauge\ng 1 # {a="b"} 1\n# EOF\n', 2, /exemplars are only allowed/, "openmetrics");
    fails(
      '# TYPE c counter\nc_total 1 # {a="b"}\n# EOF\n',
      2,
      /expected a space before the exemplar value/,
      "openmetrics",
    );
    fails("# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n# EOF\n", 5, /not all together/, "openmetrics");
    fails(
      "# TYPE c counter\nc 1\n# EOF\n",
      2,
      /not all together, or its name does not fit its TYPE/,
      "openmetrics",
    );
    fails("# TYPE m gauge\nm 1\n# HELP m late\n# EOF\n", 3, /after its samples/, "openmetrics");
    fails("# TYPE m_seconds gauge\n# UNIT m_seconds bytes\n# EOF\n", 2, /must end in _bytes/, "openmetrics");
    fails("# TYPE m untyped\n# EOF\n", 1, /unknown OpenMetrics metric type/, "openmetrics");
  });
});

describe("exposition parser: the recorded vLLM pages", () => {
  it("reads the 0.0.4 page whole", () => {
    const e = parseExposition(readFileSync("test/fixtures/vllm-metrics.txt", "utf8"));
    assert.equal(e.samples.length, 346);
    assert.equal(e.createdSkipped, 34);
    assert.ok(
      e.samples.every((s) => !s.name.endsWith("_created")),
      "no _created sample is kept",
    );
    assert.equal(e.families.get("vllm:time_to_first_token_seconds")?.type, "histogram");
  });

  it("reads the OpenMetrics page whole", () => {
    const e = parseExposition(readFileSync("test/fixtures/vllm-metrics-v1.txt", "utf8"), "openmetrics");
    assert.equal(e.samples.length, 710);
    assert.equal(e.createdSkipped, 57);
    assert.equal(e.families.get("vllm:prompt_tokens")?.type, "counter");
  });
});

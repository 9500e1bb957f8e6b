/** What `mim serve --demo` prints: how to reach the demo project's data, ready to paste. */
import { TIMESERIES_PREFIX } from "../api/server.js";
import type { RunningService } from "./service.js";

/** The product page's five queries, for one project and model. */
export function pageQueries(projectId: string, model: string): string[] {
  const sel = (metric: string) => `${metric}{project_id="${projectId}", model_name="${model}"}`;
  return [
    `sum by (model_name) ( rate( ${sel("crusoe_inference_request_count")}[300s] ) )`,
    `sum by (model_name) ( rate( ${sel("crusoe_inference_input_token_count")}[300s] ) )`,
    `sum by (model_name) ( rate( ${sel("crusoe_inference_output_token_count")}[300s] ) )`,
    `histogram_quantile( 0.5, sum by (model_name, le) ( irate( ${sel("crusoe_inference_histogram_first_token_latency_bucket")}[300s] ) ) )`,
    `histogram_quantile( 0.5, sum by (model_name, le) ( irate( ${sel("crusoe_inference_histogram_output_token_latency_bucket")}[300s] ) ) )`,
  ];
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'"'"'`)}'`;

export function demoBanner(service: RunningService, projectId: string, token: string): string[] {
  const base = service.url + TIMESERIES_PREFIX.replace(":projectId", projectId);
  const out = [
    `mim: the metrics page, signed in: ${service.url}/projects/${encodeURIComponent(projectId)}/metrics#token=${token}`,
    `mim: demo project ${projectId}; a new monitoring token for it (shown once):`,
    `  ${token}`,
    `mim: query API (Grafana's Prometheus server URL, promtool's server): ${base}`,
    "mim: the page's curl example, ready to paste (data within about two minutes of the first start):",
    `  curl -G ${base}\\?query=crusoe_inference_first_token_latency -H 'Authorization: Bearer ${token}'`,
  ];
  const model = service.fleet?.models[0]?.name;
  if (model) {
    out.push(`mim: the page's five queries for ${model}:`);
    for (const q of pageQueries(projectId, model)) {
      out.push(
        `  curl -s -G ${base}/api/v1/query --data-urlencode ${shellQuote(`query=${q}`)} -H 'Authorization: Bearer ${token}'`,
      );
    }
  }
  const key = service.fleet?.apiKeys.find((k) => k.projectId === projectId)?.key;
  if (service.gateway && key && model) {
    out.push("mim: send your own request through the metering gateway:");
    out.push(
      `  curl -s ${service.gateway.url}/v1/chat/completions -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' -d ${shellQuote(JSON.stringify({ model, messages: [{ role: "user", content: "Hello!" }], max_tokens: 16 }))}`,
    );
  }
  return out;
}

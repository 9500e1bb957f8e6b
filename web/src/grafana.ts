/** "Use in Grafana": the data-source settings for this project, the token masked until revealed. */
import { timeseriesBase } from "./api.js";
import { copyButton } from "./copy.js";
import { h, uid } from "./dom.js";

export function grafanaBox(project: string, token: string): HTMLElement {
  const url = timeseriesBase(location.origin, project);
  const header = `Bearer ${token}`;
  // Enough of the prefix to tell tokens apart, never enough to use.
  const masked = `Bearer ${token.slice(0, 12)}${"•".repeat(12)}`;
  const urlId = uid("ds-url");
  const valueId = uid("ds-header");
  const value = h("code", { id: valueId, class: "secret" }, masked);
  const reveal = h("button", { type: "button", class: "btn small", "aria-pressed": "false" }, "Reveal");
  reveal.addEventListener("click", () => {
    const shown = reveal.getAttribute("aria-pressed") !== "true";
    reveal.setAttribute("aria-pressed", String(shown));
    reveal.textContent = shown ? "Hide" : "Reveal";
    value.textContent = shown ? header : masked;
  });
  return h(
    "section",
    { class: "panel grafana", "aria-labelledby": "grafana-title" },
    h("h2", { id: "grafana-title" }, "Use in Grafana"),
    h(
      "p",
      { class: "desc" },
      "Add a Prometheus data source with these settings; the queries under each chart work as they are.",
    ),
    h(
      "dl",
      { class: "settings" },
      h("dt", null, "Prometheus server URL"),
      h(
        "dd",
        null,
        h("code", { id: urlId }, url),
        copyButton(() => url, "Copy", urlId),
      ),
      h("dt", null, "HTTP header"),
      h("dd", null, h("code", null, "Authorization")),
      h("dt", null, "Header value"),
      h(
        "dd",
        null,
        value,
        reveal,
        copyButton(() => header, "Copy", valueId),
      ),
      h("dt", null, "Scrape interval"),
      h("dd", null, h("code", null, "60s"), h("span", { class: "muted" }, " (metrics move once a minute)")),
    ),
    h(
      "p",
      { class: "hint" },
      "Or with curl: ",
      h(
        "code",
        null,
        `curl -G ${url}?query=crusoe_inference_first_token_latency -H 'Authorization: Bearer …'`,
      ),
    ),
  );
}

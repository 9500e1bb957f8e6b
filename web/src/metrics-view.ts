/**
 * The metrics view: five panels over a time range, filtered by model and service tier, refreshed
 * every 60 s. Every request goes through the public query API; stale answers (after the range or
 * a filter changed) are aborted or dropped, and every failure is shown where it happened.
 */
import { Api, ApiError, isAbort } from "./api.js";
import { Chart, type ChartData, type ChartSeries } from "./chart.js";
import { copyButton } from "./copy.js";
import { h, replace, uid } from "./dom.js";
import { clock, count, span, toLocalInput } from "./format.js";
import { grafanaBox } from "./grafana.js";
import { type Filters, PANELS, type PanelDef, seriesKey, totalQuery } from "./queries.js";
import { type AppContext, authAlert, header } from "./shell.js";
import { alignWindow, type QueryWindow, RANGES, relativeWindow } from "./step.js";

const REFRESH_MS = 60_000;
// Mid-tone colours, readable on both the light and the dark background.
const PALETTE = ["#3b82f6", "#f59e0b", "#10b981", "#a855f7", "#ef4444", "#06b6d4", "#eab308", "#64748b"];
const TIERS: ReadonlyArray<[string, string]> = [
  ["on_demand", "On demand (on_demand)"],
  ["pt", "Provisioned throughput (pt)"],
];

interface ViewState extends Filters {
  /** A RANGES key, or "custom" with from/to in unix seconds. */
  range: string;
  from: number;
  to: number;
}

/** The view's state lives in the query string, so a reload or a shared link shows the same view. */
function readState(): ViewState {
  const q = new URLSearchParams(location.search);
  const range = q.get("range") ?? "1h";
  const from = Number(q.get("from"));
  const to = Number(q.get("to"));
  const custom = range === "custom" && from > 0 && to > from;
  return {
    range: custom || RANGES.some((r) => r.key === range) ? range : "1h",
    from: custom ? from : 0,
    to: custom ? to : 0,
    model: q.get("model") || null,
    tier: q.get("tier") || null,
    splitTier: q.get("split") === "tier",
  };
}

function writeState(s: ViewState): void {
  const q = new URLSearchParams({ range: s.range });
  if (s.range === "custom") {
    q.set("from", String(s.from));
    q.set("to", String(s.to));
  }
  if (s.model) q.set("model", s.model);
  if (s.tier) q.set("tier", s.tier);
  if (s.splitTier) q.set("split", "tier");
  history.replaceState(history.state, "", `${location.pathname}?${q}`);
}

/** The query_range grid, and the range as chosen (for the total: "the last 1h" means 3600 s to now). */
interface Window extends QueryWindow {
  from: number;
  to: number;
}

function windowOf(s: ViewState): Window {
  if (s.range === "custom") return { ...alignWindow(s.from, s.to), from: s.from, to: s.to };
  const r = RANGES.find((x) => x.key === s.range) ?? RANGES[1];
  const now = Math.floor(Date.now() / 1000);
  return { ...relativeWindow(r.seconds, now), from: now - r.seconds, to: now };
}

interface Panel {
  def: PanelDef;
  chart: Chart;
  overlay: HTMLElement;
  queries: HTMLElement;
  total: HTMLElement | null;
}

export function metricsView(root: HTMLElement, app: AppContext, project: string, token: string): () => void {
  const api = new Api(project, token);
  const state = readState();
  let ctrl: AbortController | null = null;
  let generation = 0;
  let stopped = false;
  let lastLoad = 0;
  let firstChartMarked = false;
  let timer = 0;

  // --- controls ---
  const rangeButtons = [...RANGES.map((r) => [r.key, r.label]), ["custom", "Custom"]].map(([key, label]) => {
    const b = h("button", { type: "button", class: "seg-btn", "data-range": key }, label);
    b.addEventListener("click", () => {
      if (key === "custom") {
        const w = windowOf(state);
        fromInput.value = toLocalInput(new Date((state.range === "custom" ? state.from : w.start) * 1000));
        toInput.value = toLocalInput(new Date((state.range === "custom" ? state.to : w.end) * 1000));
        customForm.hidden = false;
        fromInput.focus();
        return;
      }
      state.range = key;
      customForm.hidden = true;
      load();
    });
    return b;
  });
  const fromId = uid("from");
  const toId = uid("to");
  const fromInput = h("input", { id: fromId, type: "datetime-local", required: true });
  const toInput = h("input", { id: toId, type: "datetime-local", required: true });
  const customError = h("span", { class: "error-text", role: "alert" });
  const customForm = h(
    "form",
    { class: "custom-range", hidden: state.range !== "custom", "aria-label": "Custom time range" },
    h("label", { for: fromId }, "From"),
    fromInput,
    h("label", { for: toId }, "To"),
    toInput,
    h("button", { type: "submit", class: "btn small primary" }, "Apply"),
    customError,
  );
  customForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const from = Math.floor(new Date(fromInput.value).getTime() / 1000);
    const to = Math.floor(new Date(toInput.value).getTime() / 1000);
    if (!(from > 0 && to > from)) {
      customError.textContent = "“From” must be before “To”.";
      return;
    }
    customError.textContent = "";
    Object.assign(state, { range: "custom", from, to });
    load();
  });
  if (state.range === "custom") {
    fromInput.value = toLocalInput(new Date(state.from * 1000));
    toInput.value = toLocalInput(new Date(state.to * 1000));
  }

  const modelId = uid("model");
  const modelSelect = h("select", { id: modelId }, h("option", { value: "" }, "All models"));
  const setModels = (models: string[]) => {
    const names = [...new Set([...models, ...(state.model ? [state.model] : [])])].sort();
    const current = [...modelSelect.options].slice(1).map((o) => o.value);
    if (current.join("\n") === names.join("\n")) return; // don't disturb an open select
    replace(
      modelSelect,
      h("option", { value: "" }, "All models"),
      names.map((m) => h("option", { value: m }, m)),
    );
    modelSelect.value = state.model ?? "";
  };
  setModels([]);
  modelSelect.addEventListener("change", () => {
    state.model = modelSelect.value || null;
    load();
  });
  const tierId = uid("tier");
  const tierSelect = h(
    "select",
    { id: tierId },
    h("option", { value: "" }, "All tiers"),
    TIERS.map(([v, label]) => h("option", { value: v }, label)),
  );
  tierSelect.value = state.tier ?? "";
  tierSelect.addEventListener("change", () => {
    state.tier = tierSelect.value || null;
    load();
  });
  const splitId = uid("split");
  const split = h("input", { id: splitId, type: "checkbox", checked: state.splitTier });
  split.addEventListener("change", () => {
    state.splitTier = split.checked;
    load();
  });
  const refresh = h("button", { type: "button", class: "btn small", onclick: () => load() }, "Refresh");
  const updated = h("p", { class: "updated", "aria-live": "polite" }, "Loading…");
  const banner = h("div", { class: "banner" });

  // --- panels ---
  const panelsEl = h("div", { class: "grid" });
  const panels: Panel[] = PANELS.map((def) => {
    const host = h("div", { class: "chart-host", role: "img", "aria-label": `${def.title} chart` });
    const overlay = h("div", { class: "overlay", role: "status" }, "Loading…");
    const legend = h("ul", { class: "legend", "aria-label": `${def.title} lines` });
    const queries = h("div", { class: "queries" });
    const total = def.totalOf ? h("p", { class: "total" }, "Total over the range: …") : null;
    const section = h(
      "section",
      { class: "panel", "data-panel": def.id, "aria-labelledby": `panel-${def.id}` },
      h(
        "div",
        { class: "panel-head" },
        h("h2", { id: `panel-${def.id}` }, def.title, " ", h("span", { class: "unit" }, def.unit)),
        total,
      ),
      h("p", { class: "desc" }, def.description),
      h("div", { class: "chart-area" }, host, overlay),
      legend,
      queries,
    );
    panelsEl.appendChild(section);
    return { def, chart: new Chart(host, legend, def.unit), overlay, queries, total };
  });
  panelsEl.appendChild(grafanaBox(project, token));

  function showQueries(p: Panel, w: Window) {
    const list = p.def.queries(project, state).map((q) => q.query);
    if (p.def.totalOf) list.push(totalQuery(p.def.totalOf, project, state, w.to - w.from));
    replace(
      p.queries,
      h("h3", { class: "queries-title" }, "PromQL"),
      list.map((q) => {
        const id = uid("q");
        return h(
          "div",
          { class: "query" },
          h("code", { id }, q),
          copyButton(() => q, "Copy", id),
        );
      }),
    );
  }

  function setOverlay(p: Panel, kind: "loading" | "empty" | "error" | "none", text = "", hint = "") {
    p.overlay.dataset.kind = kind;
    p.overlay.hidden = kind === "none";
    p.overlay.setAttribute("role", kind === "error" ? "alert" : "status");
    replace(p.overlay, h("div", null, h("p", null, text), hint ? h("p", { class: "hint" }, hint) : null));
  }

  async function loadPanel(p: Panel, w: Window, signal: AbortSignal, gen: number): Promise<void> {
    const filters: Filters = { ...state };
    const defs = p.def.queries(project, filters);
    const [results, totals] = await Promise.all([
      Promise.all(defs.map((q) => api.queryRange(q.query, w.start, w.end, w.step, signal))),
      p.def.totalOf
        ? api.query(totalQuery(p.def.totalOf, project, filters, w.to - w.from), w.to, signal)
        : Promise.resolve(null),
    ]);
    if (gen !== generation) return;
    const n = Math.round((w.end - w.start) / w.step) + 1;
    const x = Array.from({ length: n }, (_, i) => w.start + i * w.step);
    const totalBy = new Map<string, number>();
    for (const s of totals ?? []) totalBy.set(seriesKey(s.metric, filters).key, Number(s.value[1]));
    const series: Array<ChartSeries & { order: number }> = [];
    let points = 0;
    results.forEach((result, qi) => {
      for (const r of result) {
        const { key, name } = seriesKey(r.metric, filters);
        const values: Array<number | null> = new Array(n).fill(null);
        for (const [t, v] of r.values) {
          const i = Math.round((t - w.start) / w.step);
          const num = Number(v);
          // NaN (e.g. a quantile with no requests in the window) is a gap, not a zero.
          if (i >= 0 && i < n && Number.isFinite(num)) {
            values[i] = num * p.def.scale;
            points++;
          }
        }
        const suffix = defs[qi].suffix;
        const total = totalBy.get(key);
        series.push({
          key: `${key}|${suffix}`,
          group: name,
          part: suffix,
          order: qi,
          label: suffix ? `${name} ${suffix}` : name,
          color: "",
          dash: defs[qi].dash,
          values,
          extra: total != null && Number.isFinite(total) ? `total ${count(total)} tok` : undefined,
        });
      }
    });
    const names = [...new Set(series.map((s) => s.group))].sort();
    for (const s of series) s.color = PALETTE[names.indexOf(s.group) % PALETTE.length];
    series.sort((a, b) => a.group.localeCompare(b.group) || a.order - b.order);
    if (p.total) {
      const sum = [...totalBy.values()].filter(Number.isFinite).reduce((a, b) => a + b, 0);
      p.total.textContent = `Total over ${span(w.to - w.from)}: ${count(sum)} tokens`;
    }
    if (points === 0) {
      p.chart.clear();
      setOverlay(
        p,
        "empty",
        "No traffic in this range",
        filters.model || filters.tier
          ? "Nothing matches the model and tier filters."
          : "Requests show up here within a minute of being served.",
      );
      return;
    }
    const data: ChartData = { x, series };
    p.chart.set(data);
    setOverlay(p, "none");
    if (!firstChartMarked) {
      firstChartMarked = true;
      // Navigation start → first chart with data; the browser test reads this mark.
      performance.mark("mim:first-chart");
    }
  }

  function authFailed(e: ApiError) {
    stopped = true;
    ctrl?.abort();
    window.clearInterval(timer);
    replace(banner, authAlert(app, project, e.message));
    for (const p of panels) setOverlay(p, "error", "Sign in again to see data.");
    updated.textContent = "Not signed in";
    refresh.disabled = true;
  }

  async function load(): Promise<void> {
    if (stopped) return;
    ctrl?.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    const gen = ++generation;
    lastLoad = Date.now();
    const w = windowOf(state);
    writeState(state);
    for (const b of rangeButtons) b.setAttribute("aria-pressed", String(b.dataset.range === state.range));
    for (const p of panels) {
      showQueries(p, w);
      // Keep the previous chart under a light veil: nothing jumps while the new data loads.
      setOverlay(p, "loading", "Loading…");
    }
    updated.textContent = `Loading… (${span(w.to - w.from)}, step ${w.step}s)`;
    const models = api
      .labelValues("model_name", "crusoe_inference_request_count", signal)
      .then((m) => gen === generation && setModels(m));
    const results = await Promise.allSettled([
      models,
      ...panels.map((p) =>
        loadPanel(p, w, signal, gen).catch((e) => {
          if (gen === generation && !isAbort(e)) setOverlay(p, "error", describe(e));
          throw e;
        }),
      ),
    ]);
    if (gen !== generation) return;
    const errors = results
      .filter((r): r is PromiseRejectedResult => r.status === "rejected")
      .map((r) => r.reason)
      .filter((e) => !isAbort(e));
    const auth = errors.find((e): e is ApiError => e instanceof ApiError && e.isAuth);
    if (auth) return authFailed(auth);
    replace(
      banner,
      errors.length > 0 && results[0].status === "rejected"
        ? h("p", { class: "alert error", role: "alert" }, `Model list: ${describe(results[0].reason)}`)
        : null,
    );
    const panelErrors = results.slice(1).filter((r) => r.status === "rejected").length;
    const failed = panelErrors ? ` · ${panelErrors} ${panelErrors === 1 ? "panel" : "panels"} failed` : "";
    updated.textContent = `Updated at ${clock(new Date())} · refreshes every 60 s · step ${w.step}s${failed}`;
  }

  // --- layout ---
  const toolbar = h(
    "div",
    { class: "toolbar" },
    h("div", { class: "seg", role: "group", "aria-label": "Time range" }, rangeButtons),
    h("div", { class: "field" }, h("label", { for: modelId }, "Model"), modelSelect),
    h("div", { class: "field" }, h("label", { for: tierId }, "Service tier"), tierSelect),
    h("div", { class: "field check" }, split, h("label", { for: splitId }, "A line per tier")),
    h("span", { class: "spacer" }),
    updated,
    refresh,
  );
  replace(
    root,
    header(app, project, "metrics"),
    h(
      "main",
      { id: "main" },
      h("h1", { class: "visually-hidden" }, `Metrics of project ${project}`),
      toolbar,
      customForm,
      banner,
      panelsEl,
    ),
  );

  // Auto-refresh every 60 s while the tab is visible; catch up at once when it becomes visible.
  timer = window.setInterval(() => {
    if (!document.hidden) load();
  }, REFRESH_MS);
  const onVisible = () => {
    if (!document.hidden && Date.now() - lastLoad >= REFRESH_MS) load();
  };
  document.addEventListener("visibilitychange", onVisible);
  // Charts draw on canvas with colours read from CSS: redraw them when the OS theme flips.
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  const onTheme = () => {
    for (const p of panels) p.chart.restyle();
  };
  dark.addEventListener("change", onTheme);
  performance.mark("mim:view-built");
  load();

  return () => {
    stopped = true;
    ctrl?.abort();
    window.clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
    dark.removeEventListener("change", onTheme);
    for (const p of panels) p.chart.destroy();
  };
}

function describe(e: unknown): string {
  if (e instanceof ApiError) {
    return e.status ? `${e.errorType} (HTTP ${e.status}): ${e.message}` : `${e.errorType}: ${e.message}`;
  }
  return String(e);
}

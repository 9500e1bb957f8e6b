/**
 * One uPlot chart with what the page needs around it: a floating tooltip with every line's exact
 * value at the cursor, a legend of buttons (keyboard-operable, unlike uPlot's table rows) that
 * show/hide lines and carry each line's last value (the keyboard user's tooltip), theme colours
 * read from CSS, and resizing with its box. The box's height is fixed by CSS, so charts appearing,
 * refreshing or failing never move the layout.
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h, replace } from "./dom.js";
import { dateTime, precise, short } from "./format.js";

export interface ChartSeries {
  key: string;
  /** Full name, e.g. "meta-llama/Llama-3.1-8B-Instruct p90". */
  label: string;
  /** Lines of one model (its quantiles) share a legend row: the model's name… */
  group: string;
  /** …and this line's part of it ("p90"), or "" for a model's only line. */
  part: string;
  color: string;
  dash?: number[];
  values: Array<number | null>;
  /** Extra legend text, e.g. the total over the range. */
  extra?: string;
}

export interface ChartData {
  /** Unix seconds. */
  x: number[];
  series: ChartSeries[];
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** Indices of values with no neighbour: a line can't show them, so they are drawn as dots. */
function isolated(values: ArrayLike<number | null | undefined>): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] != null && values[i - 1] == null && values[i + 1] == null) out.push(i);
  }
  return out;
}

function lastValue(values: Array<number | null>): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] != null) return values[i];
  return null;
}

export class Chart {
  private u: uPlot | null = null;
  private data: ChartData | null = null;
  private readonly hidden = new Set<string>();
  private readonly tooltip = h("div", { class: "tooltip", hidden: true, "aria-hidden": "true" });
  private readonly resize = new ResizeObserver(() => this.fit());

  constructor(
    private readonly host: HTMLElement,
    private readonly legend: HTMLElement,
    private readonly unit: string,
  ) {
    this.resize.observe(host);
  }

  /** Draws new data; keeps the chart (and hidden lines) when the set of lines is unchanged. */
  set(data: ChartData): void {
    const same =
      this.u &&
      this.data &&
      this.data.series.length === data.series.length &&
      this.data.series.every((s, i) => s.key === data.series[i].key);
    this.data = data;
    if (same && this.u) this.u.setData([data.x, ...data.series.map((s) => s.values)] as uPlot.AlignedData);
    else this.build();
    this.renderLegend();
  }

  clear(): void {
    this.u?.destroy();
    this.u = null;
    this.data = null;
    this.legend.replaceChildren();
  }

  /** Rebuilds with the current theme's colours (after a light/dark switch). */
  restyle(): void {
    if (this.data) this.build();
  }

  destroy(): void {
    this.resize.disconnect();
    this.clear();
  }

  private fit(): void {
    if (this.u && this.host.clientWidth > 0) {
      this.u.setSize({ width: this.host.clientWidth, height: this.host.clientHeight });
    }
  }

  private build(): void {
    this.u?.destroy();
    const data = this.data;
    if (!data) return;
    const axis = cssVar("--muted");
    const grid = cssVar("--grid");
    const font = `12px ${cssVar("--font")}`;
    const unit = this.unit;
    const opts: uPlot.Options = {
      width: Math.max(this.host.clientWidth, 100),
      height: Math.max(this.host.clientHeight, 100),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      scales: {
        x: { time: true },
        // Rates and latencies start at zero: a flat line near its max should not look volatile.
        y: { range: (_u, _min, max) => [0, max != null && max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: axis, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
        {
          stroke: axis,
          font,
          size: 56,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          values: (_u, splits) => splits.map(short),
        },
      ],
      series: [
        {},
        ...data.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.75,
          dash: s.dash,
          show: !this.hidden.has(s.key),
          // Sparse latency data (a quantile is NaN where no request finished) leaves lone points.
          points: {
            show: true,
            size: 4,
            fill: s.color,
            filter: (u: uPlot, i: number) => isolated(u.data[i]),
          },
        })),
      ],
      plugins: [{ hooks: { setCursor: (u: uPlot) => this.showTooltip(u, unit) } }],
    };
    this.host.replaceChildren();
    this.u = new uPlot(opts, [data.x, ...data.series.map((s) => s.values)] as uPlot.AlignedData, this.host);
    this.host.appendChild(this.tooltip);
  }

  private showTooltip(u: uPlot, unit: string): void {
    const { idx, left } = u.cursor;
    const data = this.data;
    if (idx == null || left == null || left < 0 || !data) {
      this.tooltip.hidden = true;
      return;
    }
    const rows = data.series
      .map((s, i) => ({ s, v: s.values[idx], shown: u.series[i + 1]?.show }))
      .filter((r) => r.shown);
    replace(
      this.tooltip,
      h("div", { class: "tt-time" }, dateTime(new Date(data.x[idx] * 1000))),
      rows.map(({ s, v }) =>
        h(
          "div",
          { class: "tt-row" },
          h("span", { class: "swatch", style: `--c:${s.color}` }),
          h("span", { class: "tt-label" }, s.label),
          h("span", { class: "tt-value" }, v == null ? "no data" : `${precise(v)} ${unit}`),
        ),
      ),
    );
    this.tooltip.hidden = false;
    // Place beside the cursor, on the side with more room, inside the chart box.
    const over = u.over.getBoundingClientRect();
    const box = this.host.getBoundingClientRect();
    const x = over.left - box.left + left;
    const tw = this.tooltip.offsetWidth;
    const room = box.width - x - 16;
    this.tooltip.style.left = `${room >= tw ? x + 12 : Math.max(0, x - tw - 12)}px`;
    this.tooltip.style.top = `${Math.max(0, over.top - box.top + 4)}px`;
  }

  private renderLegend(): void {
    const data = this.data;
    if (!data) return;
    const groups = new Map<string, Array<[ChartSeries, number]>>();
    data.series.forEach((s, i) => {
      const g = groups.get(s.group) ?? [];
      g.push([s, i + 1]);
      groups.set(s.group, g);
    });
    replace(
      this.legend,
      [...groups].map(([name, lines]) =>
        h(
          "li",
          { class: "legend-group" },
          lines.length > 1 ? h("span", { class: "legend-name" }, name) : null,
          lines.map(([s, idx]) => this.legendButton(s, idx, lines.length > 1 ? s.part : s.label)),
        ),
      ),
    );
  }

  /** A toggle for one line, with its last value (the keyboard user's tooltip). */
  private legendButton(s: ChartSeries, idx: number, text: string): HTMLButtonElement {
    const last = lastValue(s.values);
    const value = last == null ? "no data" : `${precise(last)} ${this.unit}`;
    const btn = h(
      "button",
      {
        type: "button",
        class: "legend-item",
        "aria-pressed": String(!this.hidden.has(s.key)),
        "aria-label": `${s.label}, last ${value}${s.extra ? `, ${s.extra}` : ""}: show or hide`,
      },
      h("span", { class: `swatch${s.dash ? " dashed" : ""}`, style: `--c:${s.color}` }),
      h("span", { class: "legend-label" }, text),
      h("span", { class: "legend-value" }, value),
      s.extra ? h("span", { class: "legend-extra" }, s.extra) : null,
    );
    btn.addEventListener("click", () => {
      const show = this.hidden.has(s.key);
      if (show) this.hidden.delete(s.key);
      else this.hidden.add(s.key);
      btn.setAttribute("aria-pressed", String(show));
      this.u?.setSeries(idx, { show });
    });
    return btn;
  }
}

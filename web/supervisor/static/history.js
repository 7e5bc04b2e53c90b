// Historical figures (GET /api/supervisor/history): one figure at a time as horizontal bars in
// plain SVG, per queue, per agent and per queue and hour; the same period as CSV.

import {$, text} from "/common/static/dom.js";
import {locale, t} from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const RATES = new Set(["service_level", "abandonment_rate"]);
const BAR_H = 18;
const LABEL_W = 170;
const WIDTH = 520;

function svg(tag, attrs = {}, content = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (content !== null) node.textContent = content;
  return node;
}

function day(offset) {
  const d = new Date(Date.now() + offset * 86400000);
  return d.toISOString().slice(0, 10);
}

export class History {
  constructor() {
    this.data = null;
    $("history-since").value = day(-6);
    $("history-until").value = day(1);
    $("history-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.load();
    });
    $("history-figure").addEventListener("change", () => this.draw());
    this.load();
  }

  query() {
    const q = new URLSearchParams();
    for (const name of ["since", "until"]) {
      const value = $(`history-${name}`).value;
      if (value) q.set(name, value);
    }
    return q;
  }

  async load() {
    const q = this.query();
    const csv = new URLSearchParams(q);
    csv.set("format", "csv");
    $("history-csv").setAttribute("href", `/api/supervisor/history?${csv}`);
    try {
      const resp = await fetch(`/api/supervisor/history?${q}`, {credentials: "same-origin"});
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      this.data = await resp.json();
    } catch (err) {
      this.data = null;
      text($("chart-queues"), t("history.failed", {error: err.message}));
      return;
    }
    this.draw();
  }

  draw() {
    if (this.data === null) return;
    const figure = $("history-figure").value;
    const label = (key, row) => (row.agent ? row.agent : key);
    for (const [scope, target] of [["queues", "chart-queues"], ["agents", "chart-agents"],
                                   ["days", "chart-days"], ["hours", "chart-hours"]]) {
      const rows = Object.entries(this.data[scope] || {}).map(
        ([key, row]) => [label(key, row), row[figure]]);
      this.bars($(target), rows, figure);
    }
  }

  format(figure, value) {
    if (value === null || value === undefined) return t("figure.none");
    if (RATES.has(figure)) {
      return new Intl.NumberFormat(locale(), {style: "percent", maximumFractionDigits: 0})
        .format(value);
    }
    return t("unit.seconds", {n: Math.round(value)});
  }

  bars(target, rows, figure) {
    if (rows.length === 0) {
      text(target, t("history.empty"));
      return;
    }
    const top = Math.max(...rows.map(([, v]) => (typeof v === "number" ? v : 0)),
                         RATES.has(figure) ? 1 : 1e-9);
    const chart = svg("svg", {width: WIDTH, height: rows.length * (BAR_H + 6) + 4,
                              role: "img", "aria-label": t(`figure.${figure}`), class: "chart"});
    rows.forEach(([name, value], i) => {
      const y = i * (BAR_H + 6) + 2;
      const w = typeof value === "number" ? (WIDTH - LABEL_W - 70) * value / top : 0;
      chart.append(svg("text", {x: 0, y: y + BAR_H - 4, class: "label"}, name));
      chart.append(svg("rect", {x: LABEL_W, y, width: Math.max(0, w), height: BAR_H,
                                class: "bar", "data-value": value ?? ""}));
      chart.append(svg("text", {x: LABEL_W + w + 6, y: y + BAR_H - 4, class: "value"},
                       this.format(figure, value)));
    });
    target.replaceChildren(chart);
  }
}

/**
 * A line chart of our own, in SVG: the equity line, the balance as a second, faint line, a
 * dot where the equity ends, its high above it, its low and last value under it.
 * The geometry is computed by models/dashboard_chart.js (pure, tested under Node); this only
 * puts it on screen.
 *
 * Rules:
 * - The SVG stretches to the card's width (`preserveAspectRatio="none"`); strokes keep their
 *   width (`vector-effect`, in styles.css), so nothing looks squashed on a narrow phone. Text
 *   is HTML around the SVG, never stretched.
 * - Screen readers get the whole chart as one image with a summary in words (`aria-label`);
 *   the high and low labels repeat it and are hidden from them.
 * - For tests (and curious people) the SVG carries its figures as data attributes:
 *   `data-points`, `data-first`, `data-last`, `data-min`, `data-max`.
 * - No points: the SVG is hidden and the empty text says so, in words.
 */

import { chartGeometry, chartSummary } from "../models/dashboard_chart.js";
import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 300;
const HEIGHT = 120;

/**
 * @param {string} tag
 * @param {Record<string, string>} attrs
 * @param {...Element} children
 */
function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

/**
 * @param {{testid: string}} options the SVG's `data-testid`
 */
export function lineChart({ testid }) {
  const balance = svg("path", { class: "lc-balance", d: "" });
  const equity = svg("path", { class: "lc-equity", d: "" });
  const dot = svg("path", { class: "lc-dot", d: "" });
  const chart = svg(
    "svg",
    { class: "lc", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none", role: "img", "data-testid": testid, "data-points": "0" },
    balance,
    equity,
    dot,
  );
  const high = h("span", { class: "lc-label", "aria-hidden": "true" });
  const low = h("span", { class: "lc-label", "aria-hidden": "true" });
  const now = h("span", { class: "lc-now", "data-testid": `${testid}-last` });
  const figure = h("figure", { class: "lc-figure" }, h("div", { class: "lc-head" }, high), chart, h("figcaption", { class: "lc-foot" }, low, now));
  const empty = h("p", { class: "hint", "data-testid": `${testid}-empty`, hidden: true });
  const el = h("div", { class: "line-chart" }, figure, empty);

  return {
    el,
    /**
     * @param {readonly import("../models/dashboard_chart.js").ChartPoint[]} points in time order
     * @param {object} labels
     * @param {string} labels.title what the chart shows, e.g. "Equity, today"
     * @param {(value: number) => string} labels.format a value as shown
     * @param {string} labels.empty what to say without points
     */
    draw(points, { title, format, empty: emptyText }) {
      const g = chartGeometry(points, { width: WIDTH, height: HEIGHT });
      const none = g.count === 0 || g.end === null || g.min === null || g.max === null || g.last === null;
      figure.hidden = none;
      empty.hidden = !none;
      empty.textContent = none ? emptyText : "";
      chart.setAttribute("aria-label", chartSummary(g, { title, format }));
      chart.setAttribute("data-points", String(g.count));
      for (const key of /** @type {const} */ (["first", "last", "min", "max"])) {
        const value = g[key];
        if (value === null) chart.removeAttribute(`data-${key}`);
        else chart.setAttribute(`data-${key}`, String(value));
      }
      equity.setAttribute("d", g.equity);
      balance.setAttribute("d", g.balance);
      dot.setAttribute("d", g.end ? `M${g.end.x} ${g.end.y}h0` : "");
      if (none) return;
      high.textContent = `High ${format(/** @type {number} */ (g.max))}`;
      low.textContent = `Low ${format(/** @type {number} */ (g.min))}`;
      now.textContent = `Now ${format(/** @type {number} */ (g.last))}`;
    },
  };
}

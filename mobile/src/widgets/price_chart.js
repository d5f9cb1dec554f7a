/**
 * The price chart: recent bars of a symbol as candles (or a close line when there are many)
 * with the bot's entries and exits marked — ▲ a buy's entry, ▼ a sell's, ✕ an exit — in an
 * SVG of our own (no chart library, nothing to vendor). Where everything goes is computed by
 * models/analysis_chart.js; this only draws it.
 *
 * Accessibility: the SVG is one image (`role="img"`) whose label says the range, the prices
 * and the markers; the same words are shown under it, and a legend says what each mark
 * means (the shapes differ, not only the colours). Each marker carries its trade, kind,
 * side, price and time in `data-` attributes (for tests and for a long-press later).
 * Colours come from the stylesheet's variables (dark and light); no inline style, which the
 * app's security policy forbids.
 */

import { CHART_SIZE, axisTime, chartGeometry, chartSummary } from "../models/analysis_chart.js";
import { TIMEFRAME_SECONDS } from "../models/analysis.js";
import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

/**
 * An SVG element with attributes and children.
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 * @param {...(Node | string)} children
 * @returns {SVGElement}
 */
function svg(tag, attrs = {}, ...children) {
  const el = /** @type {SVGElement} */ (document.createElementNS(SVG, tag));
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  el.append(...children);
  return el;
}

/** @param {number} v */
const r = (v) => String(Math.round(v * 100) / 100);

/**
 * The path of a marker's shape, its tip on the price: ▲ points up at it from below, ▼ down
 * at it from above, ✕ is centred on it.
 * @param {{kind: string, side: string, x: number, y: number}} m
 */
function markerPath(m) {
  const { x, y } = m;
  if (m.kind === "exit") return `M${r(x - 5)} ${r(y - 5)}L${r(x + 5)} ${r(y + 5)}M${r(x - 5)} ${r(y + 5)}L${r(x + 5)} ${r(y - 5)}`;
  const dy = m.side === "sell" ? -11 : 11;
  return `M${r(x)} ${r(y)}L${r(x - 6)} ${r(y + dy)}L${r(x + 6)} ${r(y + dy)}Z`;
}

/**
 * @param {{testid?: string}} [options]
 * @returns {{el: HTMLElement, draw(what: {symbol: string, timeframe: string, bars: import("../models/analysis_chart.js").Bar[], markers: import("../models/analysis_chart.js").Marker[], outside: number, digits?: number}): void}}
 */
export function priceChart({ testid = "price-chart" } = {}) {
  const image = svg("svg", {
    class: "chart",
    role: "img",
    viewBox: `0 0 ${CHART_SIZE.width} ${CHART_SIZE.height}`,
    "data-testid": testid,
  });
  const summary = h("p", { class: "hint chart-summary", "aria-hidden": "true", "data-testid": `${testid}-summary` });
  const legend = h(
    "ul",
    { class: "chart-legend" },
    h("li", {}, h("span", { class: "mark mark-buy", "aria-hidden": "true" }, "▲"), " Buy entry"),
    h("li", {}, h("span", { class: "mark mark-sell", "aria-hidden": "true" }, "▼"), " Sell entry"),
    h("li", {}, h("span", { class: "mark mark-exit", "aria-hidden": "true" }, "✕"), " Exit"),
  );
  const el = h("figure", { class: "chart-figure" }, image, summary, legend);

  return {
    el,
    draw({ symbol, timeframe, bars, markers, outside, digits }) {
      const g = chartGeometry(bars, markers);
      const period = TIMEFRAME_SECONDS[/** @type {keyof typeof TIMEFRAME_SECONDS} */ (timeframe)] ?? 60;
      const words = chartSummary({ symbol, timeframe, bars, markers, outside, digits });
      image.setAttribute("aria-label", words);
      image.dataset.bars = String(bars.length);
      image.dataset.timeframe = timeframe;
      image.dataset.min = String(g.min);
      image.dataset.max = String(g.max);
      summary.textContent = words;

      const grid = svg("g", { class: "chart-grid" });
      for (const tick of g.ticks) {
        grid.append(
          svg("line", { x1: r(g.plot.left), x2: r(g.plot.right), y1: r(tick.y), y2: r(tick.y) }),
          svg("text", { x: r(g.plot.right + 4), y: r(tick.y + 4) }, digits === undefined ? String(tick.price) : tick.price.toFixed(digits)),
        );
      }
      const prices = svg("g", { class: `chart-prices chart-${g.style}` });
      if (g.style === "line") {
        prices.append(svg("path", { class: "chart-line", d: g.line }));
      } else {
        const body = Math.max(1, g.slot * 0.6);
        for (const c of g.candles) {
          const tone = c.up ? "up" : "down";
          prices.append(
            svg("line", { class: `wick ${tone}`, x1: r(c.x), x2: r(c.x), y1: r(c.high), y2: r(c.low) }),
            svg("rect", {
              class: `body ${tone}`,
              x: r(c.x - body / 2),
              y: r(Math.min(c.open, c.close)),
              width: r(body),
              height: r(Math.max(1, Math.abs(c.open - c.close))),
            }),
          );
        }
      }
      const axis = svg("g", { class: "chart-axis" });
      if (bars.length) {
        const base = r(g.height - 6);
        axis.append(
          svg("text", { x: r(g.plot.left), y: base, "text-anchor": "start" }, axisTime(bars[0].time, period)),
          svg("text", { x: r(g.plot.right), y: base, "text-anchor": "end" }, axisTime(bars[bars.length - 1].time, period)),
        );
      }
      const marks = svg("g", { class: "chart-markers" });
      for (const m of g.markers) {
        marks.append(
          svg("path", {
            class: `marker marker-${m.kind === "exit" ? "exit" : m.side}`,
            d: markerPath(m),
            "data-testid": "chart-marker",
            "data-kind": m.kind,
            "data-side": m.side,
            "data-trade-id": String(m.tradeId),
            "data-price": String(m.price),
            "data-time": new Date(m.time).toISOString(),
          }),
        );
      }
      image.replaceChildren(grid, prices, axis, marks);
    },
  };
}

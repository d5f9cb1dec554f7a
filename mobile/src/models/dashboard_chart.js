/**
 * The geometry of the dashboard's line chart (widgets/line_chart.js draws it): where each
 * point of the equity and balance lines goes in an SVG view box, and the chart's summary in
 * words for screen readers. Pure: numbers in, path strings and numbers out.
 *
 * Rules:
 * - x is proportional to time (a gap in the figures shows as a straight stretch), from the
 *   first point at the left edge to the last at the right; a single point, or points all at
 *   one time, spread evenly by their order instead.
 * - y spans the lowest to the highest value of both lines, so the faint balance line is
 *   always in view; a flat curve (one value) sits in the middle rather than on an edge.
 * - Coordinates are rounded to 0.1 of the view box: the path stays short and stable.
 * - A point without a balance breaks the balance line there (a new sub-path), it is not
 *   drawn through a made-up value.
 *
 * @typedef {object} ChartPoint
 * @property {number} time ms
 * @property {number} equity
 * @property {number | null} balance
 *
 * @typedef {object} ChartGeometry
 * @property {number} width the view box's
 * @property {number} height
 * @property {number} count points drawn
 * @property {string} equity the equity line's SVG path ("" without points)
 * @property {string} balance the balance line's SVG path
 * @property {{x: number, y: number} | null} end where the equity line ends
 * @property {number | null} min the equity's lowest
 * @property {number | null} max the equity's highest
 * @property {number | null} first the equity's first value
 * @property {number | null} last the equity's last value
 */

/**
 * @param {readonly ChartPoint[]} points in time order
 * @param {{width?: number, height?: number, pad?: number}} [box] the view box and the margin
 *   kept free around the lines (so a line's stroke is never cut at an edge)
 * @returns {ChartGeometry}
 */
export function chartGeometry(points, { width = 300, height = 120, pad = 6 } = {}) {
  const none = { width, height, count: 0, equity: "", balance: "", end: null, min: null, max: null, first: null, last: null };
  if (points.length === 0) return none;

  const equities = points.map((p) => p.equity);
  const balances = points.map((p) => p.balance).filter((b) => b !== null);
  const min = Math.min(...equities);
  const max = Math.max(...equities);
  let lo = Math.min(min, ...(/** @type {number[]} */ (balances)));
  let hi = Math.max(max, ...(/** @type {number[]} */ (balances)));
  if (hi - lo < 1e-9) {
    const half = Math.max(Math.abs(hi) * 1e-4, 0.01);
    lo -= half;
    hi += half;
  }

  const t0 = points[0].time;
  const span = points[points.length - 1].time - t0;
  const innerW = width - 2 * pad;
  const innerH = height - 2 * pad;
  /** @param {ChartPoint} p @param {number} i */
  const x = (p, i) => {
    if (span > 0) return round(pad + ((p.time - t0) / span) * innerW);
    return round(points.length === 1 ? width / 2 : pad + (i / (points.length - 1)) * innerW);
  };
  /** @param {number} v */
  const y = (v) => round(pad + ((hi - v) / (hi - lo)) * innerH);

  const equity = points.map((p, i) => `${i === 0 ? "M" : "L"}${x(p, i)} ${y(p.equity)}`).join("");
  let balance = "";
  let drawing = false;
  points.forEach((p, i) => {
    if (p.balance === null) {
      drawing = false;
      return;
    }
    balance += `${drawing ? "L" : "M"}${x(p, i)} ${y(p.balance)}`;
    drawing = true;
  });
  const lastIndex = points.length - 1;
  return {
    width,
    height,
    count: points.length,
    equity,
    balance,
    end: { x: x(points[lastIndex], lastIndex), y: y(points[lastIndex].equity) },
    min,
    max,
    first: points[0].equity,
    last: points[lastIndex].equity,
  };
}

/**
 * The chart in words, for its `aria-label`: what it shows, where it went, its low and high.
 * @param {ChartGeometry} g
 * @param {object} options
 * @param {string} options.title e.g. "Equity, today"
 * @param {(value: number) => string} options.format a value as shown, e.g. "10,000.00 USD"
 */
export function chartSummary(g, { title, format }) {
  if (g.count === 0 || g.first === null || g.last === null || g.min === null || g.max === null) {
    return `${title}: no figures yet.`;
  }
  const points = g.count === 1 ? "1 point" : `${g.count} points`;
  const path = g.count === 1 ? `at ${format(g.last)}` : `from ${format(g.first)} to ${format(g.last)}`;
  return `${title}: ${points}, ${path}; low ${format(g.min)}, high ${format(g.max)}.`;
}

/** @param {number} n */
function round(n) {
  return Math.round(n * 10) / 10;
}

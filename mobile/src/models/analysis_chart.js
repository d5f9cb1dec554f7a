/**
 * The price chart's geometry, pure: where each candle, the close line, the price ticks and
 * the bot's entries and exits go in the chart's coordinates. The widget
 * (widgets/price_chart.js) only draws what this computes, so the rules are tested by Node.
 *
 * Rules:
 * - Bars come oldest first (`GET /api/market/data/{symbol}`), times are their open times.
 * - A trade marks its entry (at `open_time`, `entry_price`) and its exit (at `close_time`,
 *   `exit_price`), each on the bar whose period holds that time; a time in a gap between bars
 *   (a weekend) goes on the bar before the gap. A time before the first bar, or after the
 *   last bar's period, is outside the chart and only counted.
 * - The price scale holds every bar's high and low and every marker's price (a buy fills at
 *   the ask, above the bid bars), with a little room above and below.
 * - Up to `CANDLES_MAX` bars are drawn as candles; more as a line of the closes.
 *
 * @typedef {{time: number, open: number, high: number, low: number, close: number}} Bar time in ms
 *
 * @typedef {object} Marker
 * @property {"entry" | "exit"} kind
 * @property {"buy" | "sell"} side the trade's
 * @property {number} tradeId
 * @property {number} price
 * @property {number} time ms
 * @property {number} bar the index of the bar it is on
 *
 * @typedef {object} Geometry
 * @property {number} width
 * @property {number} height
 * @property {{left: number, right: number, top: number, bottom: number}} plot the drawing area
 * @property {number} min the scale's lowest price
 * @property {number} max the scale's highest price
 * @property {"candles" | "line"} style
 * @property {number} slot the width one bar takes
 * @property {{x: number, open: number, close: number, high: number, low: number, up: boolean}[]} candles y coordinates
 * @property {string} line an SVG path of the closes (empty without bars)
 * @property {{y: number, price: number}[]} ticks price labels on the right
 * @property {(Marker & {x: number, y: number})[]} markers
 */

import { TIMEFRAME_SECONDS } from "./analysis.js";

/** More bars than this are drawn as a close line (candles would be under 3 px wide). */
export const CANDLES_MAX = 150;

/** The chart's drawing size (the SVG's viewBox; it scales to the phone's width). */
export const CHART_SIZE = /** @type {const} */ ({ width: 360, height: 220, axis: 58, top: 10, bottom: 22 });

/**
 * The bars of a `GET /api/market/data/{symbol}` answer, times in ms, malformed ones left out.
 * @param {any} page
 * @returns {Bar[]}
 */
export function barsOf(page) {
  const items = Array.isArray(page?.items) ? page.items : [];
  /** @type {Bar[]} */
  const bars = [];
  for (const b of items) {
    const time = Date.parse(b?.time);
    const values = [b?.open, b?.high, b?.low, b?.close];
    if (Number.isNaN(time) || !values.every((v) => typeof v === "number" && Number.isFinite(v))) continue;
    bars.push({ time, open: b.open, high: b.high, low: b.low, close: b.close });
  }
  return bars;
}

/**
 * The index of the bar holding `time`, or -1 when it is outside the chart.
 * @param {Bar[]} bars oldest first
 * @param {number} time ms
 * @param {number} periodMs
 */
export function barIndexAt(bars, time, periodMs) {
  if (!bars.length || time < bars[0].time) return -1;
  let lo = 0;
  let hi = bars.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (bars[mid].time <= time) lo = mid;
    else hi = mid - 1;
  }
  const last = lo === bars.length - 1;
  return last && time >= bars[lo].time + periodMs ? -1 : lo;
}

/**
 * The entries and exits of `trades` on the chart's bars, and how many fell outside.
 * @param {any[]} trades items of `GET /api/trades`
 * @param {Bar[]} bars
 * @param {number} periodSeconds the bars' timeframe
 * @returns {{markers: Marker[], outside: number}}
 */
export function tradeMarkers(trades, bars, periodSeconds) {
  /** @type {Marker[]} */
  const markers = [];
  let outside = 0;
  const periodMs = periodSeconds * 1000;
  /**
   * @param {any} t
   * @param {"entry" | "exit"} kind
   * @param {unknown} at
   * @param {unknown} price
   */
  const add = (t, kind, at, price) => {
    const time = typeof at === "string" ? Date.parse(at) : NaN;
    if (Number.isNaN(time) || typeof price !== "number" || !Number.isFinite(price)) return;
    const bar = barIndexAt(bars, time, periodMs);
    if (bar < 0) {
      outside += 1;
      return;
    }
    markers.push({ kind, side: t.side === "sell" ? "sell" : "buy", tradeId: Number(t.id), price, time, bar });
  };
  for (const t of Array.isArray(trades) ? trades : []) {
    add(t, "entry", t?.open_time, t?.entry_price);
    add(t, "exit", t?.close_time, t?.exit_price);
  }
  markers.sort((a, b) => a.time - b.time || a.tradeId - b.tradeId);
  return { markers, outside };
}

/**
 * A round step for about `count` price labels across `span`: 1, 2 or 5 times a power of ten.
 * @param {number} span
 * @param {number} [count]
 */
export function tickStep(span, count = 4) {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  const nice = scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10;
  return nice * power;
}

/**
 * Where everything goes.
 * @param {Bar[]} bars oldest first
 * @param {Marker[]} markers from `tradeMarkers` on the same bars
 * @param {{width?: number, height?: number, axis?: number, top?: number, bottom?: number}} [size]
 * @returns {Geometry}
 */
export function chartGeometry(bars, markers, size = {}) {
  const { width, height, axis, top, bottom } = { ...CHART_SIZE, ...size };
  const plot = { left: 2, right: width - axis, top, bottom: height - bottom };
  const prices = [...bars.flatMap((b) => [b.high, b.low]), ...markers.map((m) => m.price)];
  let min = prices.length ? Math.min(...prices) : 0;
  let max = prices.length ? Math.max(...prices) : 1;
  if (max - min <= 0) {
    const room = Math.abs(max) * 0.001 || 1;
    min -= room;
    max += room;
  }
  const pad = (max - min) * 0.06;
  min -= pad;
  max += pad;
  const y = (/** @type {number} */ price) => plot.top + ((max - price) / (max - min)) * (plot.bottom - plot.top);
  const slot = bars.length ? (plot.right - plot.left) / bars.length : plot.right - plot.left;
  const x = (/** @type {number} */ i) => plot.left + slot * (i + 0.5);
  const candles = bars.map((b, i) => ({
    x: x(i),
    open: y(b.open),
    close: y(b.close),
    high: y(b.high),
    low: y(b.low),
    up: b.close >= b.open,
  }));
  const line = bars.map((b, i) => `${i ? "L" : "M"}${round(x(i))} ${round(y(b.close))}`).join(" ");
  const step = tickStep(max - min);
  const ticks = [];
  for (let p = Math.ceil(min / step) * step; p <= max; p += step) {
    const price = Number(p.toPrecision(12)); // no 1.0850000000000002
    ticks.push({ y: y(price), price });
  }
  return {
    width,
    height,
    plot,
    min,
    max,
    style: bars.length > CANDLES_MAX ? "line" : "candles",
    slot,
    candles,
    line,
    ticks,
    markers: markers.map((m) => ({ ...m, x: x(m.bar), y: y(m.price) })),
  };
}

/** @param {number} v */
function round(v) {
  return Math.round(v * 100) / 100;
}

/**
 * A bar time as the chart's axis shows it, in UTC (the trading clock's): the day for daily
 * bars, "MM-DD HH:MM" otherwise.
 * @param {number} time ms
 * @param {number} periodSeconds
 */
export function axisTime(time, periodSeconds) {
  const iso = new Date(time).toISOString();
  return periodSeconds >= 86_400 ? iso.slice(0, 10) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
}

/**
 * What a screen reader says for the chart (and what a person reads under it): the range,
 * the prices, the markers.
 * @param {object} what
 * @param {string} what.symbol
 * @param {string} what.timeframe
 * @param {Bar[]} what.bars
 * @param {Marker[]} what.markers
 * @param {number} what.outside markers left out
 * @param {number} [what.digits] price decimals
 */
export function chartSummary({ symbol, timeframe, bars, markers, outside, digits }) {
  if (!bars.length) return `${symbol} ${timeframe}: no bars to show.`;
  const period = TIMEFRAME_SECONDS[/** @type {keyof typeof TIMEFRAME_SECONDS} */ (timeframe)] ?? 60;
  const price = (/** @type {number} */ p) => (digits === undefined ? String(p) : p.toFixed(digits));
  const low = Math.min(...bars.map((b) => b.low));
  const high = Math.max(...bars.map((b) => b.high));
  const last = bars[bars.length - 1];
  const count = (/** @type {number} */ n, /** @type {string} */ one, /** @type {string} */ many) => `${n} ${n === 1 ? one : many}`;
  const buys = markers.filter((m) => m.kind === "entry" && m.side === "buy").length;
  const sells = markers.filter((m) => m.kind === "entry" && m.side === "sell").length;
  const exits = markers.filter((m) => m.kind === "exit").length;
  const marks = markers.length
    ? `Marked: ${count(buys, "buy entry", "buy entries")}, ${count(sells, "sell entry", "sell entries")}, ${count(exits, "exit", "exits")}.`
    : "No trade of the bot on these bars.";
  const left = outside ? ` ${count(outside, "entry or exit", "entries and exits")} of recent trades outside this range.` : "";
  return (
    `${symbol} ${timeframe}, ${count(bars.length, "bar", "bars")} from ${axisTime(bars[0].time, period)} ` +
    `to ${axisTime(last.time, period)} UTC: low ${price(low)}, high ${price(high)}, last close ${price(last.close)}. ` +
    marks +
    left
  );
}

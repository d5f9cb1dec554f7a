// The dashboard's pure modules (today's P/L and the equity curve, the chart's geometry, the
// quotes card, the last signal), run by Node without a browser: node --test mobile/tests/

import assert from "node:assert/strict";
import { test } from "node:test";

import { chartGeometry, chartSummary } from "../src/models/dashboard_chart.js";
import { dayIsOver, equitySeries, livePointOf, todayPnl, todayPnlNow, withLivePoint } from "../src/models/dashboard_equity.js";
import { emptyQuotes, priceText, quoteSymbols, withQuote } from "../src/models/dashboard_quotes.js";
import { newerSignal, signalOf, timeAgo } from "../src/models/dashboard_signal.js";
import { formatMoney } from "../src/widgets/format.js";

const T0 = Date.parse("2026-11-23T08:00:00Z");
const MIN = 60_000;
const iso = (/** @type {number} */ ms) => new Date(ms).toISOString();

/** A day series as the API answers it, with points at the given minutes after T0. */
function day(/** @type {number[]} */ minutes, equity = 10_000) {
  return equitySeries(
    {
      range: "day",
      currency: "USD",
      start: iso(T0 - 8 * 60 * MIN),
      end: iso(T0 + minutes[minutes.length - 1] * MIN),
      day_start_equity: 10_000,
      today_pnl: 0,
      points: minutes.map((m) => ({ time: iso(T0 + m * MIN), equity: equity + m, balance: 10_000 })),
    },
    "day",
  );
}

// -- today's P/L -----------------------------------------------------------------------------

test("today's P/L is the equity now minus the day's starting equity, to the cent", () => {
  assert.equal(todayPnl(10_000, 10_012.346), 12.35);
  assert.equal(todayPnl(10_000, 9_990.1), -9.9);
  assert.equal(todayPnl(10_000, 10_000), 0);
});

test("today's P/L is unknown while either figure is", () => {
  assert.equal(todayPnl(null, 10_000), null);
  assert.equal(todayPnl(10_000, undefined), null);
});

test("today's P/L follows the live equity, and is the server's figure before any", () => {
  const series = { ...day([0]), todayPnl: 3.5 };
  assert.equal(todayPnlNow(series, { equity: 10_020 }), 20);
  assert.equal(todayPnlNow(series, null), 3.5);
  assert.equal(todayPnlNow(null, { equity: 10_020 }), null);
});

// -- the equity series -----------------------------------------------------------------------

test("the API's answer becomes a series in time order, malformed points left out", () => {
  const series = equitySeries(
    {
      range: "month",
      currency: "USD",
      start: iso(T0),
      end: iso(T0 + 2 * MIN),
      day_start_equity: 10_000,
      today_pnl: 1.5,
      points: [
        { time: iso(T0 + MIN), equity: 10_001, balance: 10_000 },
        { time: "not a time", equity: 1, balance: 1 },
        { time: iso(T0), equity: 10_000, balance: null },
        { time: iso(T0 + 2 * MIN), equity: "10002", balance: 10_000 },
      ],
    },
    "day",
  );
  assert.equal(series.range, "month");
  assert.equal(series.start, T0);
  assert.equal(series.dayStartEquity, 10_000);
  assert.equal(series.todayPnl, 1.5);
  assert.deepEqual(series.points, [
    { time: T0, equity: 10_000, balance: null },
    { time: T0 + MIN, equity: 10_001, balance: 10_000 },
  ]);
});

test("an empty or broken answer is an empty series of the range asked for", () => {
  const series = equitySeries(null, "day");
  assert.equal(series.range, "day");
  assert.deepEqual(series.points, []);
  assert.equal(series.dayStartEquity, null);
});

test("a performance snapshot's account is a live point at the snapshot's time", () => {
  const data = { time: iso(T0), account: { equity: 10_005, balance: 10_000, currency: "USD" } };
  assert.deepEqual(livePointOf(data), { time: T0, equity: 10_005, balance: 10_000 });
  assert.equal(livePointOf({ time: iso(T0), account: null }), null);
});

test("a live point in a later minute is appended to the day", () => {
  const series = withLivePoint(day([0, 1]), { time: T0 + 2 * MIN + 5_000, equity: 10_050, balance: 10_000 });
  assert.deepEqual(
    series.points.map((p) => p.equity),
    [10_000, 10_001, 10_050],
  );
});

test("a live point in the last point's minute replaces it: at most one point a minute", () => {
  const once = withLivePoint(day([0, 1]), { time: T0 + MIN + 20_000, equity: 10_040, balance: 10_000 });
  const twice = withLivePoint(once, { time: T0 + MIN + 40_000, equity: 10_030, balance: 10_000 });
  assert.equal(twice.points.length, 2);
  assert.deepEqual(twice.points[1], { time: T0 + MIN + 40_000, equity: 10_030, balance: 10_000 });
});

test("a live point older than the curve's end changes nothing", () => {
  const series = day([0, 1]);
  assert.equal(withLivePoint(series, { time: T0, equity: 1, balance: 1 }), series);
});

test("the month takes at most one live point an hour", () => {
  const month = { ...day([0]), range: /** @type {const} */ ("month") };
  const a = withLivePoint(month, { time: T0 + 10 * MIN, equity: 10_010, balance: 10_000 });
  const b = withLivePoint(a, { time: T0 + 50 * MIN, equity: 10_020, balance: 10_000 });
  const c = withLivePoint(b, { time: T0 + 61 * MIN, equity: 10_030, balance: 10_000 });
  assert.deepEqual(
    c.points.map((p) => p.equity),
    [10_020, 10_030],
  );
});

test("a live curve keeps only its range's span", () => {
  const month = { ...day([0]), range: /** @type {const} */ ("month") };
  const later = withLivePoint(month, { time: T0 + 31 * 24 * 60 * MIN, equity: 10_100, balance: 10_000 });
  assert.deepEqual(
    later.points.map((p) => p.equity),
    [10_100],
  );
});

test("the day is over a day after its start, by the trading clock", () => {
  const series = day([0]); // the day started at midnight, T0 is 08:00
  assert.equal(dayIsOver(series, T0 + 15 * 60 * MIN), false);
  assert.equal(dayIsOver(series, T0 + 16 * 60 * MIN), true);
  assert.equal(dayIsOver({ ...series, range: "month" }, T0 + 16 * 60 * MIN), false);
});

// -- the chart's geometry --------------------------------------------------------------------

/** @param {Array<[number, number, number | null]>} rows time (minutes), equity, balance */
const points = (rows) => rows.map(([m, equity, balance]) => ({ time: T0 + m * MIN, equity, balance }));

test("no points draw nothing", () => {
  const g = chartGeometry([]);
  assert.equal(g.count, 0);
  assert.equal(g.equity, "");
  assert.equal(g.end, null);
  assert.equal(g.min, null);
});

test("the equity spans the box: first at the left, last at the right, high on top", () => {
  const g = chartGeometry(points([[0, 100, null], [5, 110, null], [10, 105, null]]), { width: 100, height: 50, pad: 5 });
  assert.equal(g.equity, "M5 45L50 5L95 25");
  assert.deepEqual(g.end, { x: 95, y: 25 });
  assert.deepEqual([g.min, g.max, g.first, g.last, g.count], [100, 110, 100, 105, 3]);
});

test("x follows time, so a gap in the figures shows", () => {
  const g = chartGeometry(points([[0, 100, null], [1, 110, null], [10, 100, null]]), { width: 100, height: 50, pad: 0 });
  assert.equal(g.equity, "M0 50L10 0L100 50");
});

test("the balance is in the vertical range and drawn faint beside the equity", () => {
  const g = chartGeometry(points([[0, 100, 90], [10, 110, 90]]), { width: 100, height: 40, pad: 0 });
  assert.equal(g.balance, "M0 40L100 40");
  assert.equal(g.equity, "M0 20L100 0");
  assert.equal(g.min, 100, "the labels are the equity's low and high, not the balance's");
});

test("a point without a balance breaks the balance line there", () => {
  const g = chartGeometry(points([[0, 100, 100], [5, 100, null], [10, 100, 100]]), { width: 100, height: 40, pad: 0 });
  assert.equal(g.balance, "M0 20M100 20");
});

test("a flat curve sits in the middle, and a single point in the centre", () => {
  const flat = chartGeometry(points([[0, 100, 100], [10, 100, 100]]), { width: 100, height: 40, pad: 0 });
  assert.equal(flat.equity, "M0 20L100 20");
  const one = chartGeometry(points([[0, 100, null]]), { width: 100, height: 40, pad: 0 });
  assert.equal(one.equity, "M50 20");
  assert.deepEqual(one.end, { x: 50, y: 20 });
});

test("points all at one time spread by their order", () => {
  const g = chartGeometry(points([[0, 100, null], [0, 110, null], [0, 120, null]]), { width: 100, height: 20, pad: 0 });
  assert.equal(g.equity, "M0 20L50 10L100 0");
});

test("the chart's summary says where the equity went, its low and high", () => {
  const g = chartGeometry(points([[0, 10_000, null], [5, 9_990.5, null], [10, 10_012.25, null]]));
  const format = (/** @type {number} */ v) => formatMoney(v, "USD");
  assert.equal(
    chartSummary(g, { title: "Equity, today", format }),
    "Equity, today: 3 points, from 10,000.00 USD to 10,012.25 USD; low 9,990.50 USD, high 10,012.25 USD.",
  );
  assert.equal(chartSummary(chartGeometry([]), { title: "Equity, today", format }), "Equity, today: no figures yet.");
});

// -- quotes ----------------------------------------------------------------------------------

test("the quotes follow the positions' symbols first, then the first of the watchlist", () => {
  const watchlist = ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "XAUUSD"];
  assert.deepEqual(quoteSymbols(["XAUUSD", "GBPUSD", "XAUUSD"], watchlist), ["XAUUSD", "GBPUSD", "EURUSD", "USDJPY"]);
  assert.deepEqual(quoteSymbols([], watchlist), ["EURUSD", "GBPUSD", "USDJPY"]);
});

test("the quoted symbols are bounded, and unwatched positions left out", () => {
  const watchlist = ["A", "B", "C", "D", "E", "F", "G", "H"];
  assert.deepEqual(quoteSymbols(["H", "G", "F", "E", "D", "C", "B"], watchlist, { max: 6, fromWatchlist: 3 }), ["H", "G", "F", "E", "D", "C"]);
  assert.deepEqual(quoteSymbols(["NOTWATCHED"], ["EURUSD"]), ["EURUSD"]);
});

const SPECS = new Map([["EURUSD", { name: "EURUSD", digits: 5, point: 0.00001 }]]);

test("a quote fills its row with the spread in points", () => {
  const q = withQuote(emptyQuotes(["EURUSD"]), { symbol: "EURUSD", bid: 1.08412, ask: 1.08419, time: iso(T0) }, SPECS);
  assert.deepEqual(q.EURUSD, { symbol: "EURUSD", bid: 1.08412, ask: 1.08419, time: T0, spread: 7, change: null });
});

test("a new quote says which way the bid moved", () => {
  const at = (/** @type {number} */ bid, /** @type {number} */ s) => ({ symbol: "EURUSD", bid, ask: bid + 0.00007, time: iso(T0 + s * 1000) });
  let q = withQuote(emptyQuotes(["EURUSD"]), at(1.1, 0), SPECS);
  q = withQuote(q, at(1.10002, 1), SPECS);
  assert.equal(q.EURUSD?.change, "up");
  q = withQuote(q, at(1.1, 2), SPECS);
  assert.equal(q.EURUSD?.change, "down");
  q = withQuote(q, at(1.1, 3), SPECS);
  assert.equal(q.EURUSD?.change, "same");
});

test("a quote of a symbol not followed, or older than the one shown, changes nothing", () => {
  const q = withQuote(emptyQuotes(["EURUSD"]), { symbol: "EURUSD", bid: 1.1, ask: 1.1001, time: iso(T0) }, SPECS);
  assert.equal(withQuote(q, { symbol: "GBPUSD", bid: 1.3, ask: 1.3001, time: iso(T0) }, SPECS), q);
  assert.equal(withQuote(q, { symbol: "EURUSD", bid: 1.2, ask: 1.2001, time: iso(T0 - 1000) }, SPECS), q);
  assert.equal(withQuote(q, { symbol: "EURUSD", bid: "1.2", ask: 1.2, time: iso(T0) }, SPECS), q);
});

test("a symbol without a known point has no spread", () => {
  const q = withQuote(emptyQuotes(["X"]), { symbol: "X", bid: 1, ask: 2, time: iso(T0) }, SPECS);
  assert.equal(q.X?.spread, null);
});

test("prices show the symbol's digits", () => {
  assert.equal(priceText(1.1, 5), "1.10000");
  assert.equal(priceText(150.123, 3), "150.123");
  assert.equal(priceText(1.1, undefined), "1.1");
  assert.equal(priceText(null, 5), "—");
});

// -- the last signal -------------------------------------------------------------------------

const SIGNAL = {
  strategy: "ma_rsi",
  symbol: "EURUSD",
  timeframe: "M1",
  side: "buy",
  entry: 1.08412,
  sl: 1.083,
  tp: 1.086,
  confidence: 0.7,
  reason: "crossed",
  bar_time: "2026-11-23T08:00:00.000Z",
  market_condition: "trending",
};

test("a signal from the API keeps what the dashboard shows", () => {
  assert.deepEqual(signalOf(SIGNAL), { strategy: "ma_rsi", symbol: "EURUSD", timeframe: "M1", side: "buy", entry: 1.08412, time: T0 });
});

test("a signal without a side, symbol or time is none", () => {
  assert.equal(signalOf({ ...SIGNAL, side: "hold" }), null);
  assert.equal(signalOf({ ...SIGNAL, bar_time: "yesterday" }), null);
  assert.equal(signalOf({ ...SIGNAL, symbol: null }), null);
  assert.equal(signalOf(undefined), null);
});

test("the newest signal wins, by time, and the one heard last at a tie", () => {
  const old = signalOf(SIGNAL);
  const later = signalOf({ ...SIGNAL, symbol: "GBPUSD", bar_time: "2026-11-23T08:01:00Z" });
  const tie = signalOf({ ...SIGNAL, strategy: "breakout" });
  assert.equal(newerSignal(later, old), later);
  assert.equal(newerSignal(old, later), later);
  assert.equal(newerSignal(old, tie), tie);
  assert.equal(newerSignal(null, old), old);
  assert.equal(newerSignal(old, null), old);
});

test("a signal's time is when it was emitted, the close of its bar, not the bar's open", () => {
  // An H4 signal emitted at 08:00 on the bar that opened at 04:00; an M5 one at 07:55.
  const h4 = signalOf({ ...SIGNAL, timeframe: "H4", bar_time: "2026-11-23T04:00:00.000Z", time: "2026-11-23T08:00:00.000Z" });
  const m5 = signalOf({ ...SIGNAL, timeframe: "M5", bar_time: "2026-11-23T07:50:00.000Z", time: "2026-11-23T07:55:00.000Z" });
  assert.equal(h4?.time, T0);
  assert.equal(newerSignal(h4, m5), h4);
  assert.equal(newerSignal(m5, h4), h4);
  assert.equal(timeAgo(/** @type {number} */ (h4?.time), T0 + 2 * MIN), "2 minutes ago");
});

test("a signal without its emission time counts from its bar time", () => {
  assert.equal(signalOf(SIGNAL)?.time, T0);
  assert.equal(signalOf({ ...SIGNAL, time: "soon" })?.time, T0);
});

test("how long ago reads in words", () => {
  assert.equal(timeAgo(T0, T0 + 3_000), "just now");
  assert.equal(timeAgo(T0, T0 + 40_000), "40 seconds ago");
  assert.equal(timeAgo(T0, T0 + 60_000), "1 minute ago");
  assert.equal(timeAgo(T0, T0 + 59 * MIN), "59 minutes ago");
  assert.equal(timeAgo(T0, T0 + 3 * 60 * MIN), "3 hours ago");
  assert.equal(timeAgo(T0, T0 + 24 * 60 * MIN), "1 day ago");
  assert.equal(timeAgo(T0, T0 + 50 * 60 * MIN), "2 days ago");
});

test("a time a little ahead of now is just now", () => {
  assert.equal(timeAgo(T0 + 5_000, T0), "just now");
});

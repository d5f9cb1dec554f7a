// The pure modules of the Analysis screen (conditions in words, signals, performance rows,
// the price chart's geometry and markers, the routes), run by Node without a browser:
// node --test mobile/tests/

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  conditionWords,
  conditionsBySymbol,
  emptyPeriodText,
  nameOf,
  performanceGroups,
  performanceLine,
  signalHeard,
  signalWords,
  withSignals,
} from "../src/models/analysis.js";
import {
  CANDLES_MAX,
  axisTime,
  barIndexAt,
  barsOf,
  chartGeometry,
  chartSummary,
  tickStep,
  tradeMarkers,
} from "../src/models/analysis_chart.js";
import { TABS, parseRoute, routeHash, tabOf } from "../src/models/route.js";

// -- fixtures (shapes as the daemon answers) --------------------------------------------------

/** @param {object} [over] */
function condition(over = {}) {
  return {
    symbol: "EURUSD",
    timeframe: "M15",
    bar_time: "2026-11-23T08:30:00+00:00",
    evaluated_at: "2026-11-23T08:45:00+00:00",
    trend: "bullish",
    strength: 0.78,
    adx: 38.8942,
    volatility: "high",
    atr: 0.0012,
    atr_percentile: 82.0,
    liquidity: "normal",
    spread_ratio: 1.0,
    volume_ratio: 0.95,
    sessions: ["Tokyo", "London"],
    overlaps: ["Tokyo/London"],
    market_open: true,
    favourable: true,
    reasons: [
      "market open",
      "sessions: Tokyo, London",
      "liquidity normal (spread 1.00× typical, volume 0.95× typical)",
      "volatility high (ATR percentile 82)",
      "trend bullish (ADX 38.9)",
    ],
    ...over,
  };
}

const T0 = Date.parse("2026-11-23T08:00:00Z");
const MIN = 60_000;

/**
 * Bars of M1 from T0: `[open, high, low, close]` each.
 * @param {...[number, number, number, number]} ohlc
 */
function m1(...ohlc) {
  return ohlc.map(([open, high, low, close], i) => ({ time: T0 + i * MIN, open, high, low, close }));
}

/** @param {object} over */
function trade(over) {
  return {
    id: 1,
    symbol: "EURUSD",
    side: "buy",
    status: "open",
    entry_price: null,
    exit_price: null,
    open_time: null,
    close_time: null,
    ...over,
  };
}

// -- market conditions in words ---------------------------------------------------------------

test("a favourable condition says so, with its trend, volatility, liquidity, sessions and why", () => {
  const words = conditionWords(condition());
  assert.equal(words.verdict, "Favourable");
  assert.equal(words.tone, "good");
  assert.equal(words.facts, "Bullish trend · High volatility · Normal liquidity · Tokyo, London");
  assert.deepEqual(words.reasons.slice(0, 2), ["Market open", "Sessions: Tokyo, London"]);
  assert.equal(
    words.why,
    "Why: market open; sessions: Tokyo, London; liquidity normal (spread 1.00× typical, volume 0.95× typical); " +
      "volatility high (ATR percentile 82); trend bullish (ADX 38.9).",
  );
});

test("an unfavourable condition gives the checks that failed as its reasons", () => {
  const words = conditionWords(
    condition({
      favourable: false,
      liquidity: "thin",
      sessions: [],
      overlaps: [],
      reasons: ["no session active", "liquidity thin (spread 2.10× typical, volume 0.40× typical)"],
    }),
  );
  assert.equal(words.verdict, "Not favourable");
  assert.equal(words.tone, "bad");
  assert.equal(words.session, "No session open");
  assert.equal(words.liquidity, "Thin liquidity");
  assert.deepEqual(words.reasons, ["No session active", "Liquidity thin (spread 2.10× typical, volume 0.40× typical)"]);
  assert.equal(words.why, "Why: no session active; liquidity thin (spread 2.10× typical, volume 0.40× typical).");
});

test("a closed market says so instead of its sessions", () => {
  const words = conditionWords(condition({ market_open: false, sessions: [], favourable: false, reasons: ["market closed (forex weekend)"] }));
  assert.equal(words.session, "Market closed");
  assert.equal(words.facts, "Bullish trend · High volatility · Normal liquidity · Market closed");
  assert.equal(words.why, "Why: market closed (forex weekend).");
});

test("conditions are listed per symbol in watchlist order, timeframes shortest first, unanalysed symbols included", () => {
  const grouped = conditionsBySymbol(
    ["GBPUSD", "EURUSD", "Volatility 75 Index"],
    [condition({ timeframe: "H1" }), condition({ symbol: "XAUUSD" }), condition({ timeframe: "M5" }), condition({ symbol: "GBPUSD" })],
  );
  assert.deepEqual(
    grouped.map((g) => [g.symbol, g.conditions.map((c) => c.timeframe)]),
    [
      ["GBPUSD", ["M15"]],
      ["EURUSD", ["M5", "H1"]],
      ["Volatility 75 Index", []],
      ["XAUUSD", ["M15"]],
    ],
  );
});

// -- signals ----------------------------------------------------------------------------------

/** @param {object} over */
function signal(over) {
  return {
    strategy: "ma_rsi",
    symbol: "EURUSD",
    timeframe: "M15",
    side: "buy",
    entry: 1.08412,
    sl: 1.08212,
    tp: 1.08812,
    confidence: 0.72,
    reason: "MA cross up, RSI 58",
    bar_time: "2026-11-23T08:30:00Z",
    market_condition: {},
    ...over,
  };
}

test("the signals list renders the server's latest and the stream's newest, newest first, each once", () => {
  const fromServer = [
    signal({ bar_time: "2026-11-23T08:30:00Z", risk: { decision: "approved", client_order_id: "fxb-1", volume: 0.04 } }),
    signal({ bar_time: "2026-11-23T08:15:00Z", side: "sell", risk: { decision: "rejected", code: "daily_loss", message: "daily loss limit reached" } }),
  ];
  let list = withSignals([], fromServer);
  list = withSignals(list, [signal({ bar_time: "2026-11-23T08:45:00Z", symbol: "GBPUSD" })]);
  list = withSignals(list, [signal({ bar_time: "2026-11-23T08:30:00Z" })]); // heard again on the stream
  const rows = list.map(signalWords);
  assert.deepEqual(
    rows.map((r) => r.title),
    ["Buy GBPUSD · M15", "Buy EURUSD · M15", "Sell EURUSD · M15"],
  );
  assert.equal(rows[0].decision, null);
  assert.equal(rows[1].decision, "Approved by the risk rules: order sent for 0.04 lots.");
  assert.equal(rows[1].tone, "good");
  assert.equal(rows[2].decision, "Refused by the risk rules: daily loss limit reached (daily_loss).");
  assert.equal(rows[2].tone, "bad");
});

test("a signal reads with its prices, confidence, strategy and reason", () => {
  const words = signalWords(signal({}));
  assert.equal(words.prices, "at 1.08412 · SL 1.08212 · TP 1.08812 · 72% confidence");
  assert.equal(words.by, "ma_rsi");
  assert.equal(words.reason, "MA cross up, RSI 58");
});

test("the signals list ranks by when each came: an H4 signal emitted after an M5 one is first", () => {
  const h4 = signal({ timeframe: "H4", bar_time: "2026-11-23T04:00:00Z", time: "2026-11-23T08:00:00Z" });
  const m5 = signal({ timeframe: "M5", bar_time: "2026-11-23T07:50:00Z", time: "2026-11-23T07:55:00Z" });
  assert.deepEqual(
    withSignals([], [m5, h4]).map((s) => s.timeframe),
    ["H4", "M5"],
  );
  assert.deepEqual(
    withSignals(withSignals([], [h4]), [m5]).map((s) => s.timeframe),
    ["H4", "M5"],
  );
});

test("a signal without its emission time ranks by its bar time", () => {
  const older = signal({ bar_time: "2026-11-23T08:00:00Z" });
  const newer = signal({ timeframe: "M5", bar_time: "2026-11-23T07:50:00Z", time: "2026-11-23T08:05:00Z" });
  assert.deepEqual(
    withSignals([], [older, newer]).map((s) => s.timeframe),
    ["M5", "M15"],
  );
});

test("a decision heard on the stream goes to its signal listed without one", () => {
  const live = signal({ time: "2026-11-23T08:45:00Z" });
  let list = withSignals([], [signal({ bar_time: "2026-11-23T08:15:00Z", symbol: "GBPUSD" })]);
  list = withSignals(list, [/** @type {object} */ (signalHeard({ channel: "signals", data: live }))]);
  assert.equal(signalWords(list[0]).decision, null);
  const decided = { ...live, risk: { decision: "rejected", code: "max_positions", message: "3 positions open" } };
  const message = { channel: "signals", type: "decision", signal: decided };
  list = withSignals(list, [/** @type {object} */ (signalHeard(message))]);
  assert.equal(list.length, 2);
  assert.equal(signalWords(list[0]).decision, "Refused by the risk rules: 3 positions open (max_positions).");
  assert.equal(signalWords(list[0]).tone, "bad");
  // The signal heard again (a re-read) keeps its decision.
  list = withSignals(list, [live]);
  assert.equal(signalWords(list[0]).tone, "bad");
});

test("a stream message brings a signal, a decision's signal, or nothing", () => {
  const data = signal({});
  assert.equal(signalHeard({ channel: "signals", data }), data);
  const decided = { ...data, risk: { decision: "approved", client_order_id: "fxb-2", volume: 0.1 } };
  assert.equal(signalHeard({ channel: "signals", type: "decision", signal: decided }), decided);
  assert.equal(signalHeard({ channel: "signals", error: { code: "unknown_action" } }), null);
  assert.equal(signalHeard({ channel: "signals", type: "decision" }), null);
  assert.equal(signalHeard(null), null);
});

test("the signals list keeps the newest fifty", () => {
  const many = Array.from({ length: 60 }, (_, i) => signal({ bar_time: new Date(T0 + i * MIN).toISOString() }));
  const list = withSignals([], many);
  assert.equal(list.length, 50);
  assert.equal(list[0].bar_time, new Date(T0 + 59 * MIN).toISOString());
  assert.equal(list[49].bar_time, new Date(T0 + 10 * MIN).toISOString());
});

// -- performance ------------------------------------------------------------------------------

/** @param {object} over */
function perf(over) {
  return {
    strategy: null,
    symbol: null,
    trades_count: 4,
    wins: 3,
    losses: 1,
    win_rate: 0.75,
    profit_factor: 2.5,
    expectancy: 3.1,
    net_profit: 12.4,
    max_drawdown_pct: 1.234,
    sharpe: null,
    ...over,
  };
}

test("performance rows are grouped overall, by strategy, by symbol and by both, best net first", () => {
  const groups = performanceGroups([
    perf({ strategy: "ma_rsi", net_profit: -3 }),
    perf({}),
    perf({ symbol: "EURUSD", net_profit: 5 }),
    perf({ strategy: "manual", net_profit: 15.4 }),
    perf({ symbol: "GBPUSD", net_profit: 7.4 }),
    perf({ strategy: "manual", symbol: "EURUSD", net_profit: 5 }),
  ]);
  assert.equal(groups.overall?.net_profit, 12.4);
  assert.deepEqual(groups.byStrategy.map(nameOf), ["manual", "ma_rsi"]);
  assert.deepEqual(groups.bySymbol.map(nameOf), ["GBPUSD", "EURUSD"]);
  assert.deepEqual(groups.byBoth.map(nameOf), ["manual · EURUSD"]);
});

test("a performance row reads as percentages, a profit factor and a signed net", () => {
  assert.deepEqual(performanceLine(perf({ strategy: "manual", net_profit: 1234.5 })), {
    name: "manual",
    trades: "4",
    winRate: "75%",
    profitFactor: "2.50",
    drawdown: "1.2%",
    net: { text: "+1,234.50", tone: "profit" },
  });
  const losing = performanceLine(perf({ net_profit: -0.456, win_rate: 0, profit_factor: 0 }));
  assert.deepEqual([losing.net, losing.winRate, losing.profitFactor], [{ text: "-0.46", tone: "loss" }, "0%", "0.00"]);
});

test("figures without a value yet are dashes, and no drawdown is 0.0%, not -0.0%", () => {
  const line = performanceLine(perf({ trades_count: 0, wins: 0, losses: 0, win_rate: null, profit_factor: null, net_profit: 0, max_drawdown_pct: -0 }));
  assert.deepEqual([line.winRate, line.profitFactor, line.drawdown, line.net], ["—", "—", "0.0%", { text: "0.00", tone: "flat" }]);
  assert.equal(line.name, "All");
});

test("an empty period says which, in words", () => {
  assert.equal(emptyPeriodText("daily"), "No closed trades today yet.");
  assert.equal(emptyPeriodText("weekly"), "No closed trades this week yet.");
  assert.equal(emptyPeriodText("monthly"), "No closed trades this month yet.");
});

// -- the chart: bars and markers ----------------------------------------------------------------

test("bars are read with their times in ms, malformed ones left out", () => {
  const bars = barsOf({
    items: [
      { time: "2026-11-23T08:00:00Z", open: 1.1, high: 1.2, low: 1.0, close: 1.15 },
      { time: "not a time", open: 1, high: 1, low: 1, close: 1 },
      { time: "2026-11-23T08:01:00Z", open: 1.1, high: null, low: 1.0, close: 1.15 },
    ],
  });
  assert.deepEqual(bars, [{ time: T0, open: 1.1, high: 1.2, low: 1.0, close: 1.15 }]);
  assert.deepEqual(barsOf(null), []);
});

test("a time is on the bar whose period holds it; a gap goes to the bar before; outside is -1", () => {
  const bars = [{ time: T0 }, { time: T0 + MIN }, { time: T0 + 5 * MIN }].map((b) => ({ ...b, open: 1, high: 1, low: 1, close: 1 }));
  assert.equal(barIndexAt(bars, T0, MIN), 0);
  assert.equal(barIndexAt(bars, T0 + MIN - 1, MIN), 0);
  assert.equal(barIndexAt(bars, T0 + MIN, MIN), 1);
  assert.equal(barIndexAt(bars, T0 + 3 * MIN, MIN), 1); // in the gap
  assert.equal(barIndexAt(bars, T0 + 5 * MIN + 59_999, MIN), 2);
  assert.equal(barIndexAt(bars, T0 + 6 * MIN, MIN), -1); // after the last bar's period
  assert.equal(barIndexAt(bars, T0 - 1, MIN), -1);
  assert.equal(barIndexAt([], T0, MIN), -1);
});

test("a closed trade marks its entry and its exit, an open one its entry, each on its bar at its price", () => {
  const bars = m1([1.1, 1.2, 1.0, 1.15], [1.15, 1.25, 1.1, 1.2], [1.2, 1.3, 1.15, 1.25]);
  const { markers, outside } = tradeMarkers(
    [
      trade({ id: 7, status: "closed", entry_price: 1.12, open_time: "2026-11-23T08:00:30Z", exit_price: 1.22, close_time: "2026-11-23T08:02:10.5Z" }),
      trade({ id: 8, side: "sell", entry_price: 1.18, open_time: "2026-11-23T08:01:00Z" }),
      trade({ id: 9, status: "rejected" }),
    ],
    bars,
    60,
  );
  assert.equal(outside, 0);
  assert.deepEqual(
    markers.map((m) => [m.tradeId, m.kind, m.side, m.price, m.bar]),
    [
      [7, "entry", "buy", 1.12, 0],
      [8, "entry", "sell", 1.18, 1],
      [7, "exit", "buy", 1.22, 2],
    ],
  );
});

test("entries and exits outside the bars are counted, not drawn", () => {
  const bars = m1([1.1, 1.2, 1.0, 1.15]);
  const { markers, outside } = tradeMarkers(
    [trade({ status: "closed", entry_price: 1.1, open_time: "2026-11-23T07:00:00Z", exit_price: 1.12, close_time: "2026-11-23T08:00:59Z" })],
    bars,
    60,
  );
  assert.deepEqual(markers.map((m) => m.kind), ["exit"]);
  assert.equal(outside, 1);
});

// -- the chart: geometry ------------------------------------------------------------------------

test("the price scale holds every bar and marker; a higher price is higher up", () => {
  const bars = m1([1.1, 1.2, 1.0, 1.15], [1.15, 1.25, 1.1, 1.2]);
  const { markers } = tradeMarkers([trade({ entry_price: 1.3, open_time: "2026-11-23T08:01:00Z" })], bars, 60);
  const g = chartGeometry(bars, markers, { width: 300, height: 200, axis: 50, top: 10, bottom: 20 });
  assert.ok(g.min < 1.0 && g.max > 1.3, `${g.min}..${g.max}`);
  for (const c of g.candles) assert.ok(c.high < c.low, "the high is drawn above the low");
  assert.ok(g.markers[0].y >= g.plot.top && g.markers[0].y < g.candles[1].high, "the marker above the bar's high");
  assert.equal(g.style, "candles");
  assert.deepEqual([g.candles[0].up, g.candles[1].up], [true, true]);
});

test("bars sit side by side in the plot, and a marker is centred on its bar at its price's height", () => {
  const bars = m1([1, 2, 0.5, 1.5], [1.5, 1.6, 1.0, 1.1], [1.1, 1.3, 0.9, 1.2], [1.2, 1.4, 1.1, 1.3]);
  const { markers } = tradeMarkers([trade({ entry_price: 1.25, open_time: "2026-11-23T08:02:20Z" })], bars, 60);
  const g = chartGeometry(bars, markers, { width: 210, height: 110, axis: 10, top: 5, bottom: 5 });
  // plot: x 2..200 (198 wide, 49.5 a bar), y 5..105
  assert.equal(g.slot, 49.5);
  assert.deepEqual(
    g.candles.map((c) => c.x),
    [26.75, 76.25, 125.75, 175.25],
  );
  assert.equal(g.markers[0].x, g.candles[2].x);
  const expected = 5 + ((g.max - 1.25) / (g.max - g.min)) * 100;
  assert.ok(Math.abs(g.markers[0].y - expected) < 1e-9);
  assert.equal(g.candles[1].up, false);
});

test("many bars are drawn as a line of the closes", () => {
  const bars = Array.from({ length: CANDLES_MAX + 1 }, (_, i) => ({ time: T0 + i * MIN, open: 1, high: 1.1 + i / 1000, low: 0.9, close: 1 + i / 1000 }));
  const g = chartGeometry(bars, []);
  assert.equal(g.style, "line");
  assert.match(g.line, /^M[\d.]+ [\d.]+( L[\d.]+ [\d.]+){150}$/);
});

test("a flat series still gets a scale, and no bars no line", () => {
  const g = chartGeometry(m1([1.5, 1.5, 1.5, 1.5]), []);
  assert.ok(g.max > 1.5 && g.min < 1.5);
  assert.equal(chartGeometry([], []).line, "");
});

test("price labels are round steps inside the scale", () => {
  assert.equal(tickStep(0.004), 0.001);
  assert.equal(tickStep(0.0042), 0.002);
  assert.equal(tickStep(0.9), 0.5);
  assert.equal(tickStep(130), 50);
  const g = chartGeometry(m1([1.0841, 1.0859, 1.0838, 1.0852]), []);
  assert.ok(g.ticks.length >= 2, JSON.stringify(g.ticks));
  for (const t of g.ticks) {
    assert.ok(t.price >= g.min && t.price <= g.max);
    assert.ok(t.y >= g.plot.top && t.y <= g.plot.bottom);
    assert.ok(String(t.price).length <= 6, `${t.price} is round`);
  }
});

test("the chart's summary says the range, the prices and the marks in words", () => {
  const bars = m1([1.1, 1.2, 1.0, 1.15], [1.15, 1.25, 1.1, 1.2]);
  const { markers, outside } = tradeMarkers(
    [
      trade({ status: "closed", entry_price: 1.12, open_time: "2026-11-23T08:00:10Z", exit_price: 1.19, close_time: "2026-11-23T08:01:10Z" }),
      trade({ id: 2, side: "sell", entry_price: 1.3, open_time: "2026-11-22T08:00:00Z" }),
    ],
    bars,
    60,
  );
  assert.equal(
    chartSummary({ symbol: "EURUSD", timeframe: "M1", bars, markers, outside, digits: 5 }),
    "EURUSD M1, 2 bars from 11-23 08:00 to 11-23 08:01 UTC: low 1.00000, high 1.25000, last close 1.20000. " +
      "Marked: 1 buy entry, 0 sell entries, 1 exit. 1 entry or exit of recent trades outside this range.",
  );
  assert.equal(chartSummary({ symbol: "EURUSD", timeframe: "H1", bars: [], markers: [], outside: 0 }), "EURUSD H1: no bars to show.");
  assert.match(chartSummary({ symbol: "X", timeframe: "M1", bars, markers: [], outside: 0 }), /No trade of the bot on these bars\.$/);
});

test("axis times are UTC, the day alone for daily bars", () => {
  assert.equal(axisTime(Date.parse("2026-11-23T08:05:00Z"), 300), "11-23 08:05");
  assert.equal(axisTime(Date.parse("2026-11-22T22:00:00Z"), 86_400), "2026-11-22");
});

// -- routes -------------------------------------------------------------------------------------

test("Analysis has its tab, between Trades and Control", () => {
  assert.deepEqual(TABS.map((t) => t.name), ["dashboard", "positions", "trades", "analysis", "control"]);
  assert.deepEqual(parseRoute("#/analysis"), { name: "analysis" });
  assert.equal(routeHash({ name: "analysis" }), "#/analysis");
  assert.equal(tabOf({ name: "analysis" }), "analysis");
});

test("a symbol's analysis has its own hash, percent-encoded, under the Analysis tab", () => {
  assert.deepEqual(parseRoute("#/analysis/EURUSD"), { name: "symbol", symbol: "EURUSD" });
  assert.equal(routeHash({ name: "symbol", symbol: "Volatility 75 Index" }), "#/analysis/Volatility%2075%20Index");
  assert.deepEqual(parseRoute("#/analysis/Volatility%2075%20Index"), { name: "symbol", symbol: "Volatility 75 Index" });
  assert.equal(tabOf({ name: "symbol", symbol: "EURUSD" }), "analysis");
});

test("a symbol hash that cannot be a symbol opens the list", () => {
  assert.deepEqual(parseRoute("#/analysis/%E0%A4%A"), { name: "analysis" }); // a broken escape
  assert.deepEqual(parseRoute("#/analysis/EUR%00USD"), { name: "analysis" });
  assert.deepEqual(parseRoute(`#/analysis/${"X".repeat(33)}`), { name: "analysis" });
});

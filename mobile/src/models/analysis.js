/**
 * The pure parts of the Analysis screen: market conditions in words, the signals list, and
 * the performance rows grouped for phone-sized tables.
 *
 * Rules:
 * - A condition says what the detector saw (trend, volatility, liquidity, sessions) in a few
 *   words, and why the market is favourable or not with the figures: its `reasons` are the
 *   checks that failed when it is not, and the facts that passed them when it is
 *   (forexbot/market_condition/detector.py), e.g. "volatility high (ATR percentile 82)".
 * - Conditions are listed in watchlist order, one entry per symbol with its timeframes
 *   shortest first; a watched symbol without a condition yet is listed too, as "not analysed
 *   yet" (the detector needs enough closed bars first).
 * - Signals are newest first, at most `SIGNALS_KEPT`, a signal heard twice (over HTTP and on
 *   the stream) listed once, with the risk decision if either copy has it.
 * - Performance rows (`GET /api/system/performance`) come overall (strategy and symbol
 *   null), per strategy, per symbol and per both; each group is sorted by net profit, best
 *   first, then by name.
 *
 * @typedef {object} Condition an item of `GET /api/market/conditions`
 * @property {string} symbol
 * @property {string} timeframe
 * @property {string} bar_time
 * @property {string} trend bullish, bearish, ranging
 * @property {number | null} adx
 * @property {string} volatility low, normal, high
 * @property {number | null} atr_percentile
 * @property {string} liquidity thin, normal, deep
 * @property {string[]} sessions
 * @property {string[]} overlaps
 * @property {boolean} market_open
 * @property {boolean} favourable
 * @property {string[]} reasons
 *
 * @typedef {object} ConditionWords
 * @property {string} verdict "Favourable" or "Not favourable"
 * @property {"good" | "bad"} tone
 * @property {string} trend e.g. "Bullish trend"
 * @property {string} volatility e.g. "High volatility"
 * @property {string} liquidity e.g. "Normal liquidity"
 * @property {string} session e.g. "Tokyo, London", "No session open", "Market closed"
 * @property {string} facts the four above in one line
 * @property {string[]} reasons each a sentence start, e.g. "Liquidity thin (spread 2.10× typical, …)"
 * @property {string} why the reasons in one line, e.g. "Why: no session active; liquidity thin (…)."
 *
 * @typedef {object} PerformanceRow an item of `GET /api/system/performance`
 * @property {string | null} strategy
 * @property {string | null} symbol
 * @property {number} trades_count
 * @property {number} wins
 * @property {number} losses
 * @property {number | null} win_rate a fraction, 0–1
 * @property {number | null} profit_factor
 * @property {number | null} expectancy
 * @property {number} net_profit
 * @property {number | null} max_drawdown_pct
 * @property {number | null} sharpe
 *
 * @typedef {object} PerformanceLine one row of a table, as text
 * @property {string} name
 * @property {string} trades
 * @property {string} winRate e.g. "58%"
 * @property {string} profitFactor e.g. "1.42"
 * @property {string} drawdown e.g. "3.1%"
 * @property {{text: string, tone: "profit" | "loss" | "flat" | "unknown"}} net signed, no currency
 */

/** Seconds of each timeframe the API names (forexbot/domain/market.py's Timeframe). */
export const TIMEFRAME_SECONDS = /** @type {const} */ ({
  M1: 60,
  M5: 300,
  M15: 900,
  M30: 1800,
  H1: 3600,
  H4: 14_400,
  D1: 86_400,
});

/** How many signals the list keeps. */
export const SIGNALS_KEPT = 50;

/** The performance periods the screen offers, with the words of an empty one. */
export const PERIODS = /** @type {const} */ ([
  { value: "daily", label: "Today", empty: "No closed trades today yet." },
  { value: "weekly", label: "This week", empty: "No closed trades this week yet." },
  { value: "monthly", label: "This month", empty: "No closed trades this month yet." },
]);

/**
 * A timeframe's length in seconds; unknown names sort last.
 * @param {string} timeframe
 */
export function timeframeSeconds(timeframe) {
  return TIMEFRAME_SECONDS[/** @type {keyof typeof TIMEFRAME_SECONDS} */ (timeframe)] ?? Number.MAX_SAFE_INTEGER;
}

/** @param {string} text */
function capitalised(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

/**
 * The detector's reasons as sentence starts ("market open" → "Market open").
 * @param {unknown} reasons
 * @returns {string[]}
 */
export function reasonSentences(reasons) {
  return Array.isArray(reasons) ? reasons.map((r) => capitalised(String(r))) : [];
}

/**
 * A condition in words.
 * @param {Condition} c
 * @returns {ConditionWords}
 */
export function conditionWords(c) {
  let session;
  if (!c.market_open) session = "Market closed";
  else if (!c.sessions?.length) session = "No session open";
  else session = c.sessions.join(", ");
  const trend = `${capitalised(c.trend)} trend`;
  const volatility = `${capitalised(c.volatility)} volatility`;
  const liquidity = `${capitalised(c.liquidity)} liquidity`;
  const listed = (c.reasons ?? []).join("; ");
  return {
    verdict: c.favourable ? "Favourable" : "Not favourable",
    tone: c.favourable ? "good" : "bad",
    trend,
    volatility,
    liquidity,
    session,
    facts: [trend, volatility, liquidity, session].join(" · "),
    reasons: reasonSentences(c.reasons),
    why: listed ? `Why: ${listed}.` : "Why: the detector gave no reason.",
  };
}

/**
 * The conditions grouped per symbol: the watchlist's order first (symbols without a
 * condition included, with none), then any other symbol the detector reported, by name;
 * each symbol's conditions shortest timeframe first.
 * @param {string[]} watchlist
 * @param {Condition[]} conditions
 * @returns {{symbol: string, conditions: Condition[]}[]}
 */
export function conditionsBySymbol(watchlist, conditions) {
  /** @type {Map<string, Condition[]>} */
  const by = new Map(watchlist.map((s) => [s, []]));
  const others = [...new Set(conditions.map((c) => c.symbol).filter((s) => !by.has(s)))].sort();
  for (const s of others) by.set(s, []);
  for (const c of conditions) by.get(c.symbol)?.push(c);
  return [...by].map(([symbol, list]) => ({
    symbol,
    conditions: [...list].sort((a, b) => timeframeSeconds(a.timeframe) - timeframeSeconds(b.timeframe)),
  }));
}

/**
 * Where a signal is unique: one strategy, symbol, timeframe, bar and side.
 * @param {any} s a signal (`/ws/signals` message's `data`)
 */
export function signalKey(s) {
  return [s?.strategy, s?.symbol, s?.timeframe, s?.bar_time, s?.side].join("|");
}

/**
 * What a `/ws/signals` message brings to the list: a signal (its `data`), or the risk
 * manager's decision on one (`{"type": "decision", "signal"}`: the signal's whole item with
 * its `risk`, for {@link withSignals} to merge); null for anything else (an error).
 * @param {any} message
 * @returns {object | null}
 */
export function signalHeard(message) {
  if (!message || typeof message !== "object" || message.error) return null;
  const heard = message.type === "decision" ? message.signal : message.data;
  return heard && typeof heard === "object" ? heard : null;
}

/**
 * When a signal came, ms since the epoch: `time`, when the strategy emitted it (the close of
 * its bar); `bar_time` (the bar's open) from a server that does not send `time`; 0 if neither.
 * @param {any} s
 */
export function signalTime(s) {
  return Date.parse(s?.time) || Date.parse(s?.bar_time) || 0;
}

/**
 * The list with `signals` added: newest first (by when they came, {@link signalTime}), each
 * once, at most `kept`. A signal that comes with its risk decision (a `GET /api/signals`
 * item, or the `signal` of a `/ws/signals` decision message) gives its decision to the copy
 * already listed.
 * @param {any[]} list
 * @param {any[]} signals
 * @param {number} [kept]
 * @returns {any[]}
 */
export function withSignals(list, signals, kept = SIGNALS_KEPT) {
  /** @type {Map<string, any>} */
  const by = new Map();
  for (const s of [...signals, ...list]) {
    if (!s || typeof s !== "object") continue;
    const key = signalKey(s);
    const known = by.get(key);
    if (!known) by.set(key, s);
    else if (!known.risk && s.risk) by.set(key, { ...known, risk: s.risk }); // the stream's copy has no decision
  }
  // A stable sort: signals of one time keep the order they came in.
  return [...by.values()].sort((a, b) => signalTime(b) - signalTime(a)).slice(0, kept);
}

/**
 * A signal in words, with the risk manager's decision when it is known (`GET /api/signals`
 * items carry it as `risk`; a signal just heard on `/ws/signals` not yet: its decision
 * follows in a message of its own).
 * @param {any} s `{"strategy", "symbol", "timeframe", "side", "entry", "sl", "tp", "confidence", "reason", "bar_time", "risk"?}`
 * @returns {{title: string, prices: string, reason: string, by: string, decision: string | null, tone: "good" | "bad" | null}}
 */
export function signalWords(s) {
  const side = s.side === "sell" ? "Sell" : s.side === "buy" ? "Buy" : capitalised(String(s.side ?? ""));
  const price = (/** @type {unknown} */ v) => (typeof v === "number" && Number.isFinite(v) ? String(v) : null);
  const prices = [
    price(s.entry) ? `at ${price(s.entry)}` : "at market",
    price(s.sl) ? `SL ${price(s.sl)}` : "no SL",
    price(s.tp) ? `TP ${price(s.tp)}` : "no TP",
  ];
  if (typeof s.confidence === "number" && Number.isFinite(s.confidence)) prices.push(`${Math.round(s.confidence * 100)}% confidence`);
  const risk = s.risk && typeof s.risk === "object" ? s.risk : null;
  let decision = null;
  if (risk?.decision === "approved") {
    const volume = typeof risk.volume === "number" ? ` for ${risk.volume} lots` : "";
    decision = `Approved by the risk rules: order sent${volume}.`;
  } else if (risk?.decision === "rejected") {
    const why = [risk.message, risk.code && `(${risk.code})`].filter(Boolean).join(" ");
    decision = `Refused by the risk rules${why ? `: ${why}` : ""}.`;
  }
  return {
    title: `${side} ${s.symbol} · ${s.timeframe}`,
    prices: prices.join(" · "),
    reason: s.reason ? capitalised(String(s.reason)) : "No reason given.",
    by: String(s.strategy ?? ""),
    decision,
    tone: risk?.decision === "approved" ? "good" : risk?.decision === "rejected" ? "bad" : null,
  };
}

/**
 * The performance rows in the groups the screen shows.
 * @param {PerformanceRow[]} items
 * @returns {{overall: PerformanceRow | null, byStrategy: PerformanceRow[], bySymbol: PerformanceRow[], byBoth: PerformanceRow[]}}
 */
export function performanceGroups(items) {
  /** @param {PerformanceRow} a @param {PerformanceRow} b */
  const order = (a, b) => b.net_profit - a.net_profit || nameOf(a).localeCompare(nameOf(b));
  const rows = Array.isArray(items) ? items : [];
  return {
    overall: rows.find((r) => r.strategy === null && r.symbol === null) ?? null,
    byStrategy: rows.filter((r) => r.strategy !== null && r.symbol === null).sort(order),
    bySymbol: rows.filter((r) => r.strategy === null && r.symbol !== null).sort(order),
    byBoth: rows.filter((r) => r.strategy !== null && r.symbol !== null).sort(order),
  };
}

/**
 * A row's name: its strategy, symbol, both ("ma_rsi · EURUSD") or "All".
 * @param {PerformanceRow} row
 */
export function nameOf(row) {
  return [row.strategy, row.symbol].filter((part) => part !== null && part !== undefined).join(" · ") || "All";
}

/**
 * A row as the table shows it: percentages whole or with one decimal, a dash for a figure
 * that has no value yet (a win rate without trades, a profit factor without losses).
 * @param {PerformanceRow} row
 * @returns {PerformanceLine}
 */
export function performanceLine(row) {
  const finite = (/** @type {unknown} */ v) => typeof v === "number" && Number.isFinite(v);
  const net = row.net_profit;
  const rounded = finite(net) ? Math.round(net * 100) / 100 : NaN;
  const amount = Number.isNaN(rounded)
    ? { text: "—", tone: /** @type {const} */ ("unknown") }
    : rounded === 0
      ? { text: "0.00", tone: /** @type {const} */ ("flat") }
      : {
          text: `${rounded > 0 ? "+" : "-"}${NET.format(Math.abs(rounded))}`,
          tone: rounded > 0 ? /** @type {const} */ ("profit") : /** @type {const} */ ("loss"),
        };
  return {
    name: nameOf(row),
    trades: String(row.trades_count),
    winRate: finite(row.win_rate) ? `${Math.round(/** @type {number} */ (row.win_rate) * 100)}%` : "—",
    profitFactor: finite(row.profit_factor) ? /** @type {number} */ (row.profit_factor).toFixed(2) : "—",
    drawdown: finite(row.max_drawdown_pct) ? `${(Math.abs(/** @type {number} */ (row.max_drawdown_pct)) + 0).toFixed(1)}%` : "—",
    net: amount,
  };
}

const NET = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/**
 * The words for a period without closed trades ("No closed trades this week yet.").
 * @param {string} period daily, weekly, monthly
 */
export function emptyPeriodText(period) {
  return PERIODS.find((p) => p.value === period)?.empty ?? "No closed trades in this period yet.";
}

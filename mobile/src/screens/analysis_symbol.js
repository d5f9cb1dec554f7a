/**
 * A symbol's analysis (`#/analysis/{symbol}`): a price chart of its recent bars with the
 * bot's entries and exits marked (widgets/price_chart.js), a timeframe switch, and per
 * timeframe the detector analyses it on, the market condition with its reasons, the
 * indicators on the last closed bar and the support and resistance levels.
 *
 * Where the data comes from:
 * - bars: `GET /api/market/data/{symbol}?timeframe=…&limit=100&source=terminal` (any
 *   timeframe, the forming bar included); when the terminal does not answer (503), the
 *   stored closed bars (`source=db`, the timeframes the daemon stores), saying so;
 * - the bot's trades: `GET /api/trades?symbol=…&limit=200` (entries at `open_time` and
 *   `entry_price`, exits at `close_time` and `exit_price`);
 * - the analysis: `GET /api/market/analysis/{symbol}` (404: the symbol is not watched).
 *
 * Everything is re-read every `REREAD_MS` while the screen is shown, and the chart at once
 * on a `/ws/trades` event of this symbol (an entry or exit appears without waiting). When
 * that stream drops or a read fails, the last chart stays under the stale banner.
 */

import { TIMEFRAME_SECONDS, reasonSentences, timeframeSeconds } from "../models/analysis.js";
import { barsOf, tradeMarkers } from "../models/analysis_chart.js";
import { ApiError, SessionEnded } from "../models/errors.js";
import { watchNetwork } from "../services/network.js";
import { LiveSocket } from "../services/ws.js";
import { h } from "../widgets/dom.js";
import { formatNumber } from "../widgets/format.js";
import { priceChart } from "../widgets/price_chart.js";
import { conditionBlock } from "./analysis_conditions.js";
import { topbar } from "./topbar.js";

/** The timeframes the chart offers (the API's, without M30: six buttons fit a phone). */
export const CHART_TIMEFRAMES = ["M1", "M5", "M15", "H1", "H4", "D1"];
const CHART_BARS = 100;
const TRADES_READ = 200;
const REREAD_MS = 10_000;

/**
 * @param {HTMLElement} root
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {import("../services/auth.js").Auth} options.auth
 * @param {string} options.symbol
 * @returns {{destroy(): void}}
 */
export function showSymbolAnalysis(root, { api, auth, symbol }) {
  const path = encodeURIComponent(symbol);
  const back = h("a", { href: "#/analysis", class: "back", "data-testid": "symbol-back", "aria-label": "Back to analysis" }, "‹");
  const stale = h("p", { class: "stale", role: "status", "data-testid": "symbol-stale", hidden: true });
  const error = h("p", { class: "error", role: "alert", "data-testid": "symbol-error", hidden: true });
  const chart = priceChart();
  const chartStatus = h("p", { class: "hint", role: "status", "data-testid": "chart-status" }, "Reading the bars…");
  const chartError = h("p", { class: "error", role: "alert", "data-testid": "chart-error", hidden: true });
  /** @type {string | null} */
  let timeframe = null;
  const buttons = CHART_TIMEFRAMES.map((tf) =>
    h("button", { type: "button", class: "segment", "aria-pressed": "false", "data-timeframe": tf, "data-testid": `chart-tf-${tf}` }, tf),
  );
  const analysis = h("div", { class: "symbol-analysis", "data-testid": "symbol-analysis" }, h("p", { class: "hint" }, "Reading the analysis…"));
  const screen = h(
    "section",
    { class: "screen screen-symbol", "aria-labelledby": "symbol-title" },
    topbar(symbol, "symbol-title", auth, back),
    stale,
    error,
    h(
      "section",
      { class: "card analysis-card", "aria-labelledby": "chart-title" },
      h("h2", { id: "chart-title" }, "Price and the bot's trades"),
      h("div", { class: "segments", role: "group", "aria-label": "Timeframe" }, ...buttons),
      chart.el,
      chartStatus,
      chartError,
    ),
    analysis,
  );
  root.append(screen);

  /** @type {number | undefined} */
  let digits;
  let stopped = false;
  let chartFailed = false;
  let lastRead = new Date();
  const updateStale = () => {
    const down = chartFailed || socket.stale;
    if (down && stale.hidden) stale.textContent = `Live data lost: the chart is from ${lastRead.toLocaleTimeString()}. Reconnecting…`;
    stale.hidden = !down;
    screen.classList.toggle("is-stale", down);
  };

  /** @param {string} tf */
  const readBars = async (tf) => {
    const query = `/api/market/data/${path}?timeframe=${tf}&limit=${CHART_BARS}`;
    try {
      return { page: await api.get(`${query}&source=terminal`), note: null };
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 503) throw e;
      return { page: await api.get(query), note: `The terminal is not answering (${e.message}): these are the stored closed bars.` };
    }
  };

  let generation = 0;
  /** @type {Promise<void> | null} */
  let drawing = null;
  const drawChart = () => {
    if (!timeframe) return Promise.resolve();
    const tf = timeframe;
    const mine = generation;
    return (drawing ??= Promise.all([readBars(tf), api.get(`/api/trades?symbol=${path}&limit=${TRADES_READ}`)])
      .then(([{ page, note }, trades]) => {
        if (stopped || mine !== generation) return;
        const bars = barsOf(page);
        const { markers, outside } = tradeMarkers(trades.items, bars, TIMEFRAME_SECONDS[/** @type {keyof typeof TIMEFRAME_SECONDS} */ (tf)]);
        chart.draw({ symbol, timeframe: tf, bars, markers, outside, digits });
        chartFailed = false;
        lastRead = new Date();
        chartError.hidden = true;
        chartStatus.textContent = bars.length ? (note ?? "") : `No ${tf} bars of ${symbol} yet.${note ? ` ${note}` : ""}`;
        chartStatus.hidden = !chartStatus.textContent;
      })
      .catch((e) => {
        if (e instanceof SessionEnded || stopped || mine !== generation) return;
        chartFailed = true;
        chartError.textContent = `Could not read the chart: ${e.message}`;
        chartError.hidden = false;
        chartStatus.hidden = true;
      })
      .finally(() => {
        drawing = null;
        if (!stopped && mine === generation) updateStale();
        else if (!stopped) drawChart(); // the timeframe changed meanwhile
      }));
  };

  /** @param {string} tf */
  const choose = (tf) => {
    if (tf === timeframe) return;
    timeframe = tf;
    generation += 1;
    for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.timeframe === tf));
    chartStatus.textContent = "Reading the bars…";
    chartStatus.hidden = false;
    if (!drawing) drawChart();
  };
  for (const b of buttons) {
    b.addEventListener("click", () => {
      picked = true;
      choose(b.dataset.timeframe ?? "M15");
    });
  }

  /** @param {any} answer `GET /api/market/analysis/{symbol}` */
  const renderAnalysis = (answer) => {
    const timeframes = Object.entries(answer.timeframes ?? {}).sort(([a], [b]) => timeframeSeconds(a) - timeframeSeconds(b));
    if (!timeframes.length) {
      analysis.replaceChildren(
        h("p", { class: "card hint", "data-testid": "symbol-not-analysed" }, `No strategy runs, so ${symbol} is analysed on no timeframe.`),
      );
      return timeframes;
    }
    analysis.replaceChildren(...timeframes.map(([tf, a]) => timeframeCard(symbol, tf, a, digits)));
    return timeframes;
  };

  const readAnalysis = async () => {
    try {
      const answer = await api.get(`/api/market/analysis/${path}`);
      if (stopped) return null;
      error.hidden = true;
      return renderAnalysis(answer);
    } catch (e) {
      if (e instanceof SessionEnded || stopped) return null;
      error.textContent = `Could not read the analysis of ${symbol}: ${/** @type {Error} */ (e).message}`;
      error.hidden = false;
      analysis.replaceChildren();
      return null;
    }
  };

  const socket = new LiveSocket({
    path: "/ws/trades",
    token: () => auth.accessToken(),
    beforeReconnect: drawChart,
    onMessage: (message) => {
      if (message?.data?.symbol === symbol) drawChart();
    },
    onStale: updateStale,
  });

  /** Whether the start read the analysis (opened offline, it did not: the start is redone). */
  let started = false;
  let picked = false; // a timeframe tapped: the start no longer chooses one
  /** @type {Promise<void> | null} the start under way (the network returning twice makes one) */
  let starting = null;
  const start = () =>
    (starting ??= (async () => {
      try {
        const watched = await api.get("/api/market/symbols");
        const spec = watched.items.find((/** @type {any} */ s) => s.name === symbol);
        if (spec && Number.isInteger(spec.digits)) digits = spec.digits;
      } catch (e) {
        if (e instanceof SessionEnded) return; // prices are then shown with the digits sent
      }
      const analysed = await readAnalysis();
      if (stopped) return;
      started = analysed !== null;
      // The chart opens on the shortest timeframe a strategy runs on, else M15.
      const first = (analysed ?? []).map(([tf]) => tf).find((tf) => CHART_TIMEFRAMES.includes(tf));
      choose(picked && timeframe ? timeframe : first ?? timeframe ?? "M15");
    })().finally(() => {
      starting = null;
    }));

  const timer = setInterval(() => {
    if (document.visibilityState !== "visible") return;
    drawChart();
    readAnalysis();
  }, REREAD_MS);
  // The network back: the stream, the chart and the analysis, read again (all of the start
  // when it could not read the analysis, e.g. opened offline).
  const online = () => {
    socket.retryNow();
    if (started) readAnalysis();
    (started ? Promise.resolve() : start()).then(() => {
      if (!stopped) drawChart();
    });
  };
  const offline = () => socket.drop();
  const stopWatching = watchNetwork({ online, offline });
  start();
  socket.start();

  return {
    destroy() {
      stopped = true;
      clearInterval(timer);
      stopWatching();
      socket.stop();
    },
  };
}

/**
 * The detector's reasons, one a line.
 * @param {unknown} reasons
 */
function reasonList(reasons) {
  const words = reasonSentences(reasons);
  return h(
    "div",
    { class: "condition-why" },
    h("p", {}, "Why:"),
    h("ul", { class: "reasons" }, ...words.map((r) => h("li", { "data-testid": "symbol-reason" }, r))),
  );
}

/**
 * A timeframe's analysis: the condition, the indicators, the levels.
 * @param {string} symbol
 * @param {string} tf
 * @param {any} a `{"condition", "bars", "indicators", "levels"}`
 * @param {number | undefined} digits
 */
function timeframeCard(symbol, tf, a, digits) {
  /** @param {unknown} v @param {number} [places] */
  const num = (v, places) => (typeof v === "number" && Number.isFinite(v) ? (places === undefined ? formatNumber(v) : v.toFixed(places)) : "—");
  const price = (/** @type {unknown} */ v) => num(v, digits);
  const ind = a.indicators ?? {};
  const hasIndicators = Object.keys(ind).length > 0;
  /** @param {string} label @param {string} value */
  const figure = (label, value) => h("div", { class: "figure" }, h("dt", {}, label), h("dd", {}, value));
  const levels = a.levels ?? {};
  /** @param {unknown} list */
  const levelText = (list) => (Array.isArray(list) && list.length ? [...new Set(list.map(price))].join(", ") : "none confirmed yet");
  return h(
    "section",
    { class: "card analysis-card", "aria-label": `${symbol} on ${tf}`, "data-testid": "symbol-card", "data-timeframe": tf },
    h("h2", {}, `Conditions on ${tf}`),
    a.condition
      ? conditionBlock(a.condition, "symbol", reasonList(a.condition.reasons))
      : h("p", { class: "hint", "data-testid": "symbol-pending" }, "Not analysed yet: the detector waits for enough closed bars."),
    hasIndicators
      ? h(
          "dl",
          { class: "figures compact", "data-testid": "symbol-indicators" },
          figure("Close", price(ind.close)),
          figure("SMA 20", price(ind.sma_20)),
          figure("SMA 50", price(ind.sma_50)),
          figure("RSI 14", num(ind.rsi_14, 1)),
          figure("ATR 14", num(ind.atr_14, digits === undefined ? undefined : digits + 1)),
          figure("ADX 14", num(ind.adx_14, 1)),
          figure("Resistance", levelText(levels.resistance)),
          figure("Support", levelText(levels.support)),
        )
      : h("p", { class: "hint" }, `Indicators need 60 closed bars; ${Number(a.bars) || 0} so far.`),
  );
}

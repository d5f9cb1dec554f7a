/**
 * The dashboard's equity card: today's P/L and the equity curve, today (a point a minute) or
 * over 30 days (a point an hour), from `GET /api/account/equity?range=day|month`, kept live by
 * the dashboard's `/ws/performance` stream (the rules are in models/dashboard_equity.js).
 *
 * The day is always read, whichever curve is shown: today's P/L needs the equity the day
 * began with. The 30 days are read when chosen (and again each time), then extended live like
 * the day. When the trading clock passes the end of the day read, the day is read again. A
 * read that fails says so in words under the curve and leaves the last figures on screen.
 */

import { dayIsOver, equitySeries, livePointOf, todayPnlNow, withLivePoint } from "../models/dashboard_equity.js";
import { SessionEnded, isOfflineError } from "../models/errors.js";
import { h } from "../widgets/dom.js";
import { formatMoney, formatPnl } from "../widgets/format.js";
import { lineChart } from "../widgets/line_chart.js";

/** @typedef {import("../models/dashboard_equity.js").EquitySeries} EquitySeries */
/** @typedef {import("../models/dashboard_equity.js").Range} Range */

const RANGE_WORDS = /** @type {const} */ ({
  day: { button: "Today", title: "Equity, today", empty: "No equity figures yet today." },
  month: { button: "30 days", title: "Equity, last 30 days", empty: "No equity figures in the last 30 days yet." },
});

/**
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 */
export function equitySection({ api }) {
  /** @type {Record<Range, EquitySeries | null>} */
  const series = { day: null, month: null };
  /** @type {Record<Range, Promise<void> | null>} */
  const reading = { day: null, month: null };
  /** @type {Range} */
  let shown = "day";
  /** @type {import("../models/dashboard.js").Account | null} */
  let account = null;
  let stopped = false;

  const pnl = h("span", { class: "pnl", "data-testid": "dash-today-pnl" }, "—");
  const chart = lineChart({ testid: "dash-equity-chart" });
  const error = h("p", { class: "error", role: "alert", "data-testid": "dash-equity-error", hidden: true });
  /** @param {Range} range */
  const segment = (range) =>
    h("button", { type: "button", "aria-pressed": String(range === shown), "data-range": range, "data-testid": `dash-range-${range}` }, RANGE_WORDS[range].button);
  const segments = [segment("day"), segment("month")];
  const el = h(
    "section",
    { class: "card equity", "aria-labelledby": "equity-title", "data-testid": "dash-equity-card", "data-range": shown },
    h("div", { class: "card-head" }, h("h2", { id: "equity-title" }, "Equity"), h("div", { class: "segmented", role: "group", "aria-label": "Equity curve period" }, ...segments)),
    h("dl", { class: "figures" }, h("div", { class: "figure" }, h("dt", {}, "Today's P/L"), h("dd", {}, pnl))),
    chart.el,
    error,
  );

  const render = () => {
    const currency = series.day?.currency ?? account?.currency ?? null;
    const today = formatPnl(todayPnlNow(series.day, account), currency);
    pnl.textContent = today.text;
    pnl.dataset.tone = today.tone;
    el.dataset.range = shown;
    for (const s of segments) s.setAttribute("aria-pressed", String(s.dataset.range === shown));
    const words = RANGE_WORDS[shown];
    const current = series[shown];
    chart.draw(current?.points ?? [], {
      title: words.title,
      format: (v) => formatMoney(v, current?.currency ?? currency),
      empty: current ? words.empty : "Reading the equity curve…",
    });
  };

  /** @param {Range} range @returns {Promise<void>} never rejects: a failure is shown */
  const read = (range) =>
    (reading[range] ??= api
      .get(`/api/account/equity?range=${range}`)
      .then((answer) => {
        if (stopped) return;
        series[range] = equitySeries(answer, range);
        error.hidden = true;
        render();
      })
      .catch((e) => {
        if (e instanceof SessionEnded || isOfflineError(e) || stopped) return;
        error.textContent = `Could not read the equity curve: ${/** @type {Error} */ (e).message}`;
        error.hidden = false;
      })
      .finally(() => {
        reading[range] = null;
      }));

  for (const s of segments) {
    s.addEventListener("click", () => {
      const range = /** @type {Range} */ (s.dataset.range);
      if (range === shown && series[range]) return;
      shown = range;
      render();
      if (range === "month") read("month");
    });
  }

  render();
  return {
    el,
    /** The day (and the month when shown) read again: at start and after a stream came back. */
    reread() {
      return Promise.all([read("day"), shown === "month" ? read("month") : null]).then(() => {});
    },
    /**
     * The account's latest figures (from the status or the performance stream): today's P/L.
     * @param {import("../models/dashboard.js").Account | null} latest
     */
    setAccount(latest) {
      if (latest === account) return;
      account = latest;
      render();
    },
    /**
     * A `/ws/performance` message's `data`: a live point on the curves.
     * @param {any} data
     */
    addLive(data) {
      const point = livePointOf(data);
      if (!point) return;
      const day = series.day;
      if (day && dayIsOver(day, point.time)) read("day");
      else if (day) series.day = withLivePoint(day, point);
      if (series.month) series.month = withLivePoint(series.month, point);
      render();
    },
    destroy() {
      stopped = true;
    },
  };
}

/**
 * The performance section of the Analysis screen: net profit, trades, win rate, profit
 * factor and drawdown of the closed trades of today, this week or this month (`GET
 * /api/system/performance?period=daily|weekly|monthly`), overall, by strategy, by symbol,
 * and by both (folded away). The figures are the backtester's statistics, so a win rate here
 * means what it means in a backtest report.
 *
 * Phone first: each table fits the width (fixed layout, short headers explained by a key
 * line and spelled out for screen readers by `abbr`, long names wrapping), so the page
 * never scrolls sideways.
 */

import { PERIODS, emptyPeriodText, performanceGroups, performanceLine } from "../models/analysis.js";
import { SessionEnded } from "../models/errors.js";
import { h } from "../widgets/dom.js";
import { formatPnl } from "../widgets/format.js";

/**
 * A table of rows.
 * @param {string} caption
 * @param {string} first the name column's header
 * @param {import("../models/analysis.js").PerformanceRow[]} rows
 * @param {string} testid
 * @param {string | null} currency
 */
function table(caption, first, rows, testid, currency) {
  /** @param {string} short @param {string} long */
  const th = (short, long) => h("th", { scope: "col", abbr: long }, h("abbr", { title: long }, short));
  return h(
    "table",
    { class: "perf-table", "data-testid": testid },
    h("caption", {}, caption),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, first),
        th("#", "Closed trades"),
        th("Win", "Win rate"),
        th("PF", "Profit factor"),
        th("DD", "Max drawdown"),
        h("th", { scope: "col" }, currency ? `Net ${currency}` : "Net"),
      ),
    ),
    h(
      "tbody",
      {},
      ...rows.map((row) => {
        const line = performanceLine(row);
        return h(
          "tr",
          { "data-testid": "performance-row", "data-name": line.name },
          h("th", { scope: "row" }, line.name),
          h("td", {}, line.trades),
          h("td", {}, line.winRate),
          h("td", {}, line.profitFactor),
          h("td", {}, line.drawdown),
          h("td", { class: "pnl", "data-tone": line.net.tone }, line.net.text),
        );
      }),
    ),
  );
}

/**
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {() => string | null} options.currency the account's, once known
 * @returns {{el: HTMLElement, load(): Promise<boolean>}} `load` re-reads the chosen period
 */
export function performanceSection({ api, currency }) {
  /** @type {string} */
  let period = PERIODS[0].value;
  const buttons = PERIODS.map((p) =>
    h("button", { type: "button", class: "segment", "aria-pressed": String(p.value === period), "data-period": p.value, "data-testid": `performance-period-${p.value}` }, p.label),
  );
  const switcher = h("div", { class: "segments", role: "group", "aria-label": "Period" }, ...buttons);
  const status = h("p", { class: "hint", role: "status", "data-testid": "performance-status" }, "Reading the performance…");
  const error = h("p", { class: "error", role: "alert", "data-testid": "performance-error", hidden: true });
  const figures = h("dl", { class: "figures compact", "data-testid": "performance-overall", hidden: true });
  const tables = h("div", { class: "perf-tables" });
  const el = h(
    "section",
    { class: "card analysis-card", "aria-labelledby": "performance-title" },
    h("h2", { id: "performance-title" }, "Performance"),
    switcher,
    status,
    error,
    figures,
    tables,
  );

  let asked = 0;
  const load = async () => {
    const mine = ++asked;
    const chosen = period;
    try {
      const answer = await api.get(`/api/system/performance?period=${chosen}`);
      if (mine !== asked) return true;
      error.hidden = true;
      render(chosen, answer);
      return true;
    } catch (e) {
      if (e instanceof SessionEnded || mine !== asked) return false;
      status.textContent = "";
      error.textContent = `Could not read the performance: ${/** @type {Error} */ (e).message}`;
      error.hidden = false;
      return false;
    }
  };

  /** @param {string} chosen @param {any} answer */
  const render = (chosen, answer) => {
    const groups = performanceGroups(answer.items);
    const overall = groups.overall;
    const label = PERIODS.find((p) => p.value === chosen)?.label ?? chosen;
    if (!overall || overall.trades_count === 0) {
      status.textContent = emptyPeriodText(chosen);
      figures.hidden = true;
      tables.replaceChildren();
      return;
    }
    const line = performanceLine(overall);
    const net = formatPnl(overall.net_profit, currency());
    status.textContent = `${label}: ${overall.trades_count === 1 ? "1 closed trade" : `${overall.trades_count} closed trades`}.`;
    /** @param {string} name @param {string} value @param {string} [tone] */
    const figure = (name, value, tone) =>
      h("div", { class: "figure" }, h("dt", {}, name), h("dd", tone ? { class: "pnl", "data-tone": tone } : {}, value));
    figures.replaceChildren(
      figure("Net profit", net.text, net.tone),
      figure("Win rate", `${line.winRate} (${overall.wins} won, ${overall.losses} lost)`),
      figure("Profit factor", line.profitFactor),
      figure("Max drawdown", line.drawdown),
    );
    figures.hidden = false;
    const cur = currency();
    tables.replaceChildren(
      h("p", { class: "hint" }, "#: closed trades · Win: win rate · PF: profit factor · DD: max drawdown"),
      table("By strategy", "Strategy", groups.byStrategy, "performance-by-strategy", cur),
      table("By symbol", "Symbol", groups.bySymbol, "performance-by-symbol", cur),
      // replaceChildren, unlike h(), would write a null as the text "null"
      ...(groups.byBoth.length
        ? [
            h(
              "details",
              {},
              h("summary", {}, "By strategy and symbol"),
              table("By strategy and symbol", "Strategy · symbol", groups.byBoth, "performance-by-both", cur),
            ),
          ]
        : []),
    );
  };

  for (const button of buttons) {
    button.addEventListener("click", () => {
      period = button.dataset.period ?? period;
      for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
      status.textContent = "Reading the performance…";
      load();
    });
  }
  return { el, load };
}

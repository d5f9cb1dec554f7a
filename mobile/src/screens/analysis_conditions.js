/**
 * The market conditions section of the Analysis screen: each watched symbol (in watchlist
 * order) with, per timeframe it is analysed on, whether conditions are favourable and why,
 * its trend, volatility, liquidity and sessions in words (models/analysis.js). A symbol
 * opens its detail (`#/analysis/{symbol}`: chart, indicators, levels).
 *
 * From `GET /api/market/symbols` (the watchlist, read once) and `GET
 * /api/market/conditions` (re-read by the screen every few seconds while shown).
 */

import { conditionWords, conditionsBySymbol } from "../models/analysis.js";
import { SessionEnded } from "../models/errors.js";
import { routeHash } from "../models/route.js";
import { h } from "../widgets/dom.js";
import { pill, setPill } from "../widgets/pill.js";

/**
 * One timeframe's condition of a symbol: verdict, facts and the reasons (in one line, or
 * as the list given).
 * @param {import("../models/analysis.js").Condition} c
 * @param {string} testid prefix of the test ids ("condition", "symbol")
 * @param {HTMLElement | null} [reasons] shown instead of the one-line "Why: …"
 */
export function conditionBlock(c, testid, reasons = null) {
  const words = conditionWords(c);
  const verdict = pill({ "data-testid": `${testid}-verdict` });
  setPill(verdict, words.verdict, words.tone, c.favourable ? "favourable" : "unfavourable");
  return h(
    "div",
    { class: "condition", "data-testid": `${testid}-timeframe`, "data-timeframe": c.timeframe },
    h("div", { class: "row-main" }, h("span", { class: "tf" }, c.timeframe), verdict),
    h("p", { class: "condition-facts", "data-testid": `${testid}-facts` }, words.facts),
    reasons ?? h("p", { class: "condition-why", "data-testid": `${testid}-why` }, words.why),
  );
}

/**
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @returns {{el: HTMLElement, load(): Promise<boolean>}} `load` says whether it could read them
 */
export function conditionsSection({ api }) {
  const loading = h("p", { class: "hint", "data-testid": "conditions-loading" }, "Reading the market conditions…");
  const empty = h("p", { class: "hint", "data-testid": "conditions-empty", hidden: true }, "No symbol is watched.");
  const error = h("p", { class: "error", role: "alert", "data-testid": "conditions-error", hidden: true });
  const list = h("ul", { class: "list", "data-testid": "conditions-list" });
  const el = h(
    "section",
    { class: "card analysis-card", "aria-labelledby": "conditions-title" },
    h("h2", { id: "conditions-title" }, "Market conditions"),
    loading,
    error,
    empty,
    list,
  );

  /** @type {string[] | null} */
  let watchlist = null;

  /** @param {{symbol: string, conditions: import("../models/analysis.js").Condition[]}} entry */
  const row = ({ symbol, conditions }) =>
    h(
      "li",
      {},
      h(
        "a",
        { class: "row symbol-row", href: routeHash({ name: "symbol", symbol }), "data-testid": "condition", "data-symbol": symbol },
        h("span", { class: "row-main" }, h("strong", {}, symbol), h("span", { class: "go", "aria-hidden": "true" }, "›")),
        ...(conditions.length
          ? conditions.map((c) => conditionBlock(c, "condition"))
          : [h("p", { class: "hint", "data-testid": "condition-pending" }, "Not analysed yet: the detector waits for enough closed bars.")]),
      ),
    );

  const load = async () => {
    try {
      watchlist ??= (await api.get("/api/market/symbols")).items.map((/** @type {any} */ s) => String(s.name));
      const answer = await api.get("/api/market/conditions");
      const entries = conditionsBySymbol(/** @type {string[]} */ (watchlist), answer.items);
      error.hidden = true;
      loading.hidden = true;
      // A re-read must not take the focus away from the symbol a keyboard or screen reader is on.
      const focused = list.contains(document.activeElement) ? /** @type {HTMLElement} */ (document.activeElement).dataset.symbol : undefined;
      list.replaceChildren(...entries.map(row));
      if (focused !== undefined) {
        for (const link of list.querySelectorAll("a[data-symbol]")) {
          if (/** @type {HTMLElement} */ (link).dataset.symbol === focused) /** @type {HTMLElement} */ (link).focus();
        }
      }
      empty.hidden = entries.length > 0;
      return true;
    } catch (e) {
      if (e instanceof SessionEnded) return false;
      loading.hidden = true;
      error.textContent = `Could not read the market conditions: ${/** @type {Error} */ (e).message}`;
      error.hidden = false;
      return false;
    }
  };
  return { el, load };
}

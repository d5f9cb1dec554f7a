/**
 * The Trades screen: the history, newest first, with filters (symbol, status, strategy,
 * dates) and infinite scroll: pages of 50, the next one read when the end of the list comes
 * near (an IntersectionObserver on a marker after the last row). A row opens the trade's
 * detail (`#/trades/{id}`).
 *
 * The filters apply when "Show trades" is tapped (the next pages keep the filters of the
 * first); a half-typed date is refused next to its field in words, never silently dropped
 * (a date input gives "" for it, as for no date). The list is a snapshot, not live: when
 * the network returns after a read failed (opened offline), it is read again by itself; a
 * list that was read stays where the trader scrolled it.
 */

import { SessionEnded } from "../models/errors.js";
import { PAGE_SIZE, hasMore, tradesQuery } from "../models/trading.js";
import { watchNetwork } from "../services/network.js";
import { h } from "../widgets/dom.js";
import { field, typedText } from "../widgets/field.js";
import { formatPnl, formatTime } from "../widgets/format.js";
import { topbar } from "./topbar.js";

const STATUSES = ["intent", "submitted", "open", "closing", "closed", "rejected", "cancelled"];

/**
 * @param {HTMLElement} root
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {import("../services/auth.js").Auth} options.auth
 * @returns {{destroy(): void}}
 */
export function showTrades(root, { api, auth }) {
  /** @param {string} label @param {HTMLElement} input @param {string} testid */
  const labelled = (label, input, testid) => {
    const id = `filter-${testid}`;
    input.id = id;
    input.setAttribute("data-testid", testid);
    return h("div", { class: "field" }, h("label", { for: id }, label), input);
  };
  const symbol = /** @type {HTMLSelectElement} */ (h("select", {}, h("option", { value: "" }, "Any")));
  const status = /** @type {HTMLSelectElement} */ (
    h("select", {}, h("option", { value: "" }, "Any"), ...STATUSES.map((s) => h("option", { value: s }, s)))
  );
  const strategy = /** @type {HTMLInputElement} */ (h("input", { type: "text", autocomplete: "off", placeholder: "Any" }));
  const from = field("From", h("input", { type: "date" }), "trades-filter-from");
  const to = field("To", h("input", { type: "date" }), "trades-filter-to");
  const filters = h(
    "form",
    { class: "form filters", novalidate: true },
    h(
      "div",
      { class: "pair" },
      labelled("Symbol", symbol, "trades-filter-symbol"),
      labelled("Status", status, "trades-filter-status"),
    ),
    labelled("Strategy", strategy, "trades-filter-strategy"),
    h("div", { class: "pair" }, from.el, to.el),
    h("button", { type: "submit", class: "primary", "data-testid": "trades-filter-apply" }, "Show trades"),
  );
  const count = h("p", { class: "hint", role: "status", "data-testid": "trades-count" });
  const error = h("p", { class: "error", role: "alert", "data-testid": "trades-error", hidden: true });
  const list = h("ul", { class: "list", "data-testid": "trades-list" });
  const more = h("p", { class: "hint more", "data-testid": "trades-more" });
  root.append(
    h(
      "section",
      { class: "screen screen-trades", "aria-labelledby": "trades-title" },
      topbar("Trades", "trades-title", auth),
      h("details", { class: "card" }, h("summary", { "data-testid": "trades-filters" }, "Filters"), filters),
      error,
      count,
      list,
      more,
    ),
  );

  let generation = 0; // a new filter makes the pages of the old one stale
  let loaded = 0;
  let total = Infinity;
  /** @type {Promise<void> | null} */
  let loading = null;

  /** @type {import("../models/trading.js").TradeFilters} the filters applied ("Show trades") */
  let applied = {};
  let failed = false; // the last read failed: the network's return reads again

  const loadMore = () => {
    if (loading || loaded >= total) return loading;
    const asked = generation;
    more.textContent = "Loading…";
    loading = api
      .get(tradesQuery(applied, loaded, PAGE_SIZE))
      .then((page) => {
        if (asked !== generation) return;
        failed = false;
        error.hidden = true;
        for (const trade of page.items) list.append(row(trade));
        loaded += page.items.length;
        total = page.total;
        count.textContent = page.total === 1 ? "1 trade" : `${page.total} trades`;
        more.textContent = hasMore(page, loaded) ? "" : loaded ? "No older trades." : "No trades match.";
      })
      .catch((e) => {
        // A failure of an older filter's page (or after the screen closed) is not this one's:
        // it must not stop the new list's scrolling (`total`) or show its error.
        if (e instanceof SessionEnded || asked !== generation) return;
        failed = true;
        error.textContent = `Could not read the trades: ${e.message}`;
        error.hidden = false;
        more.textContent = "";
        total = loaded; // stop scrolling into errors; "Show trades" tries again
      })
      .finally(() => {
        if (asked !== generation) return; // a newer filter's load is under way
        loading = null;
        // The marker may still be on screen (a short page): keep filling.
        if (visible && loaded < total) loadMore();
      });
    return loading;
  };

  let visible = false;
  const observer = new IntersectionObserver(
    (entries) => {
      visible = entries.some((e) => e.isIntersecting);
      if (visible) loadMore();
    },
    { rootMargin: "0px 0px 400px 0px" },
  );

  const restart = () => {
    generation += 1;
    loaded = 0;
    total = Infinity;
    loading = null;
    list.replaceChildren();
    count.textContent = "";
    loadMore();
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    // A date the browser could not read (half typed) gives "" like no date at all.
    const dates = [from, to].map((d) => {
      const text = typedText(d.input);
      d.setError(text === null ? "Finish the date (day, month and year) or clear it." : null);
      return text;
    });
    if (dates.includes(null)) return;
    applied = { symbol: symbol.value, status: status.value, strategy: strategy.value, from: dates[0] ?? "", to: dates[1] ?? "" };
    restart();
  });

  let symbolsRead = false;
  const readSymbols = () =>
    api
      .get("/api/market/symbols")
      .then((watched) => {
        if (symbolsRead) return;
        symbolsRead = true;
        for (const spec of watched.items) symbol.append(h("option", { value: spec.name }, spec.name));
      })
      .catch(() => {}); // the list still works without the choice of symbols
  readSymbols();
  observer.observe(more);
  loadMore();
  const stopWatching = watchNetwork({
    online: () => {
      if (!symbolsRead) readSymbols();
      if (failed) restart();
    },
  });

  return {
    destroy() {
      generation += 1;
      observer.disconnect();
      stopWatching();
    },
  };
}

/** @param {any} trade an item of `GET /api/trades` */
function row(trade) {
  const pnl = formatPnl(trade.profit, null);
  return h(
    "li",
    {},
    h(
      "a",
      { class: "card row", href: `#/trades/${trade.id}`, "data-testid": "trade-row", "data-trade-id": String(trade.id) },
      h(
        "span",
        { class: "row-main" },
        h("strong", {}, `${trade.symbol} · ${trade.side === "buy" ? "Buy" : "Sell"} ${trade.volume}`),
        h("span", { class: "status", "data-status": trade.status }, trade.status),
      ),
      h(
        "span",
        { class: "row-sub" },
        h("span", {}, `#${trade.id} · ${trade.strategy} · ${formatTime(trade.open_time ?? trade.created_at)}`),
        h("span", { class: "pnl", "data-tone": pnl.tone }, trade.profit === null ? "" : pnl.text),
      ),
    ),
  );
}

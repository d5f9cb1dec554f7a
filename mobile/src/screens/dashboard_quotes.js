/**
 * The dashboard's quotes card: bid, ask and spread of a few symbols, live from `/ws/quotes`.
 * Which symbols: the open positions' then the first of the watchlist, bounded
 * (models/dashboard_quotes.js), re-chosen when the number of open positions changes.
 *
 * The stream sends every watched symbol until told otherwise, so each connection starts with
 * `{"action": "subscribe", "symbols": [...]}` (answered `{"event": "subscribed"}`), and a new
 * choice of symbols is sent on the open connection; a refusal on the socket is shown in words.
 * A bid that moved flashes green or red for a moment (no flash when the phone asks for reduced
 * motion: the arrow beside it says the same, without colour alone).
 */

import { SessionEnded, isOfflineError } from "../models/errors.js";
import { emptyQuotes, priceText, quoteSymbols, withQuote } from "../models/dashboard_quotes.js";
import { LiveSocket } from "../services/ws.js";
import { h } from "../widgets/dom.js";
import { formatCount } from "../widgets/format.js";

/** @typedef {import("../models/dashboard_quotes.js").Quotes} Quotes */
/** @typedef {import("../models/dashboard_quotes.js").QuoteSpec} QuoteSpec */

const ARROWS = /** @type {const} */ ({ up: "▲", down: "▼", same: "", null: "" });

/**
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {() => Promise<string>} options.token
 * @param {(stale: boolean) => void} options.onStale
 */
export function quotesSection({ api, token, onStale }) {
  /** @type {Map<string, QuoteSpec>} */
  const specs = new Map();
  /** @type {string[]} */
  let watchlist = [];
  /** @type {string[]} */
  let symbols = [];
  /** @type {Quotes} */
  let quotes = {};
  /** @type {Map<string, {bid: HTMLElement, ask: HTMLElement, spread: HTMLElement, arrow: HTMLElement}>} */
  const rows = new Map();
  let stopped = false;

  const body = h("tbody", {});
  const table = h(
    "table",
    { class: "quotes", "data-testid": "dash-quotes", hidden: true },
    h("caption", { class: "visually-hidden" }, "Live quotes"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Symbol"), h("th", { scope: "col" }, "Bid"), h("th", { scope: "col" }, "Ask"), h("th", { scope: "col" }, "Spread"))),
    body,
  );
  const empty = h("p", { class: "hint", "data-testid": "dash-quotes-empty" }, "Reading the watchlist…");
  const error = h("p", { class: "error", role: "alert", "data-testid": "dash-quotes-error", hidden: true });
  const el = h("section", { class: "card", "aria-labelledby": "quotes-title" }, h("h2", { id: "quotes-title" }, "Quotes"), error, empty, table);

  /** The subscription for the symbols chosen now. */
  const subscription = () => JSON.stringify({ action: "subscribe", symbols });
  /**
   * The browser's WebSocket, subscribing as soon as it opens (the LiveSocket opens one per
   * connection, so every reconnection subscribes again).
   */
  class SubscribingSocket extends WebSocket {
    /** @param {string | URL} url */
    constructor(url) {
      super(url);
      this.addEventListener("open", () => {
        if (symbols.length) this.send(subscription());
      });
    }
  }

  const showRows = () => {
    body.replaceChildren();
    rows.clear();
    for (const symbol of symbols) {
      const cells = {
        bid: h("span", { "data-testid": "quote-bid" }, "—"),
        ask: h("td", { "data-testid": "quote-ask" }, "—"),
        spread: h("td", { "data-testid": "quote-spread" }, "—"),
        arrow: h("span", { class: "tick-arrow", "aria-hidden": "true" }),
      };
      rows.set(symbol, cells);
      body.append(h("tr", { "data-testid": "quote", "data-symbol": symbol }, h("th", { scope: "row" }, symbol), h("td", { class: "bid" }, cells.bid, cells.arrow), cells.ask, cells.spread));
      showQuote(symbol);
    }
    table.hidden = symbols.length === 0;
    empty.hidden = symbols.length > 0;
    empty.textContent = "No symbols are watched.";
  };

  /** @param {string} symbol */
  const showQuote = (symbol) => {
    const q = quotes[symbol];
    const cells = rows.get(symbol);
    if (!cells || !q) return;
    const digits = specs.get(symbol)?.digits;
    cells.bid.textContent = priceText(q.bid, digits);
    cells.ask.textContent = priceText(q.ask, digits);
    cells.spread.textContent = formatCount(q.spread);
    cells.arrow.textContent = ARROWS[q.change ?? "null"];
    const cell = /** @type {HTMLElement} */ (cells.bid.parentElement);
    if (q.change === "up" || q.change === "down") {
      cell.dataset.change = q.change;
      // Two identical animations, alternated: a new tick restarts the flash without a reflow.
      cell.dataset.flash = cell.dataset.flash === "a" ? "b" : "a";
    }
  };

  /** @param {readonly string[]} held the open positions' symbols */
  const choose = (held) => {
    const next = quoteSymbols(held, watchlist);
    if (next.join("\n") === symbols.join("\n")) return;
    symbols = next;
    quotes = { ...emptyQuotes(symbols), ...Object.fromEntries(Object.entries(quotes).filter(([s]) => symbols.includes(s))) };
    showRows();
    const open = socket.socket;
    if (open && open.readyState === WebSocket.OPEN && symbols.length) open.send(subscription());
  };

  /** The open positions' symbols, read again; also how a reconnection checks the session. */
  const readHeld = () =>
    api.get("/api/positions").then((answer) => {
      if (!stopped) choose((answer?.items ?? []).map((/** @type {any} */ p) => p.symbol));
    });

  /** @param {unknown} e @param {string} what */
  const showError = (e, what) => {
    if (e instanceof SessionEnded || isOfflineError(e) || stopped) return;
    error.textContent = `${what}: ${/** @type {Error} */ (e).message}`;
    error.hidden = false;
  };

  const socket = new LiveSocket({
    path: "/ws/quotes",
    token,
    beforeReconnect: readHeld,
    WebSocketImpl: SubscribingSocket,
    onStale,
    onMessage: (message) => {
      if (message?.error) return showError(message.error, "The quotes stream refused");
      if (!message?.data) return; // the subscription's acknowledgement
      const next = withQuote(quotes, message.data, specs);
      if (next === quotes) return;
      quotes = next;
      error.hidden = true;
      showQuote(message.data.symbol);
    },
  });

  const start = async () => {
    try {
      const [watched, held] = await Promise.all([api.get("/api/market/symbols"), api.get("/api/positions")]);
      if (stopped) return;
      for (const spec of watched.items) specs.set(spec.name, spec);
      watchlist = watched.items.map((/** @type {QuoteSpec} */ s) => s.name);
      symbols = [];
      choose(held.items.map((/** @type {any} */ p) => p.symbol));
      if (symbols.length === 0) showRows();
      socket.start();
    } catch (e) {
      // Closed meanwhile, or signed out: nothing to retry for (the card is gone).
      if (stopped || e instanceof SessionEnded) return;
      showError(e, "Could not read the watchlist");
      empty.textContent = "No quotes without the watchlist.";
      retry = setTimeout(start, 10_000);
    }
  };
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let retry;
  start();

  return {
    el,
    socket,
    /**
     * The number of open positions changed: the symbols held may have too.
     * @param {number | null} count
     */
    positionsChanged(count) {
      if (count === null || socket.stopped) return;
      readHeld().catch((e) => showError(e, "Could not read the positions"));
    },
    destroy() {
      stopped = true;
      clearTimeout(retry);
      socket.stop();
    },
  };
}

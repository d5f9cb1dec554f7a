/**
 * The Positions screen: the open positions with their P/L, what a trader can do with each
 * (screens/position_card.js), and the new-trade form (screens/open_trade.js). A viewer sees
 * the positions only.
 *
 * Live P/L: the list is re-read from `GET /api/positions` every 2 s while the screen is
 * shown, and at once on every `/ws/trades` event (an open, a close, a fill). The profit shown
 * is then the terminal's own figure (currency conversion, swap and commission included),
 * which a P/L recomputed on the phone from `/ws/quotes` would not match for a cross-currency
 * symbol; a few positions make a small answer. While the data cannot be read (offline, the
 * stream down), the figures stay, marked stale, and the actions are disabled: no trading on
 * old figures.
 */

import { SessionEnded } from "../models/errors.js";
import { canTrade, roleOfToken } from "../models/role.js";
import { watchNetwork } from "../services/network.js";
import { LiveSocket } from "../services/ws.js";
import { h } from "../widgets/dom.js";
import { openTradeForm } from "./open_trade.js";
import { positionCard } from "./position_card.js";
import { topbar } from "./topbar.js";

const REREAD_MS = 2000;

/**
 * @param {HTMLElement} root
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {import("../services/auth.js").Auth} options.auth
 * @returns {{destroy(): void}}
 */
export function showPositions(root, { api, auth }) {
  const trader = canTrade(roleOfToken(auth.session?.accessToken));
  const error = h("p", { class: "error", role: "alert", "data-testid": "positions-error", hidden: true });
  const stale = h("p", { class: "stale", role: "status", "data-testid": "positions-stale", hidden: true });
  const list = h("ul", { class: "list", "data-testid": "positions-list" });
  const empty = h("p", { class: "hint", "data-testid": "positions-empty", hidden: true }, "No open positions.");
  const formSlot = h("div", {});
  const screen = h(
    "section",
    { class: "screen screen-positions", "aria-labelledby": "positions-title" },
    topbar("Positions", "positions-title", auth),
    stale,
    error,
    formSlot,
    empty,
    list,
  );
  root.append(screen);

  /** @type {Map<string, import("../models/trading.js").SymbolSpec>} */
  const symbols = new Map();
  /** @type {string | null} */
  let currency = null;
  /** @type {Map<number, ReturnType<typeof positionCard>>} */
  const cards = new Map();
  let readFailed = false;
  let stopped = false;

  const updateStale = () => {
    const isStale = readFailed || socket.stale;
    stale.hidden = !isStale;
    stale.textContent = isStale ? "Live data lost: these figures may be old, and trading is paused until it is back." : "";
    screen.classList.toggle("is-stale", isStale);
    cards.forEach((c) => c.setDisabled(isStale));
  };

  /** @param {any[]} items */
  const render = (items) => {
    const seen = new Set();
    for (const item of items) {
      seen.add(item.ticket);
      const card = cards.get(item.ticket);
      if (card) card.update(item);
      else {
        const made = positionCard(item, { api, spec: symbols.get(item.symbol), canTrade: trader, currency: () => currency, onChanged: reread });
        cards.set(item.ticket, made);
        list.append(made.el);
      }
    }
    for (const [ticket, card] of cards) {
      if (!seen.has(ticket)) {
        card.el.remove();
        cards.delete(ticket);
      }
    }
    empty.hidden = items.length > 0;
    updateStale();
  };

  /** @type {Promise<void> | null} */
  let reading = null;
  function reread() {
    return (reading ??= api
      .get("/api/positions")
      .then((answer) => {
        readFailed = false;
        error.hidden = true;
        if (!stopped) render(answer.items);
      })
      .catch((e) => {
        if (e instanceof SessionEnded || stopped) return;
        readFailed = true;
        error.textContent = `Could not read the positions: ${e.message}`;
        error.hidden = false;
        updateStale();
      })
      .finally(() => {
        reading = null;
      }));
  }

  const socket = new LiveSocket({
    path: "/ws/trades",
    token: () => auth.accessToken(),
    beforeReconnect: reread,
    onMessage: (message) => {
      if (message?.data) reread();
    },
    onStale: updateStale,
  });

  /** @type {Promise<void> | null} the start under way */
  let starting = null;
  /**
   * The watchlist and the account's currency, then the new-trade form and the list. One at a
   * time: the network coming back while the first is still reading must not make a second
   * form; and the form replaces any before it.
   * @returns {Promise<void>}
   */
  const start = () =>
    (starting ??= (async () => {
      try {
        const [watched, status] = await Promise.all([api.get("/api/market/symbols"), api.get("/api/system/status")]);
        for (const spec of watched.items) symbols.set(spec.name, spec);
        currency = status.account?.currency ?? null;
      } catch (e) {
        if (e instanceof SessionEnded || stopped) return;
        error.textContent = `Could not read the watchlist: ${/** @type {Error} */ (e).message}`;
        error.hidden = false;
      }
      if (stopped) return;
      if (trader && symbols.size) formSlot.replaceChildren(openTradeForm({ api, symbols, onOpened: reread }));
      await reread();
    })().finally(() => {
      starting = null;
    }));

  const timer = setInterval(() => {
    if (document.visibilityState === "visible") reread();
  }, REREAD_MS);
  const online = () => {
    socket.retryNow();
    if (!symbols.size && !stopped) start(); // opened offline: the watchlist (and the form) too
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

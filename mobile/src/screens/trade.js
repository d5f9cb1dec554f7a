/**
 * A trade's detail: its figures and its lifecycle (`GET /api/trades/{id}/history`: intent,
 * submitted, open, closing, closed... each with when and the details the bot recorded).
 * Read again by itself when the network returns (opened offline, it said so in words).
 */

import { SessionEnded } from "../models/errors.js";
import { watchNetwork } from "../services/network.js";
import { h } from "../widgets/dom.js";
import { formatNumber, formatPnl, formatTime, formatWord } from "../widgets/format.js";
import { topbar } from "./topbar.js";

/**
 * @param {HTMLElement} root
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {import("../services/auth.js").Auth} options.auth
 * @param {number} options.id
 * @returns {{destroy(): void}}
 */
export function showTrade(root, { api, auth, id }) {
  const back = h("a", { href: "#/trades", class: "back", "data-testid": "trade-back", "aria-label": "Back to trades" }, "‹");
  const error = h("p", { class: "error", role: "alert", "data-testid": "trade-error", hidden: true });
  const figures = h("dl", { class: "figures compact", "data-testid": "trade-figures" });
  const history = h("ol", { class: "timeline", "data-testid": "trade-history" });
  root.append(
    h(
      "section",
      { class: "screen screen-trade", "aria-labelledby": "trade-title" },
      topbar(`Trade #${id}`, "trade-title", auth, back),
      error,
      h("div", { class: "card" }, figures),
      h("div", { class: "card" }, h("h2", {}, "History"), history),
    ),
  );

  let stopped = false;
  const load = () =>
    Promise.all([api.get(`/api/trades/${id}`), api.get(`/api/trades/${id}/history`)])
      .then(([trade, transitions]) => {
        if (stopped) return;
        error.hidden = true;
        const pnl = formatPnl(trade.profit, null);
        /** @type {[string, string, string?][]} */
        const rows = [
          ["Symbol", trade.symbol],
          ["Side", formatWord(trade.side)],
          ["Status", trade.status, "trade-status"],
          ["Volume", `${trade.volume} lots (${trade.open_volume} open)`, "trade-volume"],
          ["Entry", formatNumber(trade.entry_price)],
          ["Exit", formatNumber(trade.exit_price)],
          ["Stop loss", formatNumber(trade.sl)],
          ["Take profit", formatNumber(trade.tp)],
          ["Profit", trade.profit === null ? "—" : pnl.text, "trade-profit"],
          ["Strategy", trade.strategy],
          ["Opened", formatTime(trade.open_time)],
          ["Closed", formatTime(trade.close_time)],
          ["Close reason", trade.close_reason ?? "—"],
          ["Reason", trade.reason ?? "—"],
        ];
        figures.replaceChildren(
          ...rows.map(([label, value, testid]) =>
            h("div", { class: "figure" }, h("dt", {}, label), h("dd", { "data-testid": testid }, value)),
          ),
        );
        history.replaceChildren(...transitions.items.map(transition));
      })
      .catch((e) => {
        if (e instanceof SessionEnded || stopped) return;
        error.textContent = `Could not read trade ${id}: ${e.message}`;
        error.hidden = false;
      });
  load();
  const stopWatching = watchNetwork({ online: load });

  return {
    destroy() {
      stopped = true;
      stopWatching();
    },
  };
}

/** @param {any} t `{"from", "to", "time", "details"}` */
function transition(t) {
  const details = Object.entries(t.details ?? {})
    .filter(([, value]) => value !== null && typeof value !== "object")
    .map(([key, value]) => `${key.replaceAll("_", " ")}: ${value}`)
    .join(" · ");
  return h(
    "li",
    { "data-testid": "trade-transition", "data-to": t.to },
    h("strong", {}, t.from ? `${t.from} → ${t.to}` : t.to),
    h("span", { class: "hint" }, formatTime(t.time)),
    details ? h("span", { class: "hint" }, details) : null,
  );
}

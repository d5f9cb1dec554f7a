/**
 * The strategies section of the Control screen: each strategy instance, whether it trades,
 * and (for a trader or admin) a switch to enable or disable it (`PUT
 * /api/strategies/{id}/toggle`, no body). The id is percent-encoded: symbols may hold spaces.
 * Editing a strategy's parameters is not built yet (the API's `PUT /api/strategies/{id}`).
 */

import { SessionEnded } from "../models/errors.js";
import { h } from "../widgets/dom.js";

/**
 * @typedef {object} Strategy `GET /api/strategies`'s item (the fields shown)
 * @property {string} id
 * @property {string} strategy
 * @property {string} symbol
 * @property {string} timeframe
 * @property {boolean} enabled
 * @property {number} signals
 * @property {number} errors
 */

/**
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {boolean} options.canChange trader or admin
 */
export function strategiesSection({ api, canChange }) {
  const list = h("ul", { class: "list", "data-testid": "strategies-list" });
  const empty = h("p", { class: "hint", "data-testid": "strategies-empty", hidden: true }, "No strategy instances.");
  const error = h("p", { class: "error", role: "alert", "data-testid": "strategies-error", hidden: true });
  const el = h(
    "section",
    { class: "card", "aria-labelledby": "strategies-title" },
    h("h2", { id: "strategies-title" }, "Strategies"),
    error,
    empty,
    list,
  );

  /** @param {Strategy} s */
  const row = (s) => {
    const state = h("span", { class: "pill", "data-testid": "strategy-state" });
    const notice = h("p", { class: "field-error", role: "alert", "data-testid": "strategy-error", hidden: true });
    const item = h(
      "li",
      { class: "row strategy", "data-testid": "strategy", "data-id": s.id },
      h("div", { class: "row-main" }, h("strong", {}, `${s.strategy} · ${s.symbol} · ${s.timeframe}`), state),
      h("div", { class: "row-sub" }, `${s.signals} signals · ${s.errors} errors`),
    );
    /** @param {Strategy} now */
    const show = (now) => {
      state.textContent = now.enabled ? "Enabled" : "Disabled";
      state.dataset.tone = now.enabled ? "good" : "neutral";
      state.dataset.state = now.enabled ? "enabled" : "disabled";
      if (toggle) {
        toggle.textContent = now.enabled ? "Disable" : "Enable";
        toggle.setAttribute("aria-pressed", String(now.enabled));
      }
    };
    const toggle = canChange ? h("button", { type: "button", class: "ghost", "data-testid": "strategy-toggle" }) : null;
    if (toggle) {
      item.append(toggle, notice);
      toggle.addEventListener("click", async () => {
        toggle.setAttribute("disabled", "");
        notice.hidden = true;
        try {
          show(await api.put(`/api/strategies/${encodeURIComponent(s.id)}/toggle`));
        } catch (e) {
          if (e instanceof SessionEnded) return;
          notice.textContent = `Not changed: ${/** @type {Error} */ (e).message}`;
          notice.hidden = false;
        } finally {
          toggle.removeAttribute("disabled");
        }
      });
    }
    show(s);
    return item;
  };

  const load = async () => {
    try {
      const answer = await api.get("/api/strategies");
      error.hidden = true;
      list.replaceChildren(...answer.items.map(row));
      empty.hidden = answer.items.length > 0;
    } catch (e) {
      if (e instanceof SessionEnded) return;
      error.textContent = `Could not read the strategies: ${/** @type {Error} */ (e).message}`;
      error.hidden = false;
    }
  };
  load();
  return { el };
}

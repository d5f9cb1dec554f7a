/**
 * One open position on the Positions screen, and what a trader can do with it: move SL/TP,
 * close part (a volume on the symbol's step), close all. Closing asks first; a refused value
 * is shown next to its field, any other refusal under the card. Prices and volumes are read
 * by the app's one number parser (widgets/field.js: "1,5" is 1.5, "1,234.5" is refused in
 * words before anything is sent). The card is updated in
 * place when fresh figures come, so a half-typed value survives the refresh.
 */

import { ApiError, SessionEnded } from "../models/errors.js";
import { closeVolume, fieldOfError, halfVolume, stopsChange } from "../models/trading.js";
import { confirmAction } from "../widgets/confirm.js";
import { h } from "../widgets/dom.js";
import { field, numberInput, typedText } from "../widgets/field.js";
import { formatNumber, formatPnl } from "../widgets/format.js";

/**
 * @typedef {object} Position `GET /api/positions`'s item
 * @property {number} ticket
 * @property {number | null} trade_id
 * @property {string} symbol
 * @property {"buy" | "sell"} side
 * @property {number} volume
 * @property {number} price_open
 * @property {number} price_current
 * @property {number | null} sl
 * @property {number | null} tp
 * @property {number} profit
 */

/**
 * @param {Position} position
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {import("../models/trading.js").SymbolSpec | undefined} options.spec
 * @param {boolean} options.canTrade
 * @param {() => string | null} options.currency
 * @param {() => void} options.onChanged
 */
export function positionCard(position, { api, spec, canTrade, currency, onChanged }) {
  let p = position;
  const v = {
    title: h("h2", { class: "position-title" }),
    volume: h("span", { "data-testid": "position-volume" }),
    open: h("span", {}),
    current: h("span", { "data-testid": "position-price" }),
    sl: h("span", { "data-testid": "position-sl" }),
    tp: h("span", { "data-testid": "position-tp" }),
    pnl: h("span", { class: "pnl", "data-testid": "position-pnl" }),
  };
  const notice = h("p", { class: "result", role: "status", "data-testid": "position-notice", hidden: true });
  /** @param {string} label @param {HTMLElement} value */
  const figure = (label, value) => h("div", { class: "figure" }, h("dt", {}, label), h("dd", {}, value));
  const card = h(
    "li",
    { class: "card position", "data-testid": "position", "data-ticket": String(p.ticket), "data-symbol": p.symbol },
    v.title,
    h(
      "dl",
      { class: "figures compact" },
      figure("P/L", v.pnl),
      figure("Volume", v.volume),
      figure("Open price", v.open),
      figure("Price now", v.current),
      figure("Stop loss", v.sl),
      figure("Take profit", v.tp),
    ),
  );

  /** @param {string} text @param {"good" | "warn" | "bad"} tone */
  const say = (text, tone) => {
    notice.textContent = text;
    notice.dataset.tone = tone;
    notice.hidden = false;
  };

  const actions = canTrade ? tradeActions() : null;
  if (actions) card.append(actions.el);
  card.append(notice);

  function tradeActions() {
    const sl = field("New stop loss", numberInput({ placeholder: "0 removes it" }), "position-sl-input");
    const tp = field("New take profit", numberInput({ placeholder: "0 removes it" }), "position-tp-input");
    const stopsSubmit = h("button", { type: "submit", class: "primary", "data-testid": "position-stops-submit" }, "Move SL/TP");
    const stops = h("form", { class: "form", novalidate: true }, h("div", { class: "pair" }, sl.el, tp.el), stopsSubmit);

    const volume = field("Volume to close", numberInput(), "position-close-volume");
    const partSubmit = h("button", { type: "submit", class: "ghost", "data-testid": "position-close-part" }, "Close part");
    const part = h("form", { class: "form", novalidate: true }, volume.el, partSubmit);
    const closeAll = h("button", { type: "button", class: "danger", "data-testid": "position-close" }, "Close position");
    const fieldset = /** @type {HTMLFieldSetElement} */ (
      h("fieldset", { class: "actions-set" }, h("legend", { class: "visually-hidden" }, `Act on ${p.symbol}`), stops, part, closeAll)
    );

    stops.addEventListener("submit", async (event) => {
      event.preventDefault();
      sl.setError(null);
      tp.setError(null);
      notice.hidden = true;
      const { body, problems } = stopsChange({ sl: typedText(sl.input), tp: typedText(tp.input) });
      sl.setError(problems.sl ?? null);
      tp.setError(problems.tp ?? null);
      if (problems.sl || problems.tp) return;
      await act(stopsSubmit, { sl, tp }, async () => {
        if (p.trade_id !== null) await api.put(`/api/trades/${p.trade_id}`, body);
        else {
          if ("sl" in body) await api.put(`/api/positions/${p.ticket}/sl`, { sl: body.sl });
          if ("tp" in body) await api.put(`/api/positions/${p.ticket}/tp`, { tp: body.tp });
        }
        sl.input.value = "";
        tp.input.value = "";
        say("Stops moved.", "good");
      });
    });

    part.addEventListener("submit", async (event) => {
      event.preventDefault();
      volume.setError(null);
      notice.hidden = true;
      const read = closeVolume(typedText(volume.input));
      if ("problem" in read) {
        volume.setError(read.problem);
        return;
      }
      const lots = read.value;
      const ok = await confirmAction({
        title: `Close ${lots} lots of ${p.symbol}?`,
        text: `Close ${lots} of the ${p.volume} lots of this ${p.side} at the market price; the rest stays open.`,
        action: "Close part",
      });
      if (ok) await act(partSubmit, { volume }, () => close(lots));
    });

    closeAll.addEventListener("click", async () => {
      notice.hidden = true;
      const ok = await confirmAction({
        title: `Close ${p.symbol}?`,
        text: `Close the whole ${p.side} of ${p.volume} lots at the market price.`,
        action: "Close position",
      });
      if (ok) await act(closeAll, {}, () => close(null));
    });

    return { el: fieldset, fieldset, volume };
  }

  /** @param {number | null} lots null: all of it */
  async function close(lots) {
    const trade = await api.post(`/api/positions/${p.ticket}/close`, lots === null ? {} : { volume: lots });
    if (trade.status === "closing") say("Close sent: the bot is recording it.", "warn");
    else if (trade.status === "closed") say(`Closed: ${formatPnl(trade.profit, currency()).text}.`, "good");
    else say(`Closed ${lots} lots; ${trade.open_volume} lots stay open.`, "good");
  }

  /**
   * Run an action: its button busy meanwhile, a refusal shown next to its field or under
   * the card, and the list re-read after.
   * @param {HTMLElement} button
   * @param {Record<string, ReturnType<typeof field>>} fields
   * @param {() => Promise<void>} task
   */
  async function act(button, fields, task) {
    button.setAttribute("disabled", "");
    try {
      await task();
    } catch (e) {
      if (e instanceof SessionEnded) return;
      const error = /** @type {ApiError} */ (e);
      const at = error instanceof ApiError ? fieldOfError(error, Object.keys(fields)) : null;
      if (at) fields[at].setError(error.message);
      else say(error.message, "bad");
    } finally {
      button.removeAttribute("disabled");
      onChanged();
    }
  }

  let lastVolume = NaN;
  /** @param {Position} next */
  const update = (next) => {
    p = next;
    v.title.textContent = `${p.symbol} · ${p.side === "buy" ? "Buy" : "Sell"}`;
    v.volume.textContent = `${p.volume} lots`;
    v.open.textContent = formatNumber(p.price_open);
    v.current.textContent = formatNumber(p.price_current);
    v.sl.textContent = formatNumber(p.sl);
    v.tp.textContent = formatNumber(p.tp);
    const pnl = formatPnl(p.profit, currency());
    v.pnl.textContent = pnl.text;
    v.pnl.dataset.tone = pnl.tone;
    if (actions && p.volume !== lastVolume) {
      // A new volume (a part was closed): offer half of what is left.
      lastVolume = p.volume;
      const half = spec ? halfVolume(p.volume, spec) : null;
      actions.volume.input.value = half === null ? String(p.volume) : String(half);
    }
  };
  update(p);

  return {
    el: card,
    update,
    /** @param {boolean} disabled while the data is stale: no trading on old figures */
    setDisabled(disabled) {
      if (actions) actions.fieldset.disabled = disabled;
    },
  };
}

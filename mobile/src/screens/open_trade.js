/**
 * The "new trade" form of the Positions screen: symbol (the watchlist), side, SL (required:
 * every trade has one), TP and volume (empty: sized by the risk rules). The order goes
 * through the server's risk checks like a strategy's; the answer is said in words (opened,
 * pending, refused by a rule with its reason, cancelled), a refused value next to its field.
 */

import { ApiError, SessionEnded } from "../models/errors.js";
import { describeOpening, fieldOfError } from "../models/trading.js";
import { confirmAction } from "../widgets/confirm.js";
import { h } from "../widgets/dom.js";
import { field, numberInput, readNumber } from "../widgets/field.js";

const FIELDS = ["symbol", "side", "sl", "tp", "volume"];

/**
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {Map<string, import("../models/trading.js").SymbolSpec>} options.symbols the watchlist
 * @param {() => void} options.onOpened
 * @returns {HTMLElement}
 */
export function openTradeForm({ api, symbols, onOpened }) {
  const symbolSelect = /** @type {HTMLSelectElement} */ (
    h("select", {}, ...[...symbols.keys()].map((name) => h("option", { value: name }, name)))
  );
  const sideSelect = /** @type {HTMLSelectElement} */ (
    h("select", {}, h("option", { value: "buy" }, "Buy"), h("option", { value: "sell" }, "Sell"))
  );
  const f = {
    symbol: field("Symbol", symbolSelect, "new-trade-symbol"),
    side: field("Side", sideSelect, "new-trade-side"),
    sl: field("Stop loss (required)", numberInput({ required: "" }), "new-trade-sl"),
    tp: field("Take profit", numberInput(), "new-trade-tp"),
    volume: field("Volume in lots", numberInput({ placeholder: "Sized by the risk rules" }), "new-trade-volume"),
  };
  const quote = h("p", { class: "hint", "data-testid": "new-trade-quote", "aria-live": "polite" });
  const result = h("p", { class: "result", role: "status", "data-testid": "new-trade-result", hidden: true });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "new-trade-submit" }, "Open trade");
  const form = /** @type {HTMLFormElement} */ (
    h("form", { class: "form", novalidate: true }, f.symbol.el, quote, f.side.el, f.sl.el, f.tp.el, f.volume.el, submit, result)
  );
  const box = h(
    "details",
    { class: "card new-trade" },
    h("summary", { "data-testid": "new-trade-toggle" }, "New trade"),
    form,
  );

  const fitSymbol = () => {
    const spec = symbols.get(symbolSelect.value);
    if (spec) {
      f.volume.input.setAttribute("step", String(spec.volume_step));
      f.volume.input.setAttribute("min", String(spec.volume_min));
      f.volume.input.setAttribute("max", String(spec.volume_max));
    }
    quote.textContent = "";
    api
      .get(`/api/market/quote/${encodeURIComponent(symbolSelect.value)}`)
      .then((q) => {
        quote.textContent = `Bid ${q.bid} · Ask ${q.ask}`;
      })
      .catch((e) => {
        if (!(e instanceof SessionEnded)) quote.textContent = `No quote: ${e.message}`;
      });
  };
  symbolSelect.addEventListener("change", fitSymbol);
  box.addEventListener("toggle", () => {
    if (/** @type {HTMLDetailsElement} */ (box).open) fitSymbol();
  });

  /** @param {{tone: string, text: string}} said */
  const say = (said) => {
    result.textContent = said.text;
    result.dataset.tone = said.tone;
    result.hidden = false;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    Object.values(f).forEach((x) => x.setError(null));
    result.hidden = true;
    // A typo is said next to its field, never taken as empty: no TP, or a volume left to
    // the risk rules, is not what the trader typed.
    const sl = readNumber(f.sl);
    const tp = readNumber(f.tp);
    const volume = readNumber(f.volume);
    if (sl === null) f.sl.setError("Give a stop loss: every trade has one.");
    if (sl === null || sl === undefined || tp === undefined || volume === undefined) {
      (sl === null || sl === undefined ? f.sl : tp === undefined ? f.tp : f.volume).input.focus();
      return;
    }
    /** @type {Record<string, unknown>} */
    const body = { symbol: symbolSelect.value, side: sideSelect.value, sl };
    if (tp !== null) body.tp = tp;
    if (volume !== null) body.volume = volume;
    const size = volume === null ? "a volume sized by the risk rules" : `${volume} lots`;
    const confirmed = await confirmAction({
      title: `${sideSelect.value === "buy" ? "Buy" : "Sell"} ${body.symbol}?`,
      text: `Open a ${sideSelect.value} of ${size} of ${body.symbol}, stop loss ${sl}${tp === null ? "" : `, take profit ${tp}`}. This sends a real order to the terminal.`,
      action: "Open trade",
      tone: "primary",
    });
    if (!confirmed) return;
    submit.setAttribute("disabled", "");
    try {
      const trade = await api.post("/api/trades", body);
      say(describeOpening({ trade }));
      form.reset();
      onOpened();
    } catch (e) {
      if (e instanceof SessionEnded) return;
      const error = /** @type {ApiError} */ (e);
      const at = error instanceof ApiError ? fieldOfError(error, FIELDS) : null;
      if (at) f[/** @type {keyof typeof f} */ (at)].setError(error.message);
      else say(describeOpening({ error }));
    } finally {
      submit.removeAttribute("disabled");
    }
  });

  return box;
}

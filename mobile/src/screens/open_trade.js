/**
 * The "new trade" form of the Positions screen: symbol (the watchlist), side, SL (required:
 * every trade has one), TP and volume (empty: sized by the risk rules). The order goes
 * through the server's risk checks like a strategy's; the answer is said in words (opened,
 * pending, refused by a rule with its reason, cancelled), a refused value next to its field.
 * Prices and the volume are read by the app's one number parser (widgets/field.js): "1,5" is
 * 1.5, and "1,234.5" or "1e3" is refused next to its field before anything is sent.
 */

import { ApiError, SessionEnded } from "../models/errors.js";
import { describeOpening, fieldOfError, newTradeOrder } from "../models/trading.js";
import { confirmAction } from "../widgets/confirm.js";
import { h } from "../widgets/dom.js";
import { field, numberInput, typedText } from "../widgets/field.js";

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
    const { body, problems } = newTradeOrder({
      symbol: symbolSelect.value,
      side: sideSelect.value,
      sl: typedText(f.sl.input),
      tp: typedText(f.tp.input),
      volume: typedText(f.volume.input),
    });
    const wrong = /** @type {const} */ (["sl", "tp", "volume"]).filter((k) => problems[k]);
    for (const k of wrong) f[k].setError(problems[k] ?? null);
    if (wrong.length) {
      f[wrong[0]].input.focus();
      return;
    }
    const size = body.volume === undefined ? "a volume sized by the risk rules" : `${body.volume} lots`;
    const confirmed = await confirmAction({
      title: `${sideSelect.value === "buy" ? "Buy" : "Sell"} ${body.symbol}?`,
      text: `Open a ${sideSelect.value} of ${size} of ${body.symbol}, stop loss ${body.sl}${body.tp === undefined ? "" : `, take profit ${body.tp}`}. This sends a real order to the terminal.`,
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

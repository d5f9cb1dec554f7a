/**
 * The dashboard's quotes card: which symbols it follows, and how `/ws/quotes` messages
 * (`data`: `{"symbol", "bid", "ask", "time"}`) change their rows. Pure functions.
 *
 * Rules:
 * - The symbols are the open positions' first (what the trader holds), then the first few of
 *   the daemon's watchlist, without repeats, at most `max` in all; a position on a symbol the
 *   daemon does not watch is left out (the stream has no quotes for it and refuses it).
 * - A quote for a symbol not followed, or older than the one shown, changes nothing (the
 *   stream may send any watched symbol until the subscription is acknowledged).
 * - The spread is in points, as the terminal counts it: (ask − bid) / point.
 * - `change` says which way the bid moved since the previous quote (the screen flashes it),
 *   `null` for a symbol's first quote.
 *
 * @typedef {object} Quote
 * @property {string} symbol
 * @property {number} bid
 * @property {number} ask
 * @property {number} time ms since the epoch
 * @property {number | null} spread points; null when the symbol's point is unknown
 * @property {"up" | "down" | "same" | null} change
 *
 * @typedef {Readonly<Record<string, Quote | null>>} Quotes the followed symbols, each with
 *   its last quote (null before the first)
 *
 * @typedef {object} QuoteSpec what the card needs of `GET /api/market/symbols`'s item
 * @property {string} name
 * @property {number} digits
 * @property {number} point
 */

/** How many symbols the card follows, and how many of them may come from the watchlist. */
export const QUOTE_LIMITS = /** @type {const} */ ({ max: 6, fromWatchlist: 3 });

/**
 * @param {readonly string[]} held the open positions' symbols
 * @param {readonly string[]} watchlist the daemon's watched symbols, in its order
 * @param {{max?: number, fromWatchlist?: number}} [limits]
 * @returns {string[]}
 */
export function quoteSymbols(held, watchlist, { max = QUOTE_LIMITS.max, fromWatchlist = QUOTE_LIMITS.fromWatchlist } = {}) {
  const watched = new Set(watchlist);
  const chosen = new Set(held.filter((s) => watched.has(s)));
  for (const s of watchlist.slice(0, fromWatchlist)) chosen.add(s);
  return [...chosen].slice(0, max);
}

/**
 * @param {readonly string[]} symbols
 * @returns {Quotes} each symbol without a quote yet
 */
export function emptyQuotes(symbols) {
  return Object.fromEntries(symbols.map((s) => [s, null]));
}

/**
 * The quotes with a `/ws/quotes` message's `data` applied.
 * @param {Quotes} quotes
 * @param {any} data
 * @param {ReadonlyMap<string, QuoteSpec>} specs
 * @returns {Quotes} the same object when nothing changed
 */
export function withQuote(quotes, data, specs) {
  const symbol = data?.symbol;
  if (typeof symbol !== "string" || !Object.hasOwn(quotes, symbol)) return quotes;
  const { bid, ask } = data;
  const time = Date.parse(data.time);
  if (!isNumber(bid) || !isNumber(ask) || Number.isNaN(time)) return quotes;
  const before = quotes[symbol];
  if (before && time < before.time) return quotes;
  const change = before ? (bid > before.bid ? "up" : bid < before.bid ? "down" : "same") : null;
  const point = specs.get(symbol)?.point;
  const spread = isNumber(point) && /** @type {number} */ (point) > 0 ? Math.round((ask - bid) / /** @type {number} */ (point)) : null;
  return { ...quotes, [symbol]: { symbol, bid, ask, time, spread, change } };
}

/**
 * A price with the symbol's digits ("1.08412"), a dash when unknown.
 * @param {number | null | undefined} value
 * @param {number | null | undefined} digits
 */
export function priceText(value, digits) {
  if (!isNumber(value)) return "—";
  const v = /** @type {number} */ (value);
  return Number.isInteger(digits) && /** @type {number} */ (digits) >= 0 && /** @type {number} */ (digits) <= 10
    ? v.toFixed(/** @type {number} */ (digits))
    : String(v);
}

/** @param {unknown} value */
function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/**
 * Trading values as the screens need them: volumes on the symbol's step, the trading forms
 * read from what was typed (moving SL/TP, closing part, a new trade), which form field a
 * refusal belongs to, the outcome of opening a trade in words, and the trade-history query.
 *
 * @typedef {object} SymbolSpec what `GET /api/market/symbols` says of a symbol
 * @property {string} name
 * @property {number} digits
 * @property {number} volume_min
 * @property {number} volume_max
 * @property {number} volume_step
 */

import { parseNumber } from "./schema_form.js";

/**
 * The number of decimals of a step (0.01 → 2).
 * @param {number} step
 */
export function decimalsOf(step) {
  const text = String(step);
  if (text.includes("e-")) return Number(text.split("e-")[1]);
  return text.includes(".") ? text.split(".")[1].length : 0;
}

/**
 * `volume` rounded down to the symbol's step (the server refuses a volume off the step).
 * @param {number} volume
 * @param {number} step
 */
export function floorToStep(volume, step) {
  if (!(step > 0)) return volume;
  const steps = Math.floor(volume / step + 1e-9);
  return Number((steps * step).toFixed(decimalsOf(step)));
}

/**
 * What "close part" offers first: half the position on the step, at least the minimum;
 * null when the position cannot be split (half would be under the minimum).
 * @param {number} volume the position's
 * @param {{volume_min: number, volume_step: number}} spec
 */
export function halfVolume(volume, spec) {
  const half = floorToStep(volume / 2, spec.volume_step);
  return half >= spec.volume_min && half < volume ? half : null;
}

/*
 * The trading forms, from what was typed to the request's body or the problems by field,
 * said next to each field before anything is sent. Every price and volume is read by
 * parseNumber (models/schema_form.js): "1,5" is 1.5, and "1,234.5", "1e3" or a typo is a
 * problem, never an empty field, so a typo is not taken for "no TP" or "sized by the risk
 * rules". Field text is `null` when the browser itself could not read it.
 */

/**
 * Moving a position's stops: a new SL, a new TP or both (0 removes one); an empty field
 * leaves that stop as it is, but one of the two must be given.
 * @param {{sl: string | null, tp: string | null}} typed
 * @returns {{body: {sl?: number, tp?: number}, problems: {sl?: string, tp?: string}}}
 */
export function stopsChange(typed) {
  /** @type {{sl?: number, tp?: number}} */
  const body = {};
  /** @type {{sl?: string, tp?: string}} */
  const problems = {};
  for (const key of /** @type {const} */ (["sl", "tp"])) {
    const read = parseNumber(typed[key]);
    if ("problem" in read) problems[key] = read.problem;
    else if (read.value !== null) body[key] = read.value;
  }
  if (!problems.sl && !problems.tp && !("sl" in body) && !("tp" in body)) {
    problems.sl = "Give a new stop loss, a new take profit, or both.";
  }
  return { body, problems };
}

/**
 * The volume to close of a position, in lots: required, above 0 (the step and the most that
 * may be closed are the server's checks, said next to the field).
 * @param {string | null} typed
 * @returns {{value: number} | {problem: string}}
 */
export function closeVolume(typed) {
  const read = parseNumber(typed);
  if ("problem" in read) return read;
  if (read.value === null) return { problem: "Give the volume to close, in lots." };
  if (!(read.value > 0)) return { problem: "Give a volume above 0." };
  return { value: read.value };
}

/**
 * A new trade's body (`POST /api/trades`): the SL is required (every trade has one), the TP
 * optional, the volume optional (empty: the risk rules size it) and above 0 when given.
 * @param {{symbol: string, side: string, sl: string | null, tp: string | null, volume: string | null}} typed
 * @returns {{body: {symbol: string, side: string, sl?: number, tp?: number, volume?: number}, problems: {sl?: string, tp?: string, volume?: string}}}
 */
export function newTradeOrder(typed) {
  /** @type {{symbol: string, side: string, sl?: number, tp?: number, volume?: number}} */
  const body = { symbol: typed.symbol, side: typed.side };
  /** @type {{sl?: string, tp?: string, volume?: string}} */
  const problems = {};
  for (const key of /** @type {const} */ (["sl", "tp", "volume"])) {
    const read = parseNumber(typed[key]);
    if ("problem" in read) problems[key] = read.problem;
    else if (read.value !== null) body[key] = read.value;
  }
  if (!problems.sl && body.sl === undefined) problems.sl = "Give a stop loss: every trade has one.";
  if (body.volume !== undefined && !(body.volume > 0)) {
    problems.volume = "Give a volume above 0, or leave it empty: the risk rules size it.";
  }
  return { body, problems };
}

/**
 * The form field a refusal is about, so the screen shows it next to that field:
 * validation details name the field; `invalid_stops`/`frozen` start with "sl"/"tp";
 * volume refusals are the volume's. null: not a field's (shown at the form's top).
 * @param {{code?: string, message?: string, details?: unknown}} error
 * @param {string[]} fields the form's fields
 * @returns {string | null}
 */
export function fieldOfError(error, fields) {
  const code = error?.code ?? "";
  if (code === "validation_error" && Array.isArray(error.details)) {
    const named = error.details.map((d) => String(d?.field ?? "").split(".")[0]).find((f) => fields.includes(f));
    return named ?? null;
  }
  if (code === "invalid_stops" || code === "frozen") {
    const first = /^(sl|tp)\b/.exec(String(error.message ?? ""));
    if (first && fields.includes(first[1])) return first[1];
  }
  if ((code === "invalid_volume" || code === "invalid_close_volume") && fields.includes("volume")) return "volume";
  return null;
}

/**
 * The outcome of `POST /api/trades` in words.
 * @param {{trade?: any, error?: {status?: number, code?: string, message?: string, details?: any}}} outcome
 * @returns {{tone: "good" | "warn" | "bad", text: string}}
 */
export function describeOpening({ trade, error }) {
  if (trade) {
    const what = `${trade.side} ${trade.volume} ${trade.symbol}`;
    if (trade.status === "open") {
      return { tone: "good", text: `Opened: ${what} at ${trade.entry_price} (trade ${trade.id}).` };
    }
    return {
      tone: "warn",
      text: `Sent, not confirmed yet: ${what} (trade ${trade.id}) is ${trade.status}; the bot will settle it with the terminal.`,
    };
  }
  const e = error ?? {};
  const message = String(e.message ?? "unknown error").replace(/\.$/, "");
  if (e.code === "risk_rejected") {
    const reason = e.details?.reason ? ` (${String(e.details.reason).replaceAll("_", " ")})` : "";
    return { tone: "bad", text: `Refused by the risk rules${reason}: ${message}.` };
  }
  if (e.code === "order_rejected") return { tone: "bad", text: `The terminal refused the order: ${message}.` };
  if (e.code === "order_cancelled") return { tone: "bad", text: `Not sent, trading was halted: ${message}.` };
  return { tone: "bad", text: `Not opened: ${message}.` };
}

/**
 * @typedef {object} TradeFilters
 * @property {string} [symbol]
 * @property {string} [status]
 * @property {string} [strategy]
 * @property {string} [from] a date, YYYY-MM-DD (UTC midnight)
 * @property {string} [to] a date, YYYY-MM-DD: that whole day is included
 */

export const PAGE_SIZE = 50;

/**
 * The query of `GET /api/trades` for one page: empty filters left out, and `to` made
 * exclusive as the API wants (the day after), so "to 5 Dec" includes the 5th.
 * @param {TradeFilters} filters
 * @param {number} offset
 * @param {number} [limit]
 */
export function tradesQuery(filters, offset, limit = PAGE_SIZE) {
  const q = new URLSearchParams({ limit: String(limit), offset: String(offset) });
  for (const key of /** @type {const} */ (["symbol", "status", "strategy", "from"])) {
    const value = (filters[key] ?? "").trim();
    if (value) q.set(key, value);
  }
  const to = (filters.to ?? "").trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(to)) {
    const next = new Date(`${to}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    q.set("to", next.toISOString().slice(0, 10));
  }
  return `/api/trades?${q}`;
}

/**
 * Whether more pages follow the ones loaded.
 * @param {{total: number}} page the last page
 * @param {number} loaded items loaded so far
 */
export function hasMore(page, loaded) {
  return loaded < page.total;
}

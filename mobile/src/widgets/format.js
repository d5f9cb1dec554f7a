/**
 * Numbers as a trader reads them: grouped thousands, two decimals, the account currency
 * after the amount ("10,000.00 USD"). The same format everywhere, whatever the phone's
 * locale, so screenshots, tests and support conversations agree.
 */

const MONEY = new Intl.NumberFormat("en-US", {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});

const EMPTY = "—";

/**
 * @param {number | null | undefined} value
 * @param {string | null | undefined} currency
 * @returns {string} e.g. "10,000.00 USD"; a dash when the value is unknown
 */
export function formatMoney(value, currency) {
  if (!isNumber(value)) return EMPTY;
  const amount = MONEY.format(/** @type {number} */ (value) + 0); // + 0: no "-0.00"
  return currency ? `${amount} ${currency}` : amount;
}

/**
 * A profit or loss: signed, with its tone for colour (never colour alone: the sign says it).
 * @param {number | null | undefined} value
 * @param {string | null | undefined} currency
 * @returns {{text: string, tone: "profit" | "loss" | "flat" | "unknown"}}
 */
export function formatPnl(value, currency) {
  if (!isNumber(value)) return { text: EMPTY, tone: "unknown" };
  const v = /** @type {number} */ (value);
  const rounded = Math.round(v * 100) / 100;
  if (rounded === 0) return { text: formatMoney(0, currency), tone: "flat" };
  const sign = rounded > 0 ? "+" : "-";
  return { text: sign + formatMoney(Math.abs(rounded), currency), tone: rounded > 0 ? "profit" : "loss" };
}

/**
 * A count, e.g. open positions.
 * @param {number | null | undefined} value
 */
export function formatCount(value) {
  return isNumber(value) ? String(value) : EMPTY;
}

/**
 * A word from the API ("connected", "paper") as a label ("Connected", "Paper").
 * @param {string | null | undefined} word
 */
export function formatWord(word) {
  if (!word) return EMPTY;
  const spaced = String(word).replaceAll("_", " ");
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/** @param {unknown} value */
function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/**
 * A time from the API (ISO-8601 UTC) as "2026-12-05 17:40:12 UTC": the trading clock's,
 * the same on every phone.
 * @param {string | null | undefined} iso
 */
export function formatTime(iso) {
  if (!iso) return EMPTY;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return EMPTY;
  return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/**
 * A price or volume as given (a dash when absent): prices keep the digits the API sent.
 * @param {number | null | undefined} value
 */
export function formatNumber(value) {
  return isNumber(value) ? String(value) : EMPTY;
}

/**
 * The dashboard's last signal: the newest of `GET /api/signals?limit=1` and the `/ws/signals`
 * stream (both give the same shape: `{"strategy", "symbol", "timeframe", "side", "entry",
 * "sl", "tp", "confidence", "reason", "bar_time", "time", "market_condition"}`), and how long
 * ago it came, in words. Pure functions.
 *
 * Rules:
 * - A signal's time is when the strategy emitted it (`time`: the close of its bar), not
 *   `bar_time` (the bar's open: an H4 signal's bar opened hours before it came). A server
 *   that does not send `time` yet leaves `bar_time`.
 * - The newest signal is the one emitted last; at equal times the one heard last (two
 *   strategies may signal on one bar), so a re-read after a reconnect never puts an older
 *   signal back on screen.
 * - "How long ago" is measured on the trading clock (the time of the latest figures), not the
 *   phone's clock: a phone whose clock is off, or the simulator running fast, still reads
 *   true. A time ahead of "now" (the two clocks a moment apart) is "just now".
 *
 * @typedef {object} Signal
 * @property {string} strategy
 * @property {string} symbol
 * @property {string | null} timeframe
 * @property {"buy" | "sell"} side
 * @property {number | null} entry
 * @property {number} time when the strategy emitted it, ms since the epoch
 */

/**
 * A signal from the API, checked; null when it lacks what the dashboard shows.
 * @param {any} data
 * @returns {Signal | null}
 */
export function signalOf(data) {
  if (!data || typeof data !== "object") return null;
  const parsed = (/** @type {unknown} */ v) => (typeof v === "string" ? Date.parse(v) : Number.NaN);
  const emitted = parsed(data.time);
  const time = Number.isNaN(emitted) ? parsed(data.bar_time) : emitted;
  if (typeof data.strategy !== "string" || typeof data.symbol !== "string" || Number.isNaN(time)) return null;
  if (data.side !== "buy" && data.side !== "sell") return null;
  return {
    strategy: data.strategy,
    symbol: data.symbol,
    timeframe: typeof data.timeframe === "string" ? data.timeframe : null,
    side: data.side,
    entry: typeof data.entry === "number" && Number.isFinite(data.entry) ? data.entry : null,
    time,
  };
}

/**
 * The newer of the signal shown and one just heard.
 * @param {Signal | null} shown
 * @param {Signal | null} heard
 * @returns {Signal | null}
 */
export function newerSignal(shown, heard) {
  if (!heard) return shown;
  if (!shown) return heard;
  return heard.time >= shown.time ? heard : shown;
}

/**
 * How long ago `then` was, at `now`, in words: "just now", "40 seconds ago", "1 minute ago",
 * "3 hours ago", "2 days ago".
 * @param {number} then ms
 * @param {number} now ms
 */
export function timeAgo(then, now) {
  const seconds = Math.floor((now - then) / 1000);
  if (seconds < 10) return "just now";
  if (seconds < 60) return `${seconds} seconds ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return plural(minutes, "minute");
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return plural(hours, "hour");
  return plural(Math.floor(hours / 24), "day");
}

/** @param {number} n @param {string} unit */
function plural(n, unit) {
  return `${n} ${unit}${n === 1 ? "" : "s"} ago`;
}

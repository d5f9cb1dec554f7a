/**
 * The equity curve and today's P/L: what `GET /api/account/equity?range=day|month` answers,
 * kept live by `/ws/performance`. Pure functions: every update returns a new value.
 *
 * Rules:
 * - Times are the trading clock's (the API's ISO times, as ms since the epoch), never the
 *   phone's: the curve's minutes are the bot's minutes, also when the simulator runs fast.
 * - The curve extends live: a performance snapshot adds a point at most once per bucket of its
 *   range (a minute for the day, an hour for the month, the API's own spacing). Within the
 *   bucket of the last point it replaces that point, so the curve always ends at the latest
 *   figures; a snapshot older than the last point changes nothing.
 * - Today's P/L is the equity now minus the equity the trading day began with (what the
 *   daily-loss rule measures), so it stays live between reads. Once the trading clock passes
 *   the end of the day read, the day must be read again (a new day, a new start equity).
 * - Bounded: the day keeps at most a day of minutes, the month 30 days of hours.
 *
 * @typedef {"day" | "month"} Range
 *
 * @typedef {object} EquityPoint
 * @property {number} time ms since the epoch (trading clock)
 * @property {number} equity
 * @property {number | null} balance
 *
 * @typedef {object} EquitySeries
 * @property {Range} range
 * @property {string | null} currency
 * @property {number | null} start ms: the trading day's start (day) or 30 days back (month)
 * @property {number | null} dayStartEquity the equity the trading day began with
 * @property {number | null} todayPnl the server's, as of its read
 * @property {EquityPoint[]} points in time order
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Each range's spacing and how far back it reaches. */
export const RANGES = /** @type {const} */ ({
  day: { bucketMs: MINUTE, spanMs: DAY },
  month: { bucketMs: HOUR, spanMs: 30 * DAY },
});

/**
 * The answer of `GET /api/account/equity`, checked: points without a finite time and equity
 * are left out, the rest put in time order.
 * @param {any} answer
 * @param {Range} range the one asked for (the answer's own when it says one)
 * @returns {EquitySeries}
 */
export function equitySeries(answer, range) {
  const a = answer && typeof answer === "object" ? answer : {};
  const points = (Array.isArray(a.points) ? a.points : [])
    .map(pointOf)
    .filter((/** @type {EquityPoint | null} */ p) => p !== null)
    .sort((/** @type {EquityPoint} */ p, /** @type {EquityPoint} */ q) => p.time - q.time);
  return {
    range: a.range === "day" || a.range === "month" ? a.range : range,
    currency: typeof a.currency === "string" ? a.currency : null,
    start: msOf(a.start),
    dayStartEquity: numberOrNull(a.day_start_equity),
    todayPnl: numberOrNull(a.today_pnl),
    points: /** @type {EquityPoint[]} */ (points),
  };
}

/**
 * The live point of a `/ws/performance` message's `data`: its time and account.
 * @param {any} data
 * @returns {EquityPoint | null} null before the account was read
 */
export function livePointOf(data) {
  const a = data?.account;
  if (!a) return null;
  return pointOf({ time: data.time, equity: a.equity, balance: a.balance });
}

/**
 * The series with a live point: appended when it falls in a later bucket than the last
 * point, replacing the last point within its bucket, ignored when older.
 * @param {EquitySeries} series
 * @param {EquityPoint} point
 * @returns {EquitySeries}
 */
export function withLivePoint(series, point) {
  const { bucketMs, spanMs } = RANGES[series.range];
  const points = series.points;
  const last = points[points.length - 1];
  if (last && point.time < last.time) return series;
  const sameBucket = last && Math.floor(last.time / bucketMs) === Math.floor(point.time / bucketMs);
  const kept = sameBucket ? points.slice(0, -1) : points.slice();
  kept.push(point);
  const from = point.time - spanMs;
  const firstKept = kept.findIndex((p) => p.time >= from);
  return { ...series, points: firstKept > 0 ? kept.slice(firstKept) : kept };
}

/**
 * Whether the trading day of a day series is over at `time` (read the day again).
 * @param {EquitySeries} series
 * @param {number} time ms, trading clock
 */
export function dayIsOver(series, time) {
  return series.range === "day" && series.start !== null && time >= series.start + DAY;
}

/**
 * Today's P/L: the equity now minus the day's starting equity, to the cent.
 * @param {number | null | undefined} dayStartEquity
 * @param {number | null | undefined} equity
 * @returns {number | null} null when either is unknown
 */
export function todayPnl(dayStartEquity, equity) {
  if (!isNumber(dayStartEquity) || !isNumber(equity)) return null;
  return Math.round((/** @type {number} */ (equity) - /** @type {number} */ (dayStartEquity)) * 100) / 100;
}

/**
 * Today's P/L to show: live from the account's equity when both are known, else the
 * server's figure of the last read.
 * @param {EquitySeries | null} day
 * @param {{equity: number} | null} account
 * @returns {number | null}
 */
export function todayPnlNow(day, account) {
  if (!day) return null;
  return todayPnl(day.dayStartEquity, account?.equity) ?? day.todayPnl;
}

/** @param {any} p @returns {EquityPoint | null} */
function pointOf(p) {
  const time = msOf(p?.time);
  if (time === null || !isNumber(p?.equity)) return null;
  return { time, equity: p.equity, balance: numberOrNull(p.balance) };
}

/** @param {unknown} iso @returns {number | null} */
function msOf(iso) {
  if (typeof iso !== "string") return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/** @param {unknown} value @returns {number | null} */
function numberOrNull(value) {
  return isNumber(value) ? /** @type {number} */ (value) : null;
}

/** @param {unknown} value */
function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

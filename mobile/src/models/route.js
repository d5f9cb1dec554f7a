/**
 * Where the app is, as the URL's hash says: `#/` (dashboard), `#/positions`, `#/trades`,
 * `#/trades/{id}`, `#/analysis` (market conditions, signals, performance),
 * `#/analysis/{symbol}` (a symbol's chart and analysis; the symbol percent-encoded, since
 * some hold spaces), `#/control` (strategies, risk, alerts). The hash is the only navigation
 * state, so the phone's back and forward buttons, a reload and a shared link all land on
 * the same screen.
 *
 * @typedef {{name: "dashboard"} | {name: "positions"} | {name: "trades"} | {name: "trade", id: number} | {name: "analysis"} | {name: "symbol", symbol: string} | {name: "control"}} Route
 */

/** The tabs of the bottom bar, in order. */
export const TABS = /** @type {const} */ ([
  { name: "dashboard", label: "Dashboard", hash: "#/" },
  { name: "positions", label: "Positions", hash: "#/positions" },
  { name: "trades", label: "Trades", hash: "#/trades" },
  { name: "analysis", label: "Analysis", hash: "#/analysis" },
  { name: "control", label: "Control", hash: "#/control" },
]);

/** A symbol as the API takes it: 1–32 characters, no control character. */
const SYMBOL = /^[^\p{Cc}/]{1,32}$/u;

/**
 * The route of a hash; anything unknown is the dashboard.
 * @param {string} hash e.g. "#/trades/12"
 * @returns {Route}
 */
export function parseRoute(hash) {
  const path = String(hash || "").replace(/^#/, "").replace(/\/+$/, "");
  if (path === "/positions") return { name: "positions" };
  if (path === "/trades") return { name: "trades" };
  if (path === "/control") return { name: "control" };
  if (path === "/analysis") return { name: "analysis" };
  const symbol = /^\/analysis\/(.+)$/.exec(path);
  if (symbol) {
    let name = "";
    try {
      name = decodeURIComponent(symbol[1]);
    } catch {
      return { name: "analysis" }; // a broken escape: the list, where every symbol is
    }
    return SYMBOL.test(name) ? { name: "symbol", symbol: name } : { name: "analysis" };
  }
  const trade = /^\/trades\/([1-9][0-9]{0,18})$/.exec(path);
  if (trade) return { name: "trade", id: Number(trade[1]) };
  return { name: "dashboard" };
}

/**
 * The hash of a route.
 * @param {Route} route
 */
export function routeHash(route) {
  if (route.name === "trade") return `#/trades/${route.id}`;
  if (route.name === "symbol") return `#/analysis/${encodeURIComponent(route.symbol)}`;
  return TABS.find((t) => t.name === route.name)?.hash ?? "#/";
}

/**
 * The tab a route belongs to (a trade's detail is under Trades, a symbol's under Analysis).
 * @param {Route} route
 */
export function tabOf(route) {
  if (route.name === "trade") return "trades";
  if (route.name === "symbol") return "analysis";
  return route.name;
}

/**
 * Where the app is, as the URL's hash says: `#/` (dashboard), `#/positions`, `#/trades`,
 * `#/trades/{id}`, `#/control` (strategies, risk, alerts). The hash is the only navigation
 * state, so the phone's back and forward buttons, a reload and a shared link all land on
 * the same screen.
 *
 * @typedef {{name: "dashboard"} | {name: "positions"} | {name: "trades"} | {name: "trade", id: number} | {name: "control"}} Route
 */

/** The tabs of the bottom bar, in order (Analysis joins when it exists). */
export const TABS = /** @type {const} */ ([
  { name: "dashboard", label: "Dashboard", hash: "#/" },
  { name: "positions", label: "Positions", hash: "#/positions" },
  { name: "trades", label: "Trades", hash: "#/trades" },
  { name: "control", label: "Control", hash: "#/control" },
]);

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
  return TABS.find((t) => t.name === route.name)?.hash ?? "#/";
}

/**
 * The tab a route belongs to (a trade's detail is under Trades).
 * @param {Route} route
 */
export function tabOf(route) {
  return route.name === "trade" ? "trades" : route.name;
}

// The pure modules of the trading screens (routes, roles, volumes, refusals, the history
// query), run by Node without a browser: node --test mobile/tests/

import assert from "node:assert/strict";
import { test } from "node:test";

import { canTrade, roleOfToken } from "../src/models/role.js";
import { TABS, parseRoute, routeHash, tabOf } from "../src/models/route.js";
import {
  closeVolume,
  decimalsOf,
  describeOpening,
  fieldOfError,
  floorToStep,
  halfVolume,
  hasMore,
  newTradeOrder,
  stopsChange,
  tradesQuery,
} from "../src/models/trading.js";
import { formatTime } from "../src/widgets/format.js";

// -- routes ----------------------------------------------------------------------------------

test("each screen's hash names it, and an unknown hash is the dashboard", () => {
  assert.deepEqual(parseRoute(""), { name: "dashboard" });
  assert.deepEqual(parseRoute("#/"), { name: "dashboard" });
  assert.deepEqual(parseRoute("#/positions"), { name: "positions" });
  assert.deepEqual(parseRoute("#/trades/"), { name: "trades" });
  assert.deepEqual(parseRoute("#/trades/42"), { name: "trade", id: 42 });
  assert.deepEqual(parseRoute("#/trades/0"), { name: "dashboard" });
  assert.deepEqual(parseRoute("#/nowhere"), { name: "dashboard" });
});

test("a route's hash reads back as the same route", () => {
  /** @type {import("../src/models/route.js").Route[]} */
  const routes = [{ name: "dashboard" }, { name: "positions" }, { name: "trades" }, { name: "trade", id: 7 }];
  for (const route of routes) {
    assert.deepEqual(parseRoute(routeHash(route)), route);
  }
});

test("a trade's detail belongs to the Trades tab, and the tabs are the screens in order", () => {
  assert.equal(tabOf({ name: "trade", id: 1 }), "trades");
  assert.equal(tabOf({ name: "positions" }), "positions");
  assert.deepEqual(TABS.map((t) => t.name), ["dashboard", "positions", "trades", "analysis", "control"]);
});

// -- roles -----------------------------------------------------------------------------------

/** @param {object} claims */
const token = (claims) => `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;

test("the role is read from the access token's claims", () => {
  assert.equal(roleOfToken(token({ sub: "1", role: "viewer" })), "viewer");
  assert.equal(roleOfToken(token({ sub: "1", role: "admin", username: "ådå?>" })), "admin");
});

test("a token without a known role gives no role", () => {
  assert.equal(roleOfToken(token({ role: "root" })), null);
  assert.equal(roleOfToken("not-a-jwt"), null);
  assert.equal(roleOfToken("a.%%%.c"), null);
  assert.equal(roleOfToken(null), null);
});

test("traders and admins may trade, viewers may not", () => {
  assert.equal(canTrade("trader"), true);
  assert.equal(canTrade("admin"), true);
  assert.equal(canTrade("viewer"), false);
  assert.equal(canTrade(null), false);
});

// -- volumes ---------------------------------------------------------------------------------

test("a volume is floored to the symbol's step without float noise", () => {
  assert.equal(decimalsOf(0.01), 2);
  assert.equal(decimalsOf(1), 0);
  assert.equal(decimalsOf(1e-7), 7);
  assert.equal(floorToStep(0.15, 0.01), 0.15);
  assert.equal(floorToStep(0.079, 0.01), 0.07);
  assert.equal(floorToStep(0.3, 0.1), 0.3);
});

test("close part offers half the position on the step", () => {
  const spec = { volume_min: 0.01, volume_step: 0.01 };
  assert.equal(halfVolume(0.1, spec), 0.05);
  assert.equal(halfVolume(0.15, spec), 0.07);
});

test("a position at the minimum volume cannot be split", () => {
  assert.equal(halfVolume(0.01, { volume_min: 0.01, volume_step: 0.01 }), null);
  assert.equal(halfVolume(1, { volume_min: 1, volume_step: 1 }), null);
});

// -- the trading forms -----------------------------------------------------------------------

const NOT_A_NUMBER = "Give a number such as 1.5.";

test("a stop typed with a decimal comma moves to the price meant", () => {
  assert.deepEqual(stopsChange({ sl: "1,0850", tp: "" }), { body: { sl: 1.085 }, problems: {} });
  assert.deepEqual(stopsChange({ sl: " ", tp: "1.1" }), { body: { tp: 1.1 }, problems: {} });
  assert.deepEqual(stopsChange({ sl: "0", tp: "0" }), { body: { sl: 0, tp: 0 }, problems: {} });
});

test("a stop typed with grouping or an exponent is refused next to its field, nothing sent", () => {
  assert.deepEqual(stopsChange({ sl: "1,234.5", tp: "1e3" }).problems, { sl: NOT_A_NUMBER, tp: NOT_A_NUMBER });
  assert.deepEqual(stopsChange({ sl: null, tp: "1.2" }).problems, { sl: NOT_A_NUMBER });
});

test("moving the stops needs a new SL, a new TP or both", () => {
  assert.deepEqual(stopsChange({ sl: "", tp: "" }), { body: {}, problems: { sl: "Give a new stop loss, a new take profit, or both." } });
});

test("the volume to close is required, above 0, and read with a comma too", () => {
  assert.deepEqual(closeVolume("0,05"), { value: 0.05 });
  assert.deepEqual(closeVolume(" 0.1 "), { value: 0.1 });
  assert.deepEqual(closeVolume(""), { problem: "Give the volume to close, in lots." });
  assert.deepEqual(closeVolume("0"), { problem: "Give a volume above 0." });
  assert.deepEqual(closeVolume("1,000.5"), { problem: NOT_A_NUMBER });
  assert.deepEqual(closeVolume(null), { problem: NOT_A_NUMBER });
});

test("a new trade's body: SL required, TP and volume only when typed, commas read as points", () => {
  assert.deepEqual(newTradeOrder({ symbol: "EURUSD", side: "buy", sl: "1,0800", tp: "", volume: "" }), {
    body: { symbol: "EURUSD", side: "buy", sl: 1.08 },
    problems: {},
  });
  assert.deepEqual(newTradeOrder({ symbol: "USDJPY", side: "sell", sl: "151,234", tp: "149.5", volume: "0,02" }), {
    body: { symbol: "USDJPY", side: "sell", sl: 151.234, tp: 149.5, volume: 0.02 },
    problems: {},
  });
});

test("a new trade typed wrong is refused field by field, a typo never taken for 'none'", () => {
  assert.deepEqual(newTradeOrder({ symbol: "EURUSD", side: "buy", sl: "", tp: "1e3", volume: "1 000" }).problems, {
    sl: "Give a stop loss: every trade has one.",
    tp: NOT_A_NUMBER,
    volume: NOT_A_NUMBER,
  });
  assert.deepEqual(newTradeOrder({ symbol: "EURUSD", side: "buy", sl: "1.08", tp: null, volume: "-1" }).problems, {
    tp: NOT_A_NUMBER,
    volume: "Give a volume above 0, or leave it empty: the risk rules size it.",
  });
});

// -- refusals next to their field ------------------------------------------------------------

test("a stops refusal belongs to the level its message names", () => {
  const error = { code: "invalid_stops", message: "sl 1.2 of a buy must be below the bid (1.1)" };
  assert.equal(fieldOfError(error, ["sl", "tp"]), "sl");
  assert.equal(fieldOfError({ ...error, message: "tp 1.0 of a buy must be above the bid (1.1)" }, ["sl", "tp"]), "tp");
  assert.equal(fieldOfError({ code: "frozen", message: "sl 1.1 is within the freeze level" }, ["sl", "tp"]), "sl");
});

test("a validation error belongs to the field its details name", () => {
  const error = { code: "validation_error", details: [{ field: "volume", message: "must be > 0" }] };
  assert.equal(fieldOfError(error, ["sl", "volume"]), "volume");
  assert.equal(fieldOfError(error, ["sl"]), null);
});

test("a volume refusal belongs to the volume, anything else to no field", () => {
  assert.equal(fieldOfError({ code: "invalid_volume", message: "volume 0.015 is off the step" }, ["volume"]), "volume");
  assert.equal(fieldOfError({ code: "invalid_close_volume", message: "cannot close" }, ["volume"]), "volume");
  assert.equal(fieldOfError({ code: "not_open", message: "trade 3 is closed, not open" }, ["volume"]), null);
});

// -- opening a trade, in words ---------------------------------------------------------------

test("an opened trade says what was bought at what price", () => {
  const trade = { id: 9, side: "buy", volume: 0.1, symbol: "EURUSD", status: "open", entry_price: 1.0851 };
  assert.deepEqual(describeOpening({ trade }), { tone: "good", text: "Opened: buy 0.1 EURUSD at 1.0851 (trade 9)." });
});

test("a trade still being settled says so", () => {
  const trade = { id: 9, side: "sell", volume: 0.1, symbol: "EURUSD", status: "submitted" };
  const said = describeOpening({ trade });
  assert.equal(said.tone, "warn");
  assert.match(said.text, /^Sent, not confirmed yet: sell 0.1 EURUSD \(trade 9\) is submitted/);
});

test("a risk rejection says the rule's reason and the server's message", () => {
  const error = { status: 422, code: "risk_rejected", message: "daily loss limit reached.", details: { reason: "daily_loss" } };
  assert.deepEqual(describeOpening({ error }), { tone: "bad", text: "Refused by the risk rules (daily loss): daily loss limit reached." });
});

test("a cancelled order and a terminal refusal are told apart", () => {
  assert.match(describeOpening({ error: { code: "order_cancelled", message: "not sent: kill switch" } }).text, /^Not sent, trading was halted: /);
  assert.match(describeOpening({ error: { code: "order_rejected", message: "no money" } }).text, /^The terminal refused the order: no money\.$/);
});

// -- trade history ---------------------------------------------------------------------------

test("the history query leaves empty filters out", () => {
  assert.equal(tradesQuery({ symbol: "", status: "closed", strategy: " " }, 0), "/api/trades?limit=50&offset=0&status=closed");
});

test("the history query's 'to' day is included (the API's bound is exclusive)", () => {
  const query = tradesQuery({ symbol: "EURUSD", from: "2026-12-01", to: "2026-12-31" }, 100);
  assert.equal(query, "/api/trades?limit=50&offset=100&symbol=EURUSD&from=2026-12-01&to=2027-01-01");
});

test("more pages follow until the total is loaded", () => {
  assert.equal(hasMore({ total: 120 }, 100), true);
  assert.equal(hasMore({ total: 120 }, 120), false);
  assert.equal(hasMore({ total: 0 }, 0), false);
});

test("times read as UTC on every phone", () => {
  assert.equal(formatTime("2026-12-05T17:40:12.345Z"), "2026-12-05 17:40:12 UTC");
  assert.equal(formatTime(null), "—");
  assert.equal(formatTime("soon"), "—");
});

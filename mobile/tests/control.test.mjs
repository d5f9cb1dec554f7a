// The pure modules of the Control screen (alerts, risk limits), run by Node without a
// browser: node --test mobile/tests/

import assert from "node:assert/strict";
import { test } from "node:test";

import { LEVELS, base64urlToBytes, deviceLabel, preferenceChange } from "../src/models/alerts.js";
import { isEditableLimit, limitChanges, limitLabel, limitText } from "../src/models/risk.js";
import { parseRoute, routeHash, tabOf } from "../src/models/route.js";

// -- alerts ----------------------------------------------------------------------------------

test("a base64url key becomes its bytes, with or without padding", () => {
  assert.deepEqual([...base64urlToBytes("AQID")], [1, 2, 3]);
  assert.deepEqual([...base64urlToBytes("-_8")], [0xfb, 0xff]);
  assert.deepEqual([...base64urlToBytes("-_8=")], [0xfb, 0xff]);
  assert.deepEqual([...base64urlToBytes("")], []);
});

test("a VAPID public key decodes to a 65-byte uncompressed point", () => {
  const key = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString("base64url");
  const bytes = base64urlToBytes(key);
  assert.equal(bytes.length, 65);
  assert.equal(bytes[0], 4);
});

test("a key that is not base64url is refused in words", () => {
  assert.throws(() => base64urlToBytes("a+b/"), /not base64url/);
  assert.throws(() => base64urlToBytes("abcde"), /not base64url/);
});

test("a device is named by its browser and system", () => {
  const android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36";
  const iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
  assert.equal(deviceLabel(android), "Chrome on Android");
  assert.equal(deviceLabel(iphone), "Safari on iOS");
  assert.equal(deviceLabel("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"), "Firefox on Linux");
  assert.equal(deviceLabel(""), "This device");
  assert.ok(deviceLabel(android).length <= 100);
});

test("a preference change names one type and one of the three levels", () => {
  assert.deepEqual(LEVELS, ["on", "silent", "off"]);
  assert.deepEqual(preferenceChange("fill", "silent"), { preferences: { fill: "silent" } });
  assert.throws(() => preferenceChange("fill", "loud"), /Unknown alert level/);
});

// -- risk limits -----------------------------------------------------------------------------

test("a limit's name reads as words, percentages marked", () => {
  assert.equal(limitLabel("max_daily_loss_percent"), "Max daily loss (%)");
  assert.equal(limitLabel("cooldown_minutes"), "Cooldown minutes");
});

test("only plain numbers are edited in the form; the rest read as text", () => {
  assert.ok(isEditableLimit(5));
  assert.ok(!isEditableLimit(null));
  assert.ok(!isEditableLimit(["london"]));
  assert.equal(limitText(null), "any");
  assert.equal(limitText([]), "none");
  assert.equal(limitText(["london", "new_york"]), "london, new_york");
  assert.equal(limitText({ EURUSD: 20 }), "EURUSD: 20");
});

test("only the limits typed differently are sent, and a non-number is a problem", () => {
  const current = { max_daily_loss_percent: 5, max_open_positions: 5 };
  assert.deepEqual(limitChanges(current, { max_daily_loss_percent: "3", max_open_positions: "5" }), {
    changes: { max_daily_loss_percent: 3 },
    problems: {},
  });
  assert.deepEqual(limitChanges(current, { max_daily_loss_percent: "", max_open_positions: "five" }), {
    changes: {},
    problems: { max_open_positions: "Give a number such as 1.5." },
  });
});

test("a limit typed with a decimal comma is the number meant; grouping, exponents and the unreadable are refused", () => {
  const current = { max_daily_loss_percent: 5, max_drawdown_percent: 10, max_open_positions: 5 };
  assert.deepEqual(limitChanges(current, { max_daily_loss_percent: "2,5", max_drawdown_percent: " 12.5 ", max_open_positions: "5" }), {
    changes: { max_daily_loss_percent: 2.5, max_drawdown_percent: 12.5 },
    problems: {},
  });
  assert.deepEqual(limitChanges(current, { max_daily_loss_percent: "1,234.5", max_drawdown_percent: "1e3", max_open_positions: null }), {
    changes: {},
    problems: {
      max_daily_loss_percent: "Give a number such as 1.5.",
      max_drawdown_percent: "Give a number such as 1.5.",
      max_open_positions: "Give a number such as 1.5.",
    },
  });
});

// -- the route -------------------------------------------------------------------------------

test("the Control screen has its own hash and tab", () => {
  assert.deepEqual(parseRoute("#/control"), { name: "control" });
  assert.equal(routeHash({ name: "control" }), "#/control");
  assert.equal(tabOf({ name: "control" }), "control");
});

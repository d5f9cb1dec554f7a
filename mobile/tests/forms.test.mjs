// The pure modules of the forms built from a schema (strategy parameters) and of the risk
// limits that are lists, and the API client offline, run by Node without a browser:
// node --test mobile/tests/

import assert from "node:assert/strict";
import { test } from "node:test";

import { Api, OFFLINE, isOffline } from "../src/services/api.js";
import { choicesValue, limitChangesSchema, listLimitsOf, mapValue, sameLimit } from "../src/models/risk.js";
import {
  NOT_A_NUMBER,
  changedValues,
  describeChanges,
  fieldsOf,
  hintOf,
  labelOf,
  onStep,
  parseField,
  parseNumber,
  readForm,
  refusalByField,
  textOf,
  valueAt,
} from "../src/models/schema_form.js";

// What GET /api/strategies says of ma_rsi's parameters (pydantic's model_json_schema()).
const MA_RSI = {
  additionalProperties: false,
  description: "Parameters of :class:`MaRsiStrategy`.",
  properties: {
    atr_period: { default: 14, maximum: 200, minimum: 1, title: "Atr Period", type: "integer" },
    atr_multiplier: { default: 1.5, exclusiveMinimum: 0, maximum: 20, title: "Atr Multiplier", type: "number" },
    fast_period: { default: 20, maximum: 500, minimum: 2, title: "Fast Period", type: "integer" },
    slow_period: { default: 50, maximum: 1000, minimum: 3, title: "Slow Period", type: "integer" },
    rsi_buy_level: { default: 40.0, exclusiveMaximum: 100, exclusiveMinimum: 0, title: "Rsi Buy Level", type: "number" },
  },
  title: "MaRsiParams",
  type: "object",
};
const PARAMS = { atr_period: 14, atr_multiplier: 1.5, fast_period: 20, slow_period: 50, rsi_buy_level: 40 };

// Every other kind a schema can give: enum, boolean, string, a step, an optional value
// (anyOf with null), a $ref'd nested object, and something the form cannot edit.
const EVERY_KIND = {
  type: "object",
  $defs: {
    Management: {
      type: "object",
      properties: {
        break_even_at_r: { anyOf: [{ type: "number", exclusiveMinimum: 0, maximum: 100 }, { type: "null" }], default: null },
        trailing_distance_r: { type: "number", exclusiveMinimum: 0, maximum: 100, default: 1 },
      },
    },
  },
  properties: {
    mode: { enum: ["fast", "slow"], default: "fast", description: "How eagerly it enters" },
    filter: { type: "boolean", default: false },
    tag: { type: "string", minLength: 2, maxLength: 5 },
    lot_step: { type: "number", minimum: 0.01, maximum: 1, multipleOf: 0.01 },
    period: { type: "integer", minimum: 0, maximum: 100, multipleOf: 5 },
    management: { $ref: "#/$defs/Management" },
    symbols: { type: "array", items: { type: "string" } },
  },
};

// What GET /api/strategies says of an instance's risk multiplier and trade management, put
// side by side as the strategies screen does: the changed values are the request's body.
const RISK_AND_MANAGEMENT = {
  type: "object",
  properties: {
    risk_multiplier: { type: "number", exclusiveMinimum: 0, maximum: 10, title: "Risk Multiplier", description: "Multiplies the risk per trade." },
    management: {
      additionalProperties: false,
      description: "How the position manager moves a trade's stop-loss once the trade is in profit.",
      properties: {
        break_even_at_r: { anyOf: [{ exclusiveMinimum: 0, maximum: 100, type: "number" }, { type: "null" }], default: null, title: "Break Even At R" },
        break_even_offset_points: { default: 0, maximum: 100000, minimum: 0, title: "Break Even Offset Points", type: "integer" },
        trailing_start_r: { anyOf: [{ exclusiveMinimum: 0, maximum: 100, type: "number" }, { type: "null" }], default: null, title: "Trailing Start R" },
        trailing_distance_r: { default: 1.0, exclusiveMinimum: 0, maximum: 100, title: "Trailing Distance R", type: "number" },
      },
      title: "TradeManagement",
      type: "object",
    },
  },
};
const IN_FORCE = { risk_multiplier: 1, management: { break_even_at_r: null, break_even_offset_points: 0, trailing_start_r: null, trailing_distance_r: 1 } };

const byName = (/** @type {any[]} */ fields) => Object.fromEntries(fields.map((f) => [f.name, f]));

// -- fields from the schema ------------------------------------------------------------------

test("a strategy's schema becomes one field per parameter, in the schema's order", () => {
  const fields = fieldsOf(MA_RSI);
  assert.deepEqual(fields.map((f) => f.name), ["atr_period", "atr_multiplier", "fast_period", "slow_period", "rsi_buy_level"]);
  const f = byName(fields);
  assert.deepEqual(
    [f.fast_period.kind, f.fast_period.minimum, f.fast_period.maximum, f.fast_period.exclusiveMinimum, f.fast_period.default],
    ["integer", 2, 500, false, 20],
  );
  assert.deepEqual(
    [f.rsi_buy_level.kind, f.rsi_buy_level.minimum, f.rsi_buy_level.exclusiveMinimum, f.rsi_buy_level.maximum, f.rsi_buy_level.exclusiveMaximum],
    ["number", 0, true, 100, true],
  );
  assert.equal(f.atr_period.nullable, false);
});

test("every kind is recognised: enum, boolean, string, steps, optional, nested through $ref, other", () => {
  const f = byName(fieldsOf(EVERY_KIND));
  assert.deepEqual(Object.keys(f), ["mode", "filter", "tag", "lot_step", "period", "management.break_even_at_r", "management.trailing_distance_r", "symbols"]);
  assert.deepEqual([f.mode.kind, f.mode.options, f.mode.description], ["enum", ["fast", "slow"], "How eagerly it enters"]);
  assert.equal(f.filter.kind, "boolean");
  assert.deepEqual([f.tag.kind, f.tag.minLength, f.tag.maxLength], ["string", 2, 5]);
  assert.deepEqual([f.lot_step.kind, f.lot_step.multipleOf], ["number", 0.01]);
  const be = f["management.break_even_at_r"];
  assert.deepEqual([be.kind, be.nullable, be.path, be.minimum, be.exclusiveMinimum], ["number", true, ["management", "break_even_at_r"], 0, true]);
  assert.equal(f.symbols.kind, "other");
});

test("labels read as words, abbreviations in capitals", () => {
  assert.equal(labelOf("rsi_buy_level"), "RSI buy level");
  assert.equal(labelOf("atr_period"), "ATR period");
  assert.equal(labelOf("fast_period"), "Fast period");
  assert.equal(labelOf("break_even_at_r"), "Break even at R");
  assert.equal(labelOf("trailing_distance_r"), "Trailing distance R");
});

test("a hint says what a field accepts", () => {
  const f = byName(fieldsOf({ ...EVERY_KIND, properties: { ...EVERY_KIND.properties, ...MA_RSI.properties } }));
  assert.equal(hintOf(f.fast_period), "2 to 500, whole number");
  assert.equal(hintOf(f.atr_multiplier), "above 0, up to 20");
  assert.equal(hintOf(f.rsi_buy_level), "above 0, below 100");
  assert.equal(hintOf(f.lot_step), "0.01 to 1, steps of 0.01");
  assert.equal(hintOf(f["management.break_even_at_r"]), "above 0, up to 100, empty for none");
  assert.equal(hintOf(f.mode), "");
});

// -- what was typed --------------------------------------------------------------------------

test("an integer field takes whole numbers in range and refuses the rest in words", () => {
  const fast = byName(fieldsOf(MA_RSI)).fast_period;
  assert.deepEqual(parseField(fast, "15"), { value: 15 });
  assert.deepEqual(parseField(fast, " 500 "), { value: 500 });
  assert.deepEqual(parseField(fast, "2"), { value: 2 });
  assert.deepEqual(parseField(fast, "1"), { problem: "Out of range: 2 to 500." });
  assert.deepEqual(parseField(fast, "501"), { problem: "Out of range: 2 to 500." });
  assert.deepEqual(parseField(fast, "15.5"), { problem: "Give a whole number." });
  assert.deepEqual(parseField(fast, "fifteen"), { problem: "Give a whole number." });
  assert.deepEqual(parseField(fast, "0x10"), { problem: "Give a whole number." });
  assert.deepEqual(parseField(fast, ""), { problem: "Give a value." });
});

test("a number field honours exclusive bounds and takes a decimal comma", () => {
  const f = byName(fieldsOf(MA_RSI));
  assert.deepEqual(parseField(f.rsi_buy_level, "35,5"), { value: 35.5 });
  assert.deepEqual(parseField(f.rsi_buy_level, "0"), { problem: "Out of range: above 0, below 100." });
  assert.deepEqual(parseField(f.rsi_buy_level, "100"), { problem: "Out of range: above 0, below 100." });
  assert.deepEqual(parseField(f.rsi_buy_level, "99.99"), { value: 99.99 });
  assert.deepEqual(parseField(f.atr_multiplier, "20"), { value: 20 });
  assert.deepEqual(parseField(f.atr_multiplier, "1e400"), { problem: NOT_A_NUMBER });
  assert.deepEqual(parseField(f.atr_multiplier, "Infinity"), { problem: NOT_A_NUMBER });
});

test("a parameter typed with grouping or an exponent is refused, whole numbers included", () => {
  const f = byName(fieldsOf(MA_RSI));
  assert.deepEqual(parseField(f.rsi_buy_level, "1,234.5"), { problem: NOT_A_NUMBER });
  assert.deepEqual(parseField(f.rsi_buy_level, "3e1"), { problem: NOT_A_NUMBER });
  assert.deepEqual(parseField(f.fast_period, "1e2"), { problem: "Give a whole number." });
});

test("a whole number takes no separator: \"1,000\" is never read as 1", () => {
  const f = byName(fieldsOf(MA_RSI));
  assert.deepEqual(parseField(f.fast_period, "1,000"), { problem: "Give a whole number." });
  assert.deepEqual(parseField(f.fast_period, "20.0"), { problem: "Give a whole number." });
  assert.deepEqual(parseField(f.fast_period, "+20"), { value: 20 });
  assert.deepEqual(parseNumber("1,000", { whole: true }), { problem: "Give a whole number." });
  assert.deepEqual(parseNumber(" -3 ", { whole: true }), { value: -3 });
  assert.deepEqual(parseNumber("", { whole: true }), { value: null });
});

// Every number field of the app reads through this one parser: what was typed → the value,
// null for an empty field, or the refusal in words.
const TYPED = [
  ["1,5", 1.5],
  ["1.5", 1.5],
  ["-0.5", -0.5],
  ["+2", 2],
  [" 2 ", 2],
  ["\t0,0850\n", 0.085],
  [".5", 0.5],
  [",5", 0.5],
  ["2.", 2],
  ["-0", 0],
  ["1,234", 1.234],
  ["007", 7],
  ["", null],
  ["   ", null],
  ["1,234.5", NOT_A_NUMBER],
  ["1.234,5", NOT_A_NUMBER],
  ["1 234", NOT_A_NUMBER],
  ["1\u00a0234", NOT_A_NUMBER],
  ["1.2.3", NOT_A_NUMBER],
  ["1,,5", NOT_A_NUMBER],
  ["1e3", NOT_A_NUMBER],
  ["1E-2", NOT_A_NUMBER],
  ["٣", NOT_A_NUMBER],
  ["１", NOT_A_NUMBER],
  ["-", NOT_A_NUMBER],
  ["+-1", NOT_A_NUMBER],
  [".", NOT_A_NUMBER],
  ["0x10", NOT_A_NUMBER],
  ["Infinity", NOT_A_NUMBER],
  ["NaN", NOT_A_NUMBER],
  ["1.5 lots", NOT_A_NUMBER],
  ["9".repeat(400), NOT_A_NUMBER],
];

for (const [typed, expected] of TYPED) {
  test(`a number typed as ${JSON.stringify(typed)} reads as ${expected === NOT_A_NUMBER ? "refused" : JSON.stringify(expected)}`, () => {
    const read = parseNumber(String(typed));
    assert.deepEqual(read, typeof expected === "string" ? { problem: expected } : { value: expected });
    if ("value" in read && read.value === 0) assert.ok(Object.is(read.value, 0), "no -0");
  });
}

test("what the browser could not read is refused, never empty", () => {
  assert.deepEqual(parseNumber(null), { problem: NOT_A_NUMBER });
});

test("a step is enforced, allowing for binary fractions", () => {
  const f = byName(fieldsOf(EVERY_KIND));
  assert.deepEqual(parseField(f.lot_step, "0.3"), { value: 0.3 });
  assert.deepEqual(parseField(f.lot_step, "0.07"), { value: 0.07 });
  assert.deepEqual(parseField(f.lot_step, "0.015"), { problem: "Use steps of 0.01 (e.g. 0.02)." });
  assert.deepEqual(parseField(f.period, "35"), { value: 35 });
  assert.deepEqual(parseField(f.period, "37"), { problem: "Use steps of 5 (e.g. 35)." });
  assert.ok(onStep(0.3, 0.1) && onStep(1.1, 0.01) && !onStep(0.25, 0.1));
});

test("an enum takes one of its values, typed as the schema's", () => {
  const f = byName(fieldsOf({ properties: { mode: { enum: ["fast", "slow"] }, level: { enum: [1, 2, 3] } } }));
  assert.deepEqual(parseField(f.mode, "slow"), { value: "slow" });
  assert.deepEqual(parseField(f.level, "2"), { value: 2 });
  assert.deepEqual(parseField(f.mode, "medium"), { problem: "Choose one of: fast, slow." });
});

test("a boolean takes a checkbox's state or true/false", () => {
  const filter = byName(fieldsOf(EVERY_KIND)).filter;
  assert.deepEqual(parseField(filter, true), { value: true });
  assert.deepEqual(parseField(filter, "false"), { value: false });
  assert.deepEqual(parseField(filter, "yes"), { problem: "Choose yes or no." });
});

test("a string's length is checked", () => {
  const tag = byName(fieldsOf(EVERY_KIND)).tag;
  assert.deepEqual(parseField(tag, "abc"), { value: "abc" });
  assert.deepEqual(parseField(tag, "a"), { problem: "At least 2 characters." });
  assert.deepEqual(parseField(tag, "abcdef"), { problem: "At most 5 characters." });
});

test("an optional value left empty is null; a required one is a problem", () => {
  const f = byName(fieldsOf(EVERY_KIND));
  assert.deepEqual(parseField(f["management.break_even_at_r"], ""), { value: null });
  assert.deepEqual(parseField(f["management.break_even_at_r"], "1.5"), { value: 1.5 });
  assert.deepEqual(parseField(f["management.trailing_distance_r"], " "), { problem: "Give a value." });
});

test("a form reads into values and problems by field, skipping what it cannot edit", () => {
  const fields = fieldsOf(MA_RSI);
  assert.deepEqual(readForm(fields, { fast_period: "10", slow_period: "2000", rsi_buy_level: "35" }), {
    values: { fast_period: 10, rsi_buy_level: 35 },
    problems: { slow_period: "Out of range: 3 to 1000." },
  });
  const other = fieldsOf(EVERY_KIND);
  assert.deepEqual(readForm(other, { symbols: "EURUSD", mode: "slow" }), { values: { mode: "slow" }, problems: {} });
});

test("a value is shown in its input as text, null as empty", () => {
  assert.equal(textOf(20), "20");
  assert.equal(textOf(1.5), "1.5");
  assert.equal(textOf(null), "");
  assert.equal(textOf(false), "false");
  assert.equal(valueAt({ management: { break_even_at_r: 2 } }, ["management", "break_even_at_r"]), 2);
  assert.equal(valueAt({ management: null }, ["management", "x"]), undefined);
});

// -- the change sent -------------------------------------------------------------------------

test("only the values that changed are sent", () => {
  const fields = fieldsOf(MA_RSI);
  const { values } = readForm(fields, { atr_period: "14", atr_multiplier: "1.5", fast_period: "15", slow_period: "50", rsi_buy_level: "40.0" });
  assert.deepEqual(changedValues(fields, PARAMS, values), { fast_period: 15 });
  assert.deepEqual(changedValues(fields, PARAMS, readForm(fields, { fast_period: "20" }).values), {});
});

test("nested values are sent nested, null included", () => {
  const fields = fieldsOf(EVERY_KIND);
  const current = { mode: "fast", management: { break_even_at_r: 1, trailing_distance_r: 1 } };
  const { values } = readForm(fields, { mode: "fast", "management.break_even_at_r": "", "management.trailing_distance_r": "2" });
  assert.deepEqual(changedValues(fields, current, values), { management: { break_even_at_r: null, trailing_distance_r: 2 } });
});

test("a risk multiplier and trade management become one form, sent as the request's body", () => {
  const fields = fieldsOf(RISK_AND_MANAGEMENT);
  assert.deepEqual(fields.map((f) => f.label), ["Risk multiplier", "Break even at R", "Break even offset points", "Trailing start R", "Trailing distance R"]);
  const f = byName(fields);
  assert.equal(hintOf(f.risk_multiplier), "above 0, up to 10");
  assert.equal(f.risk_multiplier.description, "Multiplies the risk per trade.");
  assert.equal(hintOf(f["management.trailing_start_r"]), "above 0, up to 100, empty for none");
  assert.equal(hintOf(f["management.break_even_offset_points"]), "0 to 100000, whole number");
  const typed = { risk_multiplier: "0,5", "management.break_even_at_r": "", "management.break_even_offset_points": "0", "management.trailing_start_r": "1.5", "management.trailing_distance_r": "1" };
  const { values, problems } = readForm(fields, typed);
  assert.deepEqual(problems, {});
  assert.deepEqual(changedValues(fields, IN_FORCE, values), { risk_multiplier: 0.5, management: { trailing_start_r: 1.5 } });
});

test("a risk multiplier out of its bounds is refused before sending", () => {
  const multiplier = byName(fieldsOf(RISK_AND_MANAGEMENT)).risk_multiplier;
  assert.deepEqual(parseField(multiplier, "0"), { problem: "Out of range: above 0, up to 10." });
  assert.deepEqual(parseField(multiplier, "10.5"), { problem: "Out of range: above 0, up to 10." });
  assert.deepEqual(parseField(multiplier, "10"), { value: 10 });
  assert.deepEqual(parseField(multiplier, ""), { problem: "Give a value." });
});

test("a change is said field by field, in the form's order, null as none", () => {
  const fields = fieldsOf(RISK_AND_MANAGEMENT);
  assert.equal(
    describeChanges(fields, { management: { trailing_start_r: 1.5, break_even_at_r: null }, risk_multiplier: 0.5 }),
    "Risk multiplier 0.5, Break even at R none, Trailing start R 1.5",
  );
  assert.equal(describeChanges(fieldsOf(MA_RSI), { fast_period: 15, rsi_buy_level: 35.5 }), "Fast period 15, RSI buy level 35.5");
});

// -- the server's refusal --------------------------------------------------------------------

test("the engine's refusal of a rule across fields goes next to the field it names first", () => {
  const fields = fieldsOf(MA_RSI);
  const message =
    "invalid parameters for strategy 'ma_rsi': params: fast_period (60) must be below slow_period (50) " +
    "(got {'atr_period': 14, 'fast_period': 60, 'slow_period': 50})";
  assert.deepEqual(refusalByField({ message }, fields), {
    byField: { fast_period: "fast_period (60) must be below slow_period (50)" },
    rest: null,
  });
});

test("each of several refused values goes next to its own field, in the server's words", () => {
  const fields = fieldsOf(MA_RSI);
  const message =
    "invalid parameters for strategy 'ma_rsi': fast_period: Input should be less than or equal to 500 (got 501); " +
    "rsi_buy_level: Input should be less than 100 (got 100)";
  assert.deepEqual(refusalByField({ message }, fields).byField, {
    fast_period: "Input should be less than or equal to 500 (got 501)",
    rsi_buy_level: "Input should be less than 100 (got 100)",
  });
});

test("a refusal naming no field is kept whole for the form", () => {
  const fields = fieldsOf(MA_RSI);
  assert.deepEqual(refusalByField({ message: "unknown parameter 'colour'" }, fields), { byField: {}, rest: "unknown parameter 'colour'" });
});

test("validation details name the field; a nested one by its dotted name", () => {
  const fields = fieldsOf(EVERY_KIND);
  const error = { message: "invalid", details: [{ field: "management.break_even_at_r", message: "Input should be greater than 0" }] };
  assert.deepEqual(refusalByField(error, fields), { byField: { "management.break_even_at_r": "Input should be greater than 0" }, rest: null });
  const params = { message: "invalid (params.fast_period: too big)", details: [{ field: "params.fast_period", message: "too big" }] };
  assert.deepEqual(refusalByField(params, fieldsOf(MA_RSI)).byField, { fast_period: "too big" });
});

test("the engine's refusal of a management value goes next to that nested field", () => {
  const fields = fieldsOf(RISK_AND_MANAGEMENT);
  const message = "management.break_even_at_r: Input should be greater than 0; management.trailing_distance_r: Input should be less than or equal to 100";
  assert.deepEqual(refusalByField({ message }, fields), {
    byField: { "management.break_even_at_r": "Input should be greater than 0", "management.trailing_distance_r": "Input should be less than or equal to 100" },
    rest: null,
  });
  const details = [{ field: "risk_multiplier", message: "Input should be less than or equal to 10" }];
  assert.deepEqual(refusalByField({ message: "invalid", details }, fields).byField, { risk_multiplier: "Input should be less than or equal to 10" });
});

test("a field name inside another word is not taken for the field", () => {
  const fields = fieldsOf({ properties: { period: { type: "integer" }, slow_period: { type: "integer" } } });
  assert.deepEqual(refusalByField({ message: "slow_period: too small" }, fields).byField, { slow_period: "too small" });
});

// -- risk limits that are lists --------------------------------------------------------------

// The part of /api/openapi.json that describes PUT /api/risk/limits (as the daemon builds it).
const OPENAPI = {
  paths: {
    "/api/risk/limits": {
      put: { requestBody: { content: { "application/json": { schema: { $ref: "#/components/schemas/RiskLimitChanges" } } } } },
    },
  },
  components: {
    schemas: {
      RiskLimitChanges: {
        type: "object",
        properties: {
          max_daily_loss_percent: { anyOf: [{ exclusiveMinimum: 0, maximum: 100, type: "number" }, { type: "null" }], default: null },
          max_spread_points: { anyOf: [{ additionalProperties: { type: "integer" }, type: "object" }, { type: "null" }], default: null },
          allowed_sessions: { anyOf: [{ items: { enum: ["Sydney", "Tokyo", "London", "New York"], type: "string" }, type: "array" }, { type: "null" }] },
          blocked_liquidity: { anyOf: [{ items: { enum: ["thin", "normal", "deep"], type: "string" }, type: "array" }, { type: "null" }] },
        },
      },
    },
  },
};

test("the list limits and their choices come from the API's description of the limits body", () => {
  const schema = limitChangesSchema(OPENAPI);
  assert.equal(schema, OPENAPI.components.schemas.RiskLimitChanges);
  assert.deepEqual(listLimitsOf(schema), {
    max_spread_points: { key: "max_spread_points", kind: "map", integer: true },
    allowed_sessions: { key: "allowed_sessions", kind: "choices", options: ["Sydney", "Tokyo", "London", "New York"], allowAll: true },
    blocked_liquidity: { key: "blocked_liquidity", kind: "choices", options: ["thin", "normal", "deep"], allowAll: false },
  });
  assert.equal(limitChangesSchema({ paths: {} }), null);
  assert.deepEqual(listLimitsOf(null), {});
});

test("an allow-list is the names picked in the schema's order, null for any, never empty", () => {
  const sessions = listLimitsOf(limitChangesSchema(OPENAPI)).allowed_sessions;
  assert.ok(sessions.kind === "choices");
  assert.deepEqual(choicesValue(sessions, ["New York", "London"], false), { value: ["London", "New York"] });
  assert.deepEqual(choicesValue(sessions, ["London"], true), { value: null });
  assert.deepEqual(choicesValue(sessions, [], false), { problem: "Pick at least one, or “any”: with none the bot would never trade." });
  assert.deepEqual(choicesValue(sessions, ["Frankfurt"], false), { problem: "Not a choice: Frankfurt." });
});

test("a block-list may be empty: nothing blocked", () => {
  const liquidity = listLimitsOf(limitChangesSchema(OPENAPI)).blocked_liquidity;
  assert.ok(liquidity.kind === "choices");
  assert.deepEqual(choicesValue(liquidity, [], false), { value: [] });
  assert.deepEqual(choicesValue(liquidity, ["thin"], true), { value: ["thin"] });
});

test("spread rows become a map; a missing or repeated symbol and a bad number are refused per row", () => {
  const spread = listLimitsOf(limitChangesSchema(OPENAPI)).max_spread_points;
  assert.ok(spread.kind === "map");
  assert.deepEqual(mapValue(spread, [{ symbol: " EURUSD ", value: "20" }, { symbol: "Volatility 75 Index", value: "3500" }]), {
    value: { EURUSD: 20, "Volatility 75 Index": 3500 },
    problems: {},
  });
  assert.deepEqual(mapValue(spread, []), { value: {}, problems: {} });
  assert.deepEqual(
    mapValue(spread, [
      { symbol: "EURUSD", value: "20" },
      { symbol: "EURUSD", value: "25" },
      { symbol: "", value: "5" },
      { symbol: "GBPUSD", value: "0" },
      { symbol: "USDJPY", value: "2.5" },
      { symbol: "AUDUSD", value: "-3" },
      { symbol: "NZDUSD", value: "1e2" },
      { symbol: "USDCAD", value: "1,000" },
    ]).problems,
    {
      1: { symbol: "EURUSD is listed twice." },
      2: { symbol: "Give the symbol." },
      3: { value: "Give a whole number above 0." },
      4: { value: "Give a whole number above 0." },
      5: { value: "Give a whole number above 0." },
      6: { value: "Give a whole number above 0." },
      7: { value: "Give a whole number above 0." },
    },
  );
  assert.deepEqual(mapValue(spread, [{ symbol: "EURUSD", value: " 20 " }]), { value: { EURUSD: 20 }, problems: {} });
});

test("a list is unchanged whatever its order; a map entry by entry", () => {
  assert.ok(sameLimit(["London", "Tokyo"], ["Tokyo", "London"]));
  assert.ok(!sameLimit(["London"], ["London", "Tokyo"]));
  assert.ok(!sameLimit(null, []));
  assert.ok(sameLimit(null, null));
  assert.ok(sameLimit({ EURUSD: 20 }, { EURUSD: 20 }));
  assert.ok(!sameLimit({ EURUSD: 20 }, { EURUSD: 25 }));
  assert.ok(!sameLimit({ EURUSD: 20 }, { EURUSD: 20, GBPUSD: 30 }));
});

// -- offline ---------------------------------------------------------------------------------

/** An Api whose token and fetch count their calls. */
function countingApi(/** @type {() => boolean} */ offline) {
  const counts = { token: 0, fetch: 0 };
  const auth = /** @type {any} */ ({ accessToken: async () => (counts.token++, "access"), refresh: async () => {}, end: () => new Error("ended") });
  const fetchFn = /** @type {any} */ (async () => (counts.fetch++, new Response(JSON.stringify({ ok: 1 }), { status: 200 })));
  return { api: new Api(auth, { fetchFn, offline }), counts };
}

test("offline, a request is not tried: it fails at once in words, without a token refresh", async () => {
  const { api, counts } = countingApi(() => true);
  await assert.rejects(api.get("/api/system/status"), { code: "offline", message: OFFLINE });
  assert.deepEqual(counts, { token: 0, fetch: 0 });
  assert.equal(OFFLINE, "Offline — no live data; trading is paused until the connection returns.");
});

test("online again, the same client sends the request", async () => {
  let offline = true;
  const { api, counts } = countingApi(() => offline);
  await assert.rejects(api.get("/api/positions"), { code: "offline" });
  offline = false;
  assert.deepEqual(await api.get("/api/positions"), { ok: 1 });
  assert.deepEqual(counts, { token: 1, fetch: 1 });
});

test("only a browser that says it is offline counts as offline", () => {
  assert.ok(isOffline({ onLine: false }));
  assert.ok(!isOffline({ onLine: true }));
  assert.ok(!isOffline({}));
  assert.ok(!isOffline(undefined));
});

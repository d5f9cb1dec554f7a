/**
 * The pure parts of the Strategies & risk screen: which risk limits a form edits as numbers,
 * how a limit reads, the body of `PUT /api/risk/limits` from what was typed, and the limits
 * that are lists or per-symbol maps (below).
 */

import { parseNumber } from "./schema_form.js";

/**
 * A limit's name in words: `max_daily_loss_percent` → "Max daily loss (%)".
 * @param {string} key
 */
export function limitLabel(key) {
  const percent = key.endsWith("_percent");
  const base = key.replace(/_percent$/, "").replaceAll("_", " ");
  const words = base.charAt(0).toUpperCase() + base.slice(1);
  return percent ? `${words} (%)` : words;
}

/**
 * Whether a limit is a plain number a form field can edit.
 * @param {unknown} value
 */
export function isEditableLimit(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/**
 * A limit's value as text: lists joined, empty ones and null as "any"/"none".
 * @param {unknown} value
 */
export function limitText(value) {
  if (value === null || value === undefined) return "any";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
  if (typeof value === "object") {
    const entries = Object.entries(/** @type {Record<string, unknown>} */ (value));
    return entries.length ? entries.map(([k, v]) => `${k}: ${v}`).join(", ") : "none";
  }
  return String(value);
}

/**
 * The limits that changed: typed values that are numbers and differ from those in force.
 * A field left empty or unchanged is not sent; one that is not a number (read as every
 * number of the app is, by parseNumber: "1,5" is 1.5, "1,234.5" and "1e3" are refused) is
 * returned as a problem to show next to it, as is one the browser could not read (null).
 * @param {Record<string, unknown>} current the limits in force
 * @param {Record<string, string | null>} typed the form's values by limit
 * @returns {{changes: Record<string, number>, problems: Record<string, string>}}
 */
export function limitChanges(current, typed) {
  /** @type {Record<string, number>} */
  const changes = {};
  /** @type {Record<string, string>} */
  const problems = {};
  for (const [key, raw] of Object.entries(typed)) {
    const read = parseNumber(raw);
    if ("problem" in read) {
      problems[key] = read.problem;
      continue;
    }
    if (read.value !== null && read.value !== current[key]) changes[key] = read.value;
  }
  return { changes, problems };
}

/*
 * Limits that are lists: which values a list may hold is read from the API's own description
 * of `PUT /api/risk/limits` (the OpenAPI document, `/api/openapi.json`), so the app offers
 * exactly what the server accepts and learns new values with the daemon, not with an app
 * update.
 *
 * - A list of names from a fixed set (`allowed_sessions`, `blocked_liquidity`,
 *   `blocked_volatility`) is edited by picking names. An `allowed_*` list is a rule "only
 *   while one of these": null means no limit (any), and an empty one is refused, since the
 *   bot would never trade; a `blocked_*` list may be empty (nothing blocked).
 * - A map from symbol to a whole number (`max_spread_points`) is edited as rows, added and
 *   removed: a symbol (given once) and a number above 0.
 * - A list is sent whole when it differs from the one in force (order aside).
 */

/**
 * @typedef {{key: string, kind: "choices", options: string[], allowAll: boolean}} ChoicesLimit
 *   a list of names from `options`; `allowAll`: null means "any" (an allow-list)
 * @typedef {{key: string, kind: "map", integer: boolean}} MapLimit symbol → number
 * @typedef {ChoicesLimit | MapLimit} ListLimit
 */

/**
 * The object schema of `PUT /api/risk/limits`'s body in an OpenAPI document, its `$ref`
 * followed; null when the document does not describe it.
 * @param {any} openapi
 * @returns {any}
 */
export function limitChangesSchema(openapi) {
  const schema = openapi?.paths?.["/api/risk/limits"]?.put?.requestBody?.content?.["application/json"]?.schema;
  return resolveRef(openapi, schema) ?? null;
}

/**
 * @param {any} openapi
 * @param {any} node
 * @returns {any}
 */
function resolveRef(openapi, node) {
  const ref = typeof node?.$ref === "string" ? /^#\/components\/schemas\/(.+)$/.exec(node.$ref) : null;
  return ref ? openapi?.components?.schemas?.[ref[1]] : node;
}

/**
 * The limits that are lists or maps, as the schema describes them, by key.
 * @param {any} schema from limitChangesSchema
 * @returns {Record<string, ListLimit>}
 */
export function listLimitsOf(schema) {
  /** @type {Record<string, ListLimit>} */
  const found = {};
  for (const [key, raw] of Object.entries(schema?.properties ?? {})) {
    const node = /** @type {any} */ (raw);
    const branches = Array.isArray(node?.anyOf) ? node.anyOf : [node];
    const value = branches.find((/** @type {any} */ b) => b && b.type !== "null");
    if (value?.type === "array" && Array.isArray(value.items?.enum)) {
      found[key] = { key, kind: "choices", options: value.items.enum.map(String), allowAll: key.startsWith("allowed_") };
    } else if (value?.type === "object" && ["integer", "number"].includes(value.additionalProperties?.type)) {
      found[key] = { key, kind: "map", integer: value.additionalProperties.type === "integer" };
    }
  }
  return found;
}

/**
 * A choices limit from the names picked: in the schema's order, null for "any".
 * @param {ChoicesLimit} limit
 * @param {string[]} picked
 * @param {boolean} any "any" ticked (only for an allow-list)
 * @returns {{value: string[] | null} | {problem: string}}
 */
export function choicesValue(limit, picked, any) {
  if (limit.allowAll && any) return { value: null };
  const unknown = picked.filter((p) => !limit.options.includes(p));
  if (unknown.length) return { problem: `Not a choice: ${unknown.join(", ")}.` };
  const value = limit.options.filter((o) => picked.includes(o));
  if (limit.allowAll && !value.length) {
    return { problem: "Pick at least one, or “any”: with none the bot would never trade." };
  }
  return { value };
}

/**
 * A map limit from its rows: each a symbol (given, once) and a number above 0 (whole when
 * the schema says integer). Problems by row, per part.
 * @param {MapLimit} limit
 * @param {{symbol: string, value: string}[]} rows
 * @returns {{value: Record<string, number>, problems: Record<number, {symbol?: string, value?: string}>}}
 */
export function mapValue(limit, rows) {
  /** @type {Record<string, number>} */
  const value = {};
  /** @type {Record<number, {symbol?: string, value?: string}>} */
  const problems = {};
  rows.forEach((row, i) => {
    /** @type {{symbol?: string, value?: string}} */
    const problem = {};
    const symbol = row.symbol.trim();
    if (!symbol) problem.symbol = "Give the symbol.";
    else if (symbol in value) problem.symbol = `${symbol} is listed twice.`;
    const read = parseNumber(row.value, { whole: limit.integer });
    const number = "value" in read && read.value !== null ? read.value : NaN;
    if (!(number > 0) || (limit.integer && !Number.isInteger(number))) {
      problem.value = limit.integer ? "Give a whole number above 0." : "Give a number above 0.";
    }
    if (problem.symbol || problem.value) problems[i] = problem;
    else value[symbol] = number;
  });
  return { value, problems };
}

/**
 * Whether two limit values are the same: lists as sets, maps entry by entry.
 * @param {unknown} a
 * @param {unknown} b
 */
export function sameLimit(a, b) {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x) => b.includes(x));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ea = Object.entries(a);
    return ea.length === Object.keys(b).length && ea.every(([k, v]) => /** @type {any} */ (b)[k] === v);
  }
  return a === b;
}

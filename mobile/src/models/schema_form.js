/**
 * Forms from a JSON Schema (the strategies' `parameter_schema`), without the DOM: the schema
 * becomes a list of fields, what was typed becomes typed values or problems in words, the
 * values that changed become the request's body, and a server's refusal is put next to the
 * field it names.
 *
 * Rules:
 * - Understood: `type` integer, number, boolean, string; `enum` (any type); `minimum`,
 *   `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (numbers, as in JSON Schema 2020-12),
 *   `multipleOf`; `minLength`/`maxLength`; `anyOf` with `{"type": "null"}` (an optional value:
 *   an empty field is null); `$ref` to `#/$defs/...`; nested objects (their fields are named
 *   `outer.inner` and their values sent nested). Anything else is shown, not edited.
 * - The client checks what the schema says, so an out-of-range value is refused before
 *   anything is sent; rules across fields (fast below slow) are the server's, and its words
 *   are shown next to the field they name first.
 * - Only the values that differ from the current ones are sent: the server keeps the rest.
 * - Every number typed anywhere in the app is read by `parseNumber` below (a decimal comma
 *   or point, nothing else), so the forms outside this one read numbers the same way.
 */

/**
 * @typedef {object} FormField
 * @property {string} name `fast_period`, or `management.break_even_at_r` when nested
 * @property {string[]} path the keys from the top object to the value
 * @property {string} label in words: "Fast period"
 * @property {"integer" | "number" | "boolean" | "enum" | "string" | "other"} kind
 * @property {boolean} nullable whether null (an empty field) is a value
 * @property {number | null} minimum
 * @property {boolean} exclusiveMinimum the value must be above `minimum`, not equal
 * @property {number | null} maximum
 * @property {boolean} exclusiveMaximum
 * @property {number | null} multipleOf the step values must be on
 * @property {number | null} minLength
 * @property {number | null} maxLength
 * @property {Array<string | number | boolean>} options an enum's values (empty otherwise)
 * @property {unknown} default
 * @property {string} description
 */

/** Words written in capitals in labels. */
const ACRONYMS = new Set(["adx", "atr", "ema", "id", "ma", "macd", "r", "rsi", "sl", "sma", "tp"]);

/**
 * A field's label from its key: `rsi_buy_level` → "RSI buy level", `trailing_start_r` →
 * "Trailing start R" (R: a trade's initial risk).
 * @param {string} key
 */
export function labelOf(key) {
  const words = key.split("_").filter(Boolean).map((w) => (ACRONYMS.has(w.toLowerCase()) ? w.toUpperCase() : w.toLowerCase()));
  const text = words.join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The schema `node` points to (following `$ref`s into the root's `$defs`, and a lone
 * `allOf: [{$ref}]`), merged with the annotations written next to the reference.
 * @param {any} root
 * @param {any} node
 * @returns {any}
 */
function resolve(root, node, depth = 0) {
  if (!node || typeof node !== "object" || depth > 20) return node ?? {};
  if (typeof node.$ref === "string") {
    const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(node.$ref);
    const target = match ? root?.[match[1]]?.[match[2]] : undefined;
    const { $ref, ...rest } = node;
    return { ...resolve(root, target ?? {}, depth + 1), ...rest };
  }
  if (Array.isArray(node.allOf) && node.allOf.length === 1) {
    const { allOf, ...rest } = node;
    return { ...resolve(root, allOf[0], depth + 1), ...rest };
  }
  return node;
}

/**
 * The fields of an object schema, in the schema's order.
 * @param {any} schema e.g. a strategy's `parameter_schema`
 * @returns {FormField[]}
 */
export function fieldsOf(schema) {
  return fieldsUnder(schema, resolve(schema, schema), []);
}

/**
 * @param {any} root
 * @param {any} objectSchema
 * @param {string[]} prefix
 * @returns {FormField[]}
 */
function fieldsUnder(root, objectSchema, prefix) {
  const properties = objectSchema?.properties ?? {};
  /** @type {FormField[]} */
  const fields = [];
  for (const [key, raw] of Object.entries(properties)) {
    let node = resolve(root, raw);
    let nullable = false;
    if (Array.isArray(node.anyOf)) {
      const branches = node.anyOf.map((/** @type {any} */ b) => resolve(root, b));
      const values = branches.filter((/** @type {any} */ b) => b.type !== "null");
      nullable = values.length < branches.length;
      const { anyOf, ...annotations } = node;
      node = values.length === 1 ? { ...values[0], ...annotations } : { ...annotations, type: undefined };
    }
    if (Array.isArray(node.type)) {
      nullable ||= node.type.includes("null");
      const types = node.type.filter((/** @type {string} */ t) => t !== "null");
      node = { ...node, type: types.length === 1 ? types[0] : undefined };
    }
    const path = [...prefix, key];
    if (node.type === "object" && node.properties) {
      fields.push(...fieldsUnder(root, node, path));
      continue;
    }
    fields.push(fieldOf(key, path, node, nullable));
  }
  return fields;
}

/**
 * @param {string} key
 * @param {string[]} path
 * @param {any} node
 * @param {boolean} nullable
 * @returns {FormField}
 */
function fieldOf(key, path, node, nullable) {
  const num = (/** @type {unknown} */ v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const exclusiveMin = num(node.exclusiveMinimum);
  const exclusiveMax = num(node.exclusiveMaximum);
  const min = num(node.minimum);
  const max = num(node.maximum);
  const options = Array.isArray(node.enum) ? node.enum.filter((/** @type {unknown} */ o) => o !== null) : "const" in node ? [node.const] : [];
  nullable ||= Array.isArray(node.enum) && node.enum.includes(null);
  /** @type {FormField["kind"]} */
  let kind = "other";
  if (options.length) kind = "enum";
  else if (node.type === "integer" || node.type === "number" || node.type === "boolean" || node.type === "string") kind = node.type;
  // The stricter bound wins when both forms are given.
  const lower = exclusiveMin !== null && (min === null || exclusiveMin >= min) ? { v: exclusiveMin, x: true } : { v: min, x: false };
  const upper = exclusiveMax !== null && (max === null || exclusiveMax <= max) ? { v: exclusiveMax, x: true } : { v: max, x: false };
  return {
    name: path.join("."),
    path,
    label: labelOf(key),
    kind,
    nullable,
    minimum: lower.v,
    exclusiveMinimum: lower.x,
    maximum: upper.v,
    exclusiveMaximum: upper.x,
    multipleOf: num(node.multipleOf) !== null && node.multipleOf > 0 ? node.multipleOf : null,
    minLength: num(node.minLength),
    maxLength: num(node.maxLength),
    options,
    default: node.default,
    description: typeof node.description === "string" ? node.description : "",
  };
}

/**
 * What a field accepts, in words: "2 to 500, whole number", "above 0, up to 20".
 * @param {FormField} f
 */
export function hintOf(f) {
  const parts = [];
  const low = f.minimum === null ? null : f.exclusiveMinimum ? `above ${f.minimum}` : `${f.minimum}`;
  const high = f.maximum === null ? null : f.exclusiveMaximum ? `below ${f.maximum}` : `${f.maximum}`;
  if (low !== null && high !== null) {
    parts.push(!f.exclusiveMinimum && !f.exclusiveMaximum ? `${low} to ${high}` : `${low}, ${f.exclusiveMaximum ? high : `up to ${high}`}`);
  } else if (low !== null) parts.push(f.exclusiveMinimum ? low : `at least ${low}`);
  else if (high !== null) parts.push(f.exclusiveMaximum ? high : `at most ${high}`);
  if (f.kind === "integer") parts.push("whole number");
  if (f.multipleOf !== null) parts.push(`steps of ${f.multipleOf}`);
  if (f.nullable) parts.push("empty for none");
  return parts.join(", ");
}

/**
 * A value as the text of its input: null is empty, booleans "true"/"false".
 * @param {unknown} value
 */
export function textOf(value) {
  if (value === null || value === undefined) return "";
  return String(value);
}

/**
 * The value at `path` in a nested object (undefined when absent).
 * @param {unknown} values
 * @param {string[]} path
 */
export function valueAt(values, path) {
  /** @type {any} */
  let here = values;
  for (const key of path) {
    if (here === null || typeof here !== "object") return undefined;
    here = here[key];
  }
  return here;
}

/**
 * Whether `value` is on the `step` grid (multipleOf), allowing for binary fractions
 * (0.3 is a multiple of 0.1).
 * @param {number} value
 * @param {number} step
 */
export function onStep(value, step) {
  const ratio = value / step;
  return Math.abs(ratio - Math.round(ratio)) <= 1e-9 * Math.max(1, Math.abs(ratio));
}

/** What a number field says when what was typed is not a number. */
export const NOT_A_NUMBER = "Give a number such as 1.5.";

/** What a whole-number field says when what was typed is not one. */
export const NOT_A_WHOLE_NUMBER = "Give a whole number.";

/**
 * A number as a trader types it, or why it is not one: the one reading of every number field
 * of the app (prices, volumes, ratios, limits, parameters), so "1,5" means 1.5 everywhere.
 *
 * Rules:
 * - Spaces around it are ignored. An empty field is `{value: null}`: whether empty is allowed
 *   is the caller's ("empty means off" on a nullable setting, "give a value" elsewhere).
 * - Accepted: an optional sign, ASCII digits, and at most one decimal separator, "." or ","
 *   (traders in much of Europe type a comma, and some phone keypads offer only that one):
 *   "1,5" and "1.5" are 1.5; "-0.5", "+2", ".5" and "2." are numbers too.
 * - Refused, in words: grouping separators ("1,234.5", "1.234,5", "1 234"), exponents
 *   ("1e3"), several separators, digits of other scripts ("٣"), a lone sign, anything else,
 *   and what is too large to be finite. A grouping comma cannot be told from a decimal one
 *   ("1,234"), so it is read as the decimal one (151,234 is a yen price) and grouping is
 *   refused, never guessed.
 * - A whole number (`whole`) has no separator at all: there "1,000" could only be a thousand
 *   misread as 1, so it is refused ("Give a whole number."), as is "20.0".
 * - Bounds and steps are the caller's checks, after this one.
 * - `null` is what the browser itself could not read (`validity.badInput`, see
 *   widgets/field.js's typedText): refused, never taken for an empty field.
 *
 * Why not the browser's `type=number`: Chromium with an en-GB locale reads "1,5" as 15 and
 * flags nothing (a break-even at 15R, a volume ten times too big), and a typo such as "1e"
 * reads as an empty field; a text input read here does neither.
 * @param {string | null} text
 * @param {{whole?: boolean}} [options] `whole`: a whole number is wanted
 * @returns {{value: number | null} | {problem: string}}
 */
export function parseNumber(text, { whole = false } = {}) {
  const problem = { problem: whole ? NOT_A_WHOLE_NUMBER : NOT_A_NUMBER };
  if (text === null) return problem;
  const t = String(text).trim();
  if (t === "") return { value: null };
  if (!(whole ? /^[+-]?\d+$/ : /^[+-]?(\d+[.,]?\d*|[.,]\d+)$/).test(t)) return problem;
  const value = Number(t.replace(",", "."));
  if (!Number.isFinite(value)) return problem;
  return { value: value === 0 ? 0 : value }; // "-0" is 0
}

/**
 * One field's typed text as its value, or the problem with it in words.
 *
 * Numbers are read by parseNumber ("1,5" is 1.5, "1e3" refused), then checked against the
 * bounds, the step and whole numbers. Only a truly empty field is empty (null on a nullable
 * field: "none", a setting off). `null` typed is what the browser itself could not read
 * (`validity.badInput`, which reads as "" like an empty field): refused, never taken as empty,
 * which would switch a setting off (break-even, trailing stop) when the trader meant to
 * change it.
 * @param {FormField} f
 * @param {string | boolean | null} typed a checkbox gives a boolean; null: not readable
 * @returns {{value: unknown} | {problem: string}}
 */
export function parseField(f, typed) {
  if (typed === null) return { problem: f.kind === "integer" ? NOT_A_WHOLE_NUMBER : NOT_A_NUMBER };
  if (typeof typed === "boolean") {
    return f.kind === "boolean" ? { value: typed } : { problem: "Give a value." };
  }
  const text = String(typed ?? "").trim();
  if (text === "") return f.nullable ? { value: null } : { problem: "Give a value." };
  if (f.kind === "enum") {
    const option = f.options.find((o) => String(o) === text);
    return option === undefined ? { problem: `Choose one of: ${f.options.join(", ")}.` } : { value: option };
  }
  if (f.kind === "boolean") {
    if (text === "true" || text === "false") return { value: text === "true" };
    return { problem: "Choose yes or no." };
  }
  if (f.kind === "string") {
    if (f.minLength !== null && text.length < f.minLength) return { problem: `At least ${f.minLength} characters.` };
    if (f.maxLength !== null && text.length > f.maxLength) return { problem: `At most ${f.maxLength} characters.` };
    return { value: text };
  }
  if (f.kind !== "integer" && f.kind !== "number") return { problem: "This value cannot be edited here." };
  const read = parseNumber(text, { whole: f.kind === "integer" });
  if ("problem" in read) return read;
  const value = /** @type {number} */ (read.value); // the text is not empty
  const tooLow = f.minimum !== null && (f.exclusiveMinimum ? value <= f.minimum : value < f.minimum);
  const tooHigh = f.maximum !== null && (f.exclusiveMaximum ? value >= f.maximum : value > f.maximum);
  if (tooLow || tooHigh) return { problem: `Out of range: ${hintOf({ ...f, multipleOf: null, nullable: false, kind: "number" })}.` };
  if (f.multipleOf !== null && !onStep(value, f.multipleOf)) {
    const near = Number((Math.round(value / f.multipleOf) * f.multipleOf).toPrecision(12));
    return { problem: `Use steps of ${f.multipleOf} (e.g. ${near}).` };
  }
  return { value };
}

/**
 * Every field's typed text as values, and the problems by field name.
 * Fields of kind "other" are not read (they are shown, not edited).
 * @param {FormField[]} fields
 * @param {Record<string, string | boolean | null>} typed by field name (null: the input could
 *   not read what was typed, see parseField)
 * @returns {{values: Record<string, unknown>, problems: Record<string, string>}}
 */
export function readForm(fields, typed) {
  /** @type {Record<string, unknown>} */
  const values = {};
  /** @type {Record<string, string>} */
  const problems = {};
  for (const f of fields) {
    if (f.kind === "other" || !(f.name in typed)) continue;
    const read = parseField(f, typed[f.name]);
    if ("problem" in read) problems[f.name] = read.problem;
    else values[f.name] = read.value;
  }
  return { values, problems };
}

/**
 * The body of the change: the values that differ from the current ones, nested as the
 * schema nests them; empty when nothing changed.
 * @param {FormField[]} fields
 * @param {unknown} current the values in force (e.g. a strategy's `params`)
 * @param {Record<string, unknown>} values by field name, from readForm
 * @returns {Record<string, unknown>}
 */
export function changedValues(fields, current, values) {
  /** @type {Record<string, any>} */
  const body = {};
  for (const f of fields) {
    if (!(f.name in values)) continue;
    const value = values[f.name];
    if (Object.is(value, valueAt(current, f.path)) || value === valueAt(current, f.path)) continue;
    let here = body;
    for (const key of f.path.slice(0, -1)) here = here[key] ??= {};
    here[f.path[f.path.length - 1]] = value;
  }
  return body;
}

/**
 * A change in words, field by field in the form's order: "Fast period 15, RSI buy level
 * 35.5", a null value as "none" (what the read-only figures show for it).
 * @param {FormField[]} fields
 * @param {Record<string, unknown>} body from changedValues
 */
export function describeChanges(fields, body) {
  return fields
    .filter((f) => valueAt(body, f.path) !== undefined)
    .map((f) => `${f.label} ${textOf(valueAt(body, f.path)) || "none"}`)
    .join(", ");
}

/**
 * A server's refusal split by the field each part names, so the screen puts it next to that
 * field: validation details (`[{field, message}]`) by their field, then the message's parts
 * (the engine joins problems with "; ", each starting with the field it is about, or naming
 * it first). The server's words are kept; only a prefix naming the strategy or "params", and
 * an echo of the whole input (`(got {...})`), are left out. What names no field is `rest`.
 * @param {{message?: string, details?: unknown}} error
 * @param {FormField[]} fields
 * @returns {{byField: Record<string, string>, rest: string | null}}
 */
export function refusalByField(error, fields) {
  /** @type {Record<string, string>} */
  const byField = {};
  const names = fields.map((f) => f.name).sort((a, b) => b.length - a.length);
  /** @param {string} text */
  const firstNamed = (text) => {
    let best = null;
    let at = Infinity;
    for (const name of names) {
      const found = new RegExp(`(^|[^\\w.])${name.replaceAll(".", "\\.")}(?![\\w])`).exec(text);
      if (found && found.index + found[1].length < at) {
        at = found.index + found[1].length;
        best = name;
      }
    }
    return best;
  };
  /** @param {string} name @param {string} text */
  const add = (name, text) => {
    byField[name] = byField[name] ? `${byField[name]}; ${text}` : text;
  };
  if (Array.isArray(error?.details)) {
    for (const d of error.details) {
      const field = String(d?.field ?? "").replace(/^params\./, "");
      const name = field && names.find((n) => n === field || n === field.split(".")[0]);
      if (name && d?.message) add(name, String(d.message).trim());
    }
    if (Object.keys(byField).length) return { byField, rest: null };
  }
  const message = String(error?.message ?? "").replace(/^invalid parameters for [^:]*'[^']*':\s*/i, "");
  const rest = [];
  for (const raw of message.split(/;\s+/)) {
    const part = raw.replace(/\s*\(got \{.*\}\)\s*$/, "").trim();
    if (!part) continue;
    const name = firstNamed(part);
    if (!name) {
      rest.push(part);
      continue;
    }
    const text = part.replace(new RegExp(`^(params|${name.replaceAll(".", "\\.")}):\\s*`), "");
    add(name, text);
  }
  return { byField, rest: rest.length ? rest.join("; ") : null };
}

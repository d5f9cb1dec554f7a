/**
 * The pure parts of the Strategies & risk screen: which risk limits a form can edit (the
 * plain numbers; lists and per-symbol maps are shown, and changed through the API), how a
 * limit reads, and the body of `PUT /api/risk/limits` from what was typed.
 */

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
 * A field left empty or unchanged is not sent; one that is not a number is returned as a
 * problem to show next to it.
 * @param {Record<string, unknown>} current the limits in force
 * @param {Record<string, string>} typed the form's values by limit
 * @returns {{changes: Record<string, number>, problems: Record<string, string>}}
 */
export function limitChanges(current, typed) {
  /** @type {Record<string, number>} */
  const changes = {};
  /** @type {Record<string, string>} */
  const problems = {};
  for (const [key, raw] of Object.entries(typed)) {
    const text = String(raw).trim();
    if (text === "") continue;
    const value = Number(text);
    if (!Number.isFinite(value)) {
      problems[key] = "Give a number.";
      continue;
    }
    if (value !== current[key]) changes[key] = value;
  }
  return { changes, problems };
}

/**
 * The DOM of a form built from a JSON Schema (models/schema_form.js does the thinking): one
 * labelled input per field, what it accepts said in its label ("2 to 500, whole number"), its
 * error line under it, and the values shown read-only for who may not change them.
 *
 * Inputs: numbers are text inputs with a numeric or decimal keypad (widgets/field.js's
 * numberInput), read by the model's one number parser ("1,5" is 1.5; the bounds, step and
 * whole numbers are checked after it and said in the label), enums and booleans are selects,
 * strings text inputs; a field the form cannot edit is shown as text. The form is
 * `novalidate`: the model's words are shown, not the browser's. A value is shown back as
 * the model writes it ("1.5", never "1,5"), each time the form is opened or reset.
 */

import { hintOf, readForm, textOf, valueAt } from "../models/schema_form.js";
import { h } from "./dom.js";
import { field, numberInput, typedText } from "./field.js";

/** @typedef {import("../models/schema_form.js").FormField} FormField */

/**
 * The input of one field, holding `value`.
 * @param {FormField} f
 * @param {unknown} value
 * @returns {HTMLInputElement | HTMLSelectElement}
 */
function inputOf(f, value) {
  if (f.kind === "enum" || f.kind === "boolean") {
    const options = f.kind === "boolean" ? [true, false] : f.options;
    const select = /** @type {HTMLSelectElement} */ (
      h(
        "select",
        {},
        f.nullable ? h("option", { value: "" }, "none") : null,
        ...options.map((o) => h("option", { value: String(o) }, f.kind === "boolean" ? (o ? "yes" : "no") : String(o))),
      )
    );
    select.value = textOf(value);
    return select;
  }
  if (f.kind === "integer" || f.kind === "number") {
    // A keypad without a minus sign (an iPhone's decimal and numeric pads) only where the
    // value cannot be negative: elsewhere the full keyboard, or the value could not be typed.
    const negative = f.minimum === null || f.minimum < 0;
    return numberInput({ inputmode: negative ? null : f.kind === "integer" ? "numeric" : "decimal", value: textOf(value) });
  }
  return /** @type {HTMLInputElement} */ (
    h("input", { type: "text", autocomplete: "off", value: textOf(value), maxlength: f.maxLength === null ? null : String(f.maxLength) })
  );
}

/**
 * An editable form's fields.
 * @param {object} options
 * @param {FormField[]} options.fields
 * @param {unknown} options.values the values in force (nested as the schema nests them)
 * @param {string} options.testid each input's is `${testid}-${field.name}`, its error line's `…-error`
 */
export function schemaFields({ fields, values, testid }) {
  /** @type {Map<string, ReturnType<typeof field>>} */
  const inputs = new Map();
  const el = h("div", { class: "schema-fields" });
  for (const f of fields) {
    if (f.kind === "other") {
      el.append(h("p", { class: "hint", "data-testid": `${testid}-${f.name}` }, `${f.label}: ${JSON.stringify(valueAt(values, f.path) ?? null)} (change it through the API)`));
      continue;
    }
    const hint = hintOf(f);
    const label = h("span", {}, f.label, hint ? h("span", { class: "hint" }, ` (${hint})`) : null);
    const made = field("", inputOf(f, valueAt(values, f.path)), `${testid}-${f.name}`);
    made.el.querySelector("label")?.replaceChildren(label);
    if (f.description) made.el.insertBefore(h("p", { class: "hint" }, f.description), made.input.nextSibling);
    inputs.set(f.name, made);
    el.append(made.el);
  }
  return {
    el,
    /**
     * What was typed, read: values and problems by field name. A number typed wrong
     * ("1,234.5", "1e3") is a problem, never an empty field.
     */
    read() {
      /** @type {Record<string, string | null>} */
      const typed = {};
      inputs.forEach((made, name) => (typed[name] = typedText(made.input)));
      return readForm(fields, typed);
    },
    /**
     * Problems next to their fields (the others' cleared).
     * @param {Record<string, string>} problems
     */
    setErrors(problems) {
      inputs.forEach((made, name) => made.setError(problems[name] ?? null));
    },
    /**
     * The inputs back to `now`'s values, errors cleared (cancel, or after a save).
     * @param {unknown} now
     */
    reset(now) {
      for (const f of fields) {
        const made = inputs.get(f.name);
        if (!made) continue;
        made.input.value = textOf(valueAt(now, f.path));
        made.setError(null);
      }
    },
    /** The first input, to move the focus into the form. */
    first() {
      return inputs.values().next().value?.input ?? null;
    },
    names() {
      return [...inputs.keys()];
    },
  };
}

/**
 * The values read-only, one figure per field (what a viewer sees).
 * @param {object} options
 * @param {FormField[]} options.fields
 * @param {unknown} options.values
 * @param {string} options.testid each figure's
 */
export function schemaValues({ fields, values, testid }) {
  return h(
    "dl",
    { class: "figures compact" },
    ...fields.map((f) => {
      const value = valueAt(values, f.path);
      const text = value === null || value === undefined ? "none" : typeof value === "object" ? JSON.stringify(value) : String(value);
      return h("div", { class: "figure", "data-testid": testid, "data-name": f.name }, h("dt", {}, f.label), h("dd", {}, text));
    }),
  );
}

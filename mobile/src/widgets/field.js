/**
 * A labelled form field with its own error line under it, where the server's refusal of
 * that value is shown (linked by aria-describedby, so a screen reader reads it too), and the
 * app's number fields: text inputs with a decimal keypad, read by one parser (a decimal comma
 * or point, nothing else; models/schema_form.js's parseNumber says the rules).
 */

import { h } from "./dom.js";

let counter = 0;

/**
 * @param {string} label
 * @param {HTMLInputElement | HTMLSelectElement} input
 * @param {string} testid the error line's is `${testid}-error`
 * @returns {{el: HTMLElement, input: HTMLInputElement | HTMLSelectElement, setError(message: string | null): void}}
 */
export function field(label, input, testid) {
  counter += 1;
  const id = `f${counter}`;
  const errorId = `${id}-error`;
  input.id = id;
  input.setAttribute("data-testid", testid);
  const error = h("p", { class: "field-error", id: errorId, role: "alert", "data-testid": `${testid}-error`, hidden: true });
  const el = h("div", { class: "field" }, h("label", { for: id }, label), input, error);
  return {
    el,
    input,
    setError(message) {
      error.textContent = message ?? "";
      error.hidden = !message;
      if (message) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", errorId);
      } else {
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
      }
    },
  };
}

/**
 * A number input for prices, volumes and ratios: a text input with a decimal keypad, its
 * text (typedText) read by models/schema_form.js's parseNumber, never `type=number`, which
 * in some locales reads "1,5" as 15 without a word.
 * @param {Record<string, string | null>} [attrs] e.g. `{inputmode: "numeric"}` for whole numbers
 */
export function numberInput(attrs = {}) {
  return /** @type {HTMLInputElement} */ (
    h("input", { type: "text", inputmode: "decimal", autocomplete: "off", autocapitalize: "off", spellcheck: "false", ...attrs })
  );
}

/**
 * What was typed in a field, as text for a parser; null when the browser itself could not
 * read it.
 *
 * Why: an input the browser parses (a `type=date` holding a half-typed date, a `type=number`
 * holding "1e") says `validity.badInput` and gives "" as its value, exactly as an empty field
 * does. Read from `.value` alone, a typo passes for "none": a date filter silently dropped, a
 * setting switched off. So every field is read through this, never through `.value` alone.
 * @param {{value: string, validity?: {badInput?: boolean}}} input
 * @returns {string | null}
 */
export function typedText(input) {
  return input.validity?.badInput ? null : input.value;
}

/**
 * A labelled form field with its own error line under it, where the server's refusal of
 * that value is shown (linked by aria-describedby, so a screen reader reads it too).
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
 * A number input for prices or volumes.
 * @param {Record<string, string>} [attrs]
 */
export function numberInput(attrs = {}) {
  return /** @type {HTMLInputElement} */ (h("input", { type: "number", inputmode: "decimal", step: "any", ...attrs }));
}

/** What a number field says when the browser could not read what was typed. */
export const NOT_A_NUMBER = "Give a number.";

/**
 * What was typed in a number field, as text for a parser; null when the browser could not
 * read it as a number.
 *
 * Why: a `type=number` input holding "1e", "-" or "1-2" says `validity.badInput` and gives
 * "" as its value, exactly as an empty field does. Read from `.value` alone, a typo passes
 * for "none": a nullable setting switched off (break-even, trailing stop on live trades), a
 * take profit left out of an order, a volume left to the risk rules, a limit not sent. So
 * every number field is read through this (or readNumber), never through `.value` alone.
 * @param {{value: string, validity?: {badInput?: boolean}}} input
 * @returns {string | null}
 */
export function typedNumber(input) {
  return input.validity?.badInput ? null : input.value;
}

/**
 * A number field's value: null when it is empty; undefined when what was typed is not a
 * number, its error line then saying so ("Give a number.").
 * @param {{input: {value: string, validity?: {badInput?: boolean}}, setError(message: string | null): void}} made a `field`
 * @returns {number | null | undefined}
 */
export function readNumber(made) {
  const text = typedNumber(made.input)?.trim().replace(",", ".");
  if (text === "") return null;
  const value = text === undefined ? Number.NaN : Number(text);
  if (!Number.isFinite(value)) {
    made.setError(NOT_A_NUMBER);
    return undefined;
  }
  return value;
}

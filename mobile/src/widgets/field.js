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

/**
 * A status pill: a short word on a coloured background ("Connected", "Paper", "Tripped").
 * The word carries the meaning; the colour only repeats it. `data-state` holds the API's
 * raw value for styling (and for tests).
 */

import { h } from "./dom.js";

/** @typedef {"good" | "bad" | "warn" | "neutral"} Tone */

/**
 * @param {Record<string, string>} [attrs]
 * @returns {HTMLElement}
 */
export function pill(attrs = {}) {
  return h("span", { ...attrs, class: "pill", "data-tone": "neutral" }, "—");
}

/**
 * @param {HTMLElement} el made by `pill`
 * @param {string} text
 * @param {Tone} tone
 * @param {string | null} state
 */
export function setPill(el, text, tone, state) {
  el.textContent = text;
  el.dataset.tone = tone;
  if (state === null) delete el.dataset.state;
  else el.dataset.state = state;
}

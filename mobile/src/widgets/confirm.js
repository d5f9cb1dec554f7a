/**
 * Asking before a destructive action, in the page (a modal `<dialog>`), not with
 * `window.confirm`: it is styled like the app, names the action on its button, and a test
 * can drive it. Escape or "Cancel" answers no.
 */

import { h } from "./dom.js";

/**
 * @param {object} options
 * @param {string} options.title e.g. "Close EURUSD?"
 * @param {string} options.text what will happen, in words
 * @param {string} options.action the confirm button's label, e.g. "Close position"
 * @param {"danger" | "primary"} [options.tone] the confirm button's look: red for what ends something
 * @returns {Promise<boolean>} whether the person confirmed
 */
export function confirmAction({ title, text, action, tone = "danger" }) {
  const ok = h("button", { type: "button", class: tone, "data-testid": "confirm-ok" }, action);
  const cancel = h("button", { type: "button", class: "ghost", "data-testid": "confirm-cancel" }, "Cancel");
  const dialog = /** @type {HTMLDialogElement} */ (
    h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title", "aria-describedby": "confirm-text", "data-testid": "confirm" },
      h("h2", { id: "confirm-title" }, title),
      h("p", { id: "confirm-text" }, text),
      h("div", { class: "actions" }, cancel, ok),
    )
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    /** @param {boolean} answer */
    const answer = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    ok.addEventListener("click", () => answer(true));
    cancel.addEventListener("click", () => answer(false));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      answer(false);
    });
    dialog.showModal();
    cancel.focus(); // the safe answer has the focus
  });
}

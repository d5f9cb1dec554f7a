/**
 * The bar at the top of every signed-in screen: its title and who is signed in.
 */

import { h } from "../widgets/dom.js";

/**
 * @param {string} title
 * @param {string} id the heading's id (the screen is labelled by it)
 * @param {import("../services/auth.js").Auth} auth
 * @param {...HTMLElement} extra e.g. a back link before the title
 */
export function topbar(title, id, auth, ...extra) {
  return h(
    "header",
    { class: "topbar" },
    ...extra,
    h("h1", { id, class: "brand" }, title),
    h("span", { class: "who" }, auth.session?.username ?? ""),
  );
}

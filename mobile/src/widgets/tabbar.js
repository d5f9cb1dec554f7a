/**
 * The bottom tab bar: the signed-in screens one thumb away, the current one marked
 * (`aria-current="page"`, not by colour alone). Tabs are links to hashes, so back and
 * forward move between screens like pages.
 */

import { TABS, tabOf } from "../models/route.js";
import { h } from "./dom.js";

export function tabBar() {
  const links = TABS.map((tab) => h("a", { href: tab.hash, class: "tab", "data-tab": tab.name, "data-testid": `tab-${tab.name}` }, tab.label));
  const el = h("nav", { class: "tabbar", "aria-label": "Screens" }, ...links);
  return {
    el,
    /** @param {import("../models/route.js").Route} route */
    mark(route) {
      const on = tabOf(route);
      for (const link of links) {
        if (link.dataset.tab === on) link.setAttribute("aria-current", "page");
        else link.removeAttribute("aria-current");
      }
    },
  };
}

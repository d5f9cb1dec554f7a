/**
 * The Control screen (`#/control`): the strategies (screens/strategies.js), the risk state
 * with the kill switch (screens/risk.js) and push alerts (screens/alerts.js), one card each.
 * What a role may not do is not shown: a viewer reads the state and manages only their own
 * alerts. When the network returns, every card reads its data again (opened offline, they
 * said so in words), what is being typed in a form kept.
 */

import { canTrade, roleOfToken } from "../models/role.js";
import { watchNetwork } from "../services/network.js";
import { h } from "../widgets/dom.js";
import { alertsSection } from "./alerts.js";
import { riskSection } from "./risk.js";
import { strategiesSection } from "./strategies.js";
import { topbar } from "./topbar.js";

/**
 * @param {HTMLElement} root
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {import("../services/auth.js").Auth} options.auth
 * @returns {{destroy(): void}}
 */
export function showControl(root, { api, auth }) {
  const role = roleOfToken(auth.session?.accessToken);
  const risk = riskSection({ api, role });
  const strategies = strategiesSection({ api, canChange: canTrade(role) });
  const alerts = alertsSection({ api });
  root.append(
    h(
      "section",
      { class: "screen screen-control", "aria-labelledby": "control-title" },
      topbar("Strategies & risk", "control-title", auth),
      risk.el,
      strategies.el,
      alerts.el,
    ),
  );
  // One watch for the screen, each card re-read once.
  const stopWatching = watchNetwork({ online: () => [risk, strategies, alerts].forEach((card) => card.reload()) });
  return {
    destroy() {
      stopWatching();
    },
  };
}

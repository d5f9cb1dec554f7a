/**
 * The app's entry: one Auth and one Api for the whole app, and the screen that fits the
 * session and the URL — sign-in without a session; with one, the screen the hash names
 * (models/route.js) under the bottom tab bar. A session ending anywhere (the server refused
 * a refresh, another tab signed out) brings back the sign-in screen with the reason.
 */

import { parseRoute } from "./models/route.js";
import { Api } from "./services/api.js";
import { Auth } from "./services/auth.js";
import { showAnalysis } from "./screens/analysis.js";
import { showSymbolAnalysis } from "./screens/analysis_symbol.js";
import { showControl } from "./screens/control.js";
import { showDashboard } from "./screens/dashboard.js";
import { showPositions } from "./screens/positions.js";
import { showSignin } from "./screens/signin.js";
import { showTrade } from "./screens/trade.js";
import { showTrades } from "./screens/trades.js";
import { tabBar } from "./widgets/tabbar.js";

/** @typedef {{destroy(): void}} Screen */

function start() {
  const root = /** @type {HTMLElement} */ (document.getElementById("app"));
  const auth = new Auth();
  const api = new Api(auth);
  const tabs = tabBar();
  /** @type {Screen | null} */
  let current = null;
  let signedIn = false;

  /** @param {(root: HTMLElement) => Screen} make @param {string} title */
  const show = (make, title) => {
    current?.destroy();
    root.replaceChildren();
    document.title = title;
    current = make(root);
    window.scrollTo(0, 0);
  };
  /** @param {string | null} notice */
  const signIn = (notice) => {
    signedIn = false;
    tabs.el.remove();
    document.body.classList.remove("has-tabs");
    show((r) => showSignin(r, { auth, notice, onSignedIn: route }), "Sign in · forexbot");
  };
  const route = () => {
    if (!auth.session) return signIn(null);
    signedIn = true;
    if (!tabs.el.isConnected) {
      document.body.append(tabs.el);
      document.body.classList.add("has-tabs");
    }
    const where = parseRoute(location.hash);
    tabs.mark(where);
    switch (where.name) {
      case "positions":
        return show((r) => showPositions(r, { api, auth }), "Positions · forexbot");
      case "trades":
        return show((r) => showTrades(r, { api, auth }), "Trades · forexbot");
      case "analysis":
        return show((r) => showAnalysis(r, { api, auth }), "Analysis · forexbot");
      case "symbol":
        return show((r) => showSymbolAnalysis(r, { api, auth, symbol: where.symbol }), `${where.symbol} · Analysis · forexbot`);
      case "control":
        return show((r) => showControl(r, { api, auth }), "Strategies & risk · forexbot");
      case "trade":
        return show((r) => showTrade(r, { api, auth, id: where.id }), `Trade ${where.id} · forexbot`);
      default:
        return show(
          (r) => showDashboard(r, { api, auth, onSignedOut: () => signIn("You are signed out.") }),
          "Dashboard · forexbot",
        );
    }
  };

  auth.onEnded = signIn;
  auth.watchOtherTabs(window);
  window.addEventListener("hashchange", () => {
    if (signedIn) route();
  });
  if (auth.restore()) route();
  else signIn(null);

  registerServiceWorker();
}

/** The service worker makes the app installable and opens it offline (shell only, no data). */
function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("sw.js", { scope: "./" }).catch((error) => {
    console.warn("service worker not registered:", error);
  });
}

start();

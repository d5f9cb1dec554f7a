/**
 * The app's entry: one Auth and one Api for the whole app, and the screen that fits the
 * session and the URL — sign-in without a session; with one, the screen the hash names
 * (models/route.js) under the bottom tab bar. A session ending anywhere (the server refused
 * a refresh, another tab signed out) brings back the sign-in screen with the reason.
 */

import { parseRoute } from "./models/route.js";
import { Api } from "./services/api.js";
import { Auth } from "./services/auth.js";
import { showSignin } from "./screens/signin.js";
import { h } from "./widgets/dom.js";
import { tabBar } from "./widgets/tabbar.js";

/** @typedef {{destroy(): void}} Screen */
/** @typedef {import("./models/route.js").Route} Route */
/** @typedef {{api: Api, auth: Auth, signIn: (notice: string | null) => void}} Services */
/** @typedef {{title: string, make: (root: HTMLElement) => Screen}} Shown */

/**
 * The screen of a signed-in route, its module loaded when first needed: the sign-in screen
 * needs only its own few modules, so a phone on a slow network shows it sooner, and the
 * others load while the trader types (see `preload`).
 * @param {Route} where
 * @param {Services} s
 * @returns {Promise<Shown>}
 */
async function screenFor(where, { api, auth, signIn }) {
  switch (where.name) {
    case "positions": {
      const { showPositions } = await import("./screens/positions.js");
      return { title: "Positions", make: (r) => showPositions(r, { api, auth }) };
    }
    case "trades": {
      const { showTrades } = await import("./screens/trades.js");
      return { title: "Trades", make: (r) => showTrades(r, { api, auth }) };
    }
    case "trade": {
      const { showTrade } = await import("./screens/trade.js");
      return { title: `Trade ${where.id}`, make: (r) => showTrade(r, { api, auth, id: where.id }) };
    }
    case "analysis": {
      const { showAnalysis } = await import("./screens/analysis.js");
      return { title: "Analysis", make: (r) => showAnalysis(r, { api, auth }) };
    }
    case "symbol": {
      const { showSymbolAnalysis } = await import("./screens/analysis_symbol.js");
      return {
        title: `${where.symbol} · Analysis`,
        make: (r) => showSymbolAnalysis(r, { api, auth, symbol: where.symbol }),
      };
    }
    case "control": {
      const { showControl } = await import("./screens/control.js");
      return { title: "Strategies & risk", make: (r) => showControl(r, { api, auth }) };
    }
    default: {
      const { showDashboard } = await import("./screens/dashboard.js");
      return {
        title: "Dashboard",
        make: (r) => showDashboard(r, { api, auth, onSignedOut: () => signIn("You are signed out.") }),
      };
    }
  }
}

/** Every signed-in screen's module, fetched (and cached by the browser) in the background. */
const SCREEN_MODULES = [
  "./screens/dashboard.js",
  "./screens/positions.js",
  "./screens/trades.js",
  "./screens/trade.js",
  "./screens/analysis.js",
  "./screens/analysis_symbol.js",
  "./screens/control.js",
];

/** Load the other screens once the current one is up and the browser is idle. */
function preload() {
  const load = () => SCREEN_MODULES.forEach((m) => import(m).catch(() => {})); // offline: later
  if ("requestIdleCallback" in window) window.requestIdleCallback(load, { timeout: 3000 });
  else setTimeout(load, 500);
}

function start() {
  const root = /** @type {HTMLElement} */ (document.getElementById("app"));
  const auth = new Auth();
  const api = new Api(auth);
  const tabs = tabBar();
  /** @type {Screen | null} */
  let current = null;
  let signedIn = false;
  /** Counts navigations: a screen whose module arrives after a newer navigation is dropped. */
  let navigation = 0;

  /** @param {(root: HTMLElement) => Screen} make @param {string} title */
  const show = (make, title) => {
    current?.destroy();
    current = null; // destroyed once, even when the next screen fails to build
    root.replaceChildren();
    document.title = `${title} · forexbot`;
    current = make(root);
    window.scrollTo(0, 0);
  };
  /**
   * A screen that could not be shown, said in words where it would be.
   * @param {string} words
   * @param {boolean} offerRetry
   */
  const failed = (words, offerRetry) => {
    current?.destroy();
    current = null;
    root.replaceChildren(h("p", { class: "error", role: "alert", "data-testid": "screen-error" }, words));
    if (!offerRetry) return;
    const retry = h("button", { type: "button", "data-testid": "screen-retry" }, "Try again");
    retry.addEventListener("click", () => route());
    root.append(retry);
  };
  /** @param {string | null} notice */
  const signIn = (notice) => {
    navigation += 1;
    signedIn = false;
    tabs.el.remove();
    document.body.classList.remove("has-tabs");
    show((r) => showSignin(r, { auth, notice, onSignedIn: route }), "Sign in");
    preload();
  };
  const route = async () => {
    if (!auth.session) return signIn(null);
    signedIn = true;
    const mine = (navigation += 1);
    if (!tabs.el.isConnected) {
      document.body.append(tabs.el);
      document.body.classList.add("has-tabs");
    }
    const where = parseRoute(location.hash);
    tabs.mark(where);
    /** @type {Shown} */
    let screen;
    try {
      screen = await screenFor(where, { api, auth, signIn });
    } catch {
      // The module could not be fetched: offline before it was ever cached.
      if (mine === navigation) failed("This screen could not be loaded: the daemon cannot be reached.", true);
      return;
    }
    if (mine !== navigation) return;
    try {
      show(screen.make, screen.title);
    } catch (error) {
      // A fault of the screen itself: said as such, and kept for whoever debugs it.
      console.error(error);
      failed(`This screen failed: ${error instanceof Error ? error.message : String(error)}`, false);
    }
  };

  auth.onEnded = signIn;
  auth.watchOtherTabs(window);
  window.addEventListener("hashchange", () => {
    if (signedIn) route();
  });
  if (auth.restore()) {
    route();
    preload();
  } else signIn(null);

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

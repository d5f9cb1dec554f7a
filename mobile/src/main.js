/**
 * The app's entry: one Auth and one Api for the whole app, and the screen that fits the
 * session — sign-in without one, the dashboard with one. A session ending anywhere (the
 * server refused a refresh, another tab signed out) brings back the sign-in screen with
 * the reason.
 */

import { Api } from "./services/api.js";
import { Auth } from "./services/auth.js";
import { showDashboard } from "./screens/dashboard.js";
import { showSignin } from "./screens/signin.js";

/** @typedef {{destroy(): void}} Screen */

function start() {
  const root = /** @type {HTMLElement} */ (document.getElementById("app"));
  const auth = new Auth();
  const api = new Api(auth);
  /** @type {Screen | null} */
  let current = null;

  /** @param {(root: HTMLElement) => Screen} make @param {string} title */
  const show = (make, title) => {
    current?.destroy();
    root.replaceChildren();
    document.title = title;
    current = make(root);
  };
  /** @param {string | null} notice */
  const signIn = (notice) =>
    show((r) => showSignin(r, { auth, notice, onSignedIn: dashboard }), "Sign in · forexbot");
  const dashboard = () =>
    show((r) => showDashboard(r, { api, auth, onSignedOut: () => signIn("You are signed out.") }), "Dashboard · forexbot");

  auth.onEnded = signIn;
  auth.watchOtherTabs(window);
  if (auth.restore()) dashboard();
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

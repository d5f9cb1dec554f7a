/**
 * The dashboard: the terminal's connection, the mode, the account's figures, the open
 * positions and the kill switch, kept live by `/ws/system` and `/ws/performance`; today's P/L
 * and the equity curve (screens/dashboard_equity.js), the last signal
 * (screens/dashboard_signal.js, `/ws/signals`) and live quotes (screens/dashboard_quotes.js,
 * `/ws/quotes`).
 *
 * When any of the four streams drops, the last figures stay on screen, their cards dashed,
 * under one "stale" banner that says since when; they come back to life when the stream
 * reconnects.
 */

import { SessionEnded, isOfflineError } from "../models/errors.js";
import { OFFLINE, isOffline } from "../services/api.js";
import { emptyDashboard, withPerformance, withStatus, withSystemMessage } from "../models/dashboard.js";
import { watchNetwork } from "../services/network.js";
import { LiveSocket } from "../services/ws.js";
import { h } from "../widgets/dom.js";
import { formatCount, formatMoney, formatPnl, formatWord } from "../widgets/format.js";
import { pill, setPill } from "../widgets/pill.js";
import { equitySection } from "./dashboard_equity.js";
import { quotesSection } from "./dashboard_quotes.js";
import { signalSection } from "./dashboard_signal.js";

/** @typedef {import("../models/dashboard.js").Dashboard} Dashboard */

const CONNECTION_TONE = /** @type {const} */ ({ connected: "good", connecting: "warn", disconnected: "bad", stopped: "bad" });

/**
 * @param {HTMLElement} root
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {import("../services/auth.js").Auth} options.auth
 * @param {() => void} options.onSignedOut
 * @returns {{destroy(): void}}
 */
export function showDashboard(root, { api, auth, onSignedOut }) {
  /** @type {Dashboard} */
  let dash = emptyDashboard();
  const v = {
    connection: pill({ "data-testid": "dash-connection" }),
    mode: pill({ "data-testid": "dash-mode" }),
    killSwitch: pill({ "data-testid": "dash-kill-switch" }),
    killReason: h("p", { class: "reason", hidden: true }),
    balance: h("span", { "data-testid": "dash-balance" }, "—"),
    equity: h("span", { "data-testid": "dash-equity" }, "—"),
    margin: h("span", { "data-testid": "dash-margin" }, "—"),
    freeMargin: h("span", { "data-testid": "dash-free-margin" }, "—"),
    floating: h("span", { "data-testid": "dash-floating", class: "pnl" }, "—"),
    positions: h("span", { "data-testid": "dash-positions" }, "—"),
  };
  const stale = h("p", { class: "stale", role: "status", "data-testid": "dash-stale" });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const logout = h("button", { type: "button", class: "ghost", "data-testid": "logout" }, "Log out");
  const token = () => auth.accessToken();
  const onStale = () => updateStale();
  const equity = equitySection({ api });
  const signal = signalSection({ api, token, onStale, now: () => tradingNow(dash) });
  const quotes = quotesSection({ api, token, onStale });

  /** @param {string} label @param {HTMLElement} value */
  const figure = (label, value) => h("div", { class: "figure" }, h("dt", {}, label), h("dd", {}, value));
  const figures = h(
    "dl",
    { class: "figures" },
    figure("Balance", v.balance),
    figure("Equity", v.equity),
    figure("Margin", v.margin),
    figure("Free margin", v.freeMargin),
    figure("Floating P/L", v.floating),
    figure("Open positions", v.positions),
  );
  const screen = h(
    "section",
    { class: "screen screen-dashboard", "aria-labelledby": "dash-title" },
    h(
      "header",
      { class: "topbar" },
      h("h1", { id: "dash-title", class: "brand" }, "forexbot"),
      h("span", { class: "who" }, auth.session?.username ?? ""),
      logout,
    ),
    error,
    h(
      "div",
      { class: "card states" },
      h("div", { class: "state" }, h("span", { class: "label" }, "Terminal"), v.connection),
      h("div", { class: "state" }, h("span", { class: "label" }, "Mode"), v.mode),
      h("div", { class: "state" }, h("span", { class: "label" }, "Kill switch"), v.killSwitch),
      v.killReason,
    ),
    equity.el,
    h("div", { class: "card" }, figures),
    signal.el,
    quotes.el,
  );
  root.append(screen);

  const render = () => {
    const c = dash.connection;
    setPill(v.connection, formatWord(c), c ? CONNECTION_TONE[/** @type {keyof typeof CONNECTION_TONE} */ (c)] ?? "warn" : "neutral", c);
    setPill(v.mode, formatWord(dash.mode), dash.mode === "live" ? "warn" : "neutral", dash.mode);
    const k = dash.killSwitch;
    if (k) setPill(v.killSwitch, k.active ? "Tripped" : "Off", k.active ? "bad" : "good", k.active ? "active" : "inactive");
    v.killReason.hidden = !k?.active;
    v.killReason.textContent = k?.active ? [formatWord(k.code), k.reason].filter(Boolean).join(": ") : "";
    const a = dash.account;
    v.balance.textContent = formatMoney(a?.balance, a?.currency);
    v.equity.textContent = formatMoney(a?.equity, a?.currency);
    v.margin.textContent = formatMoney(a?.margin, a?.currency);
    v.freeMargin.textContent = formatMoney(a?.marginFree, a?.currency);
    const pnl = formatPnl(a?.floating, a?.currency);
    v.floating.textContent = pnl.text;
    v.floating.dataset.tone = pnl.tone;
    v.positions.textContent = formatCount(dash.positions);
    equity.setAccount(a);
    signal.tick();
    if (dash.positions !== positionsShown) quotes.positionsChanged(dash.positions);
    positionsShown = dash.positions;
  };
  /** @type {number | null} the count the quotes card last heard of */
  let positionsShown = null;

  let stopped = false;
  /** @param {unknown} e */
  const showError = (e) => {
    if (e instanceof SessionEnded || stopped) return; // the app is back on the sign-in screen already
    if (isOfflineError(e)) return updateStale(); // the banner says it, once
    error.textContent = `Could not read the status: ${/** @type {Error} */ (e).message}`;
    error.hidden = false;
  };
  /** @type {Promise<void> | null} */
  let reading = null;
  /** The status over HTTP: the first figures, and a check of the session before a reconnect. */
  const readStatus = () =>
    (reading ??= api
      .get("/api/system/status")
      .then((status) => {
        if (stopped) return; // an answer after the dashboard closed: nothing to show it on
        error.hidden = true;
        dash = withStatus(dash, status);
        render();
      })
      .finally(() => {
        reading = null;
      }));

  /** @type {Date | null} when live figures last came (none yet: nothing to call stale) */
  let lastLive = null;
  const updateStale = () => {
    const down = isOffline() || sockets.some((s) => s.stale);
    screen.classList.toggle("is-stale", down);
    if (down) {
      stale.textContent = lastLive
        ? `Live data lost: these figures are from ${lastLive.toLocaleTimeString()}. ${isOffline() ? OFFLINE : "Reconnecting…"}`
        : isOffline()
          ? OFFLINE
          : "No live data yet. Connecting…";
      if (!stale.isConnected) screen.insertBefore(stale, error);
    } else {
      stale.remove();
    }
  };
  /** @param {(d: Dashboard, data: any) => Dashboard} apply @param {(data: any) => void} [also] */
  const onMessage = (apply, also) => (/** @type {any} */ message) => {
    if (message?.error || !message?.data) return;
    lastLive = new Date();
    dash = apply(dash, message.data);
    also?.(message.data);
    render();
  };
  // Both share one status request; the performance stream also re-reads the curve it extends.
  const own = [
    new LiveSocket({ path: "/ws/system", token, beforeReconnect: readStatus, onMessage: onMessage(withSystemMessage), onStale }),
    new LiveSocket({
      path: "/ws/performance",
      token,
      beforeReconnect: () => Promise.all([readStatus(), equity.reread()]),
      onMessage: onMessage(withPerformance, (data) => equity.addLive(data)),
      onStale,
    }),
  ];
  const sockets = [...own, quotes.socket, signal.socket]; // the cards start and stop their own
  const online = () => {
    sockets.forEach((s) => s.retryNow());
    updateStale();
  };
  const offline = () => {
    sockets.forEach((s) => s.drop());
    updateStale();
  };
  const stopWatching = watchNetwork({ online, offline });

  logout.addEventListener("click", async () => {
    logout.setAttribute("disabled", "");
    await auth.logout();
    onSignedOut();
  });

  render();
  readStatus().catch(showError);
  equity.reread();
  own.forEach((s) => s.start());

  return {
    destroy() {
      stopped = true;
      stopWatching();
      own.forEach((s) => s.stop());
      [equity, signal, quotes].forEach((section) => section.destroy());
    },
  };
}

/**
 * The trading clock's time now, as far as the phone knows: that of the latest figures (the
 * phone's own clock before any).
 * @param {Dashboard} dash
 */
function tradingNow(dash) {
  const time = dash.updatedAt ? Date.parse(dash.updatedAt) : Number.NaN;
  return Number.isNaN(time) ? Date.now() : time;
}

/**
 * The dashboard's last signal: strategy, symbol, side, entry and how long ago, first from
 * `GET /api/signals?limit=1` (the daemon keeps the recent ones in memory: after a restart
 * there are none until a strategy signals), then live from `/ws/signals`. Read again after
 * the stream comes back, so a signal sent while it was down still shows.
 *
 * "How long ago" is counted on the trading clock (`now()`, the dashboard's latest figures)
 * and its words are refreshed every 15 s.
 */

import { SessionEnded, isOfflineError } from "../models/errors.js";
import { newerSignal, signalOf, timeAgo } from "../models/dashboard_signal.js";
import { LiveSocket } from "../services/ws.js";
import { h } from "../widgets/dom.js";
import { formatNumber, formatTime, formatWord } from "../widgets/format.js";

/** @typedef {import("../models/dashboard_signal.js").Signal} Signal */

const REFRESH_MS = 15_000;

/**
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {() => Promise<string>} options.token
 * @param {(stale: boolean) => void} options.onStale
 * @param {() => number} options.now the trading clock's time now, ms
 */
export function signalSection({ api, token, onStale, now }) {
  /** @type {Signal | null} */
  let latest = null;
  /** @type {"reading" | "read" | "failed"} */
  let state = "reading";
  let stopped = false;

  const v = {
    strategy: h("span", { "data-testid": "dash-signal-strategy" }),
    symbol: h("span", { "data-testid": "dash-signal-symbol" }),
    side: h("span", { class: "pill", "data-testid": "dash-signal-side" }),
    entry: h("span", { "data-testid": "dash-signal-entry" }),
    ago: h("time", { "data-testid": "dash-signal-ago" }),
  };
  const shown = h(
    "div",
    { class: "last-signal", "data-testid": "dash-signal", hidden: true },
    h("div", { class: "row-main" }, h("strong", {}, v.symbol), v.side),
    h("div", { class: "row-sub" }, v.strategy, v.ago),
    h("div", { class: "row-sub" }, h("span", {}, "Entry"), v.entry),
  );
  const none = h("p", { class: "hint", "data-testid": "dash-signal-none" }, "Reading the signals…");
  const error = h("p", { class: "error", role: "alert", "data-testid": "dash-signal-error", hidden: true });
  const el = h("section", { class: "card", "aria-labelledby": "signal-title" }, h("h2", { id: "signal-title" }, "Last signal"), error, none, shown);

  const render = () => {
    shown.hidden = latest === null;
    none.hidden = latest !== null;
    if (!latest) {
      none.textContent = { reading: "Reading the signals…", read: "No signal yet.", failed: "No signal to show." }[state];
      return;
    }
    shown.dataset.side = latest.side;
    shown.dataset.symbol = latest.symbol;
    v.symbol.textContent = latest.symbol;
    v.strategy.textContent = latest.timeframe ? `${latest.strategy} · ${latest.timeframe}` : latest.strategy;
    v.side.textContent = formatWord(latest.side);
    v.side.dataset.tone = latest.side === "buy" ? "good" : "bad";
    v.entry.textContent = formatNumber(latest.entry);
    const iso = new Date(latest.time).toISOString();
    v.ago.setAttribute("datetime", iso);
    v.ago.setAttribute("title", formatTime(iso));
    v.ago.textContent = timeAgo(latest.time, now());
  };

  /** @returns {Promise<void>} the newest signal read again (rejects for the LiveSocket's retry) */
  const reread = () =>
    api.get("/api/signals?limit=1").then((answer) => {
      if (stopped) return;
      state = "read";
      error.hidden = true;
      latest = newerSignal(latest, signalOf(answer?.items?.[0]));
      render();
    });

  const socket = new LiveSocket({
    path: "/ws/signals",
    token,
    beforeReconnect: reread,
    onStale,
    onMessage: (message) => {
      const heard = signalOf(message?.data);
      if (!heard) return;
      latest = newerSignal(latest, heard);
      render();
    },
  });

  const timer = setInterval(render, REFRESH_MS);
  render();
  reread().catch((e) => {
    if (e instanceof SessionEnded || isOfflineError(e) || stopped) return;
    error.textContent = `Could not read the last signal: ${/** @type {Error} */ (e).message}`;
    error.hidden = false;
    if (state === "reading") state = "failed";
    render();
  });
  socket.start();

  return {
    el,
    socket,
    /** The trading clock moved (new figures): the words of "how long ago" follow. */
    tick() {
      if (latest) v.ago.textContent = timeAgo(latest.time, now());
    },
    destroy() {
      stopped = true;
      clearInterval(timer);
      socket.stop();
    },
  };
}

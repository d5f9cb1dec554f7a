/**
 * The signals section of the Analysis screen: the strategies' latest signals, newest first
 * — first the last 50 from `GET /api/signals?limit=50`, then live from `/ws/signals` (each
 * signal message's `data` has the same shape as an item of that list, less the risk decision;
 * the decision follows in a message `{"type": "decision", "signal": <the item with risk>}`,
 * merged into the signal listed). A signal is what a strategy proposed; the list says whether
 * the risk rules let it through when the server knows (the daemon keeps the latest in memory:
 * after a restart the list starts empty). Each shows when it came (`time`, the close of its
 * bar), the order of the list.
 *
 * When the stream drops, the list stays as it was and the screen shows its stale banner;
 * on reconnecting, the list is read again over HTTP, so signals sent meanwhile are not lost.
 */

import { SIGNALS_KEPT, signalHeard, signalWords, withSignals } from "../models/analysis.js";
import { SessionEnded } from "../models/errors.js";
import { LiveSocket } from "../services/ws.js";
import { h } from "../widgets/dom.js";
import { formatTime } from "../widgets/format.js";

/**
 * One signal, as a list item.
 * @param {any} s
 */
export function signalItem(s) {
  const words = signalWords(s);
  return h(
    "li",
    { class: "signal", "data-testid": "signal", "data-symbol": String(s.symbol), "data-side": String(s.side) },
    h("span", { class: "row-main" }, h("strong", {}, words.title), h("span", { class: "hint" }, formatTime(s.time ?? s.bar_time))),
    h("span", { class: "signal-prices" }, words.prices),
    h("span", { class: "hint" }, `${words.by}: ${words.reason}`),
    words.decision ? h("span", { class: "signal-decision", "data-tone": words.tone, "data-testid": "signal-decision" }, words.decision) : null,
  );
}

/**
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {import("../services/auth.js").Auth} options.auth
 * @param {() => void} options.onStale called when the stream's stale flag changes
 * @returns {{el: HTMLElement, socket: LiveSocket, start(): void, stop(): void}}
 */
export function signalsSection({ api, auth, onStale }) {
  const loading = h("p", { class: "hint", "data-testid": "signals-loading" }, "Reading the latest signals…");
  const empty = h(
    "p",
    { class: "hint", "data-testid": "signals-empty", hidden: true },
    "No signals yet: no strategy has signalled since the daemon started. New ones appear here as they come.",
  );
  const error = h("p", { class: "error", role: "alert", "data-testid": "signals-error", hidden: true });
  const list = h("ul", { class: "list signals", "data-testid": "signals-list" });
  const el = h(
    "section",
    { class: "card analysis-card", "aria-labelledby": "signals-title" },
    h("h2", { id: "signals-title" }, "Signals"),
    loading,
    error,
    empty,
    list,
  );

  /** @type {any[]} */
  let signals = [];
  let stopped = false;
  const render = () => {
    list.replaceChildren(...signals.map(signalItem));
    empty.hidden = signals.length > 0 || !error.hidden;
  };

  const load = async () => {
    try {
      const answer = await api.get(`/api/signals?limit=${SIGNALS_KEPT}`);
      if (stopped) return;
      error.hidden = true;
      signals = withSignals(signals, answer.items);
    } catch (e) {
      if (e instanceof SessionEnded || stopped) return;
      error.textContent = `Could not read the latest signals: ${/** @type {Error} */ (e).message}`;
      error.hidden = false;
    } finally {
      loading.hidden = true;
      if (!stopped) render();
    }
  };

  const socket = new LiveSocket({
    path: "/ws/signals",
    token: () => auth.accessToken(),
    beforeReconnect: load,
    onMessage: (message) => {
      const heard = signalHeard(message); // a signal, or the decision on one
      if (!heard) return;
      signals = withSignals(signals, [heard]);
      render();
    },
    onStale,
  });

  return {
    el,
    socket,
    start() {
      load();
      socket.start();
    },
    stop() {
      stopped = true;
      socket.stop();
    },
  };
}

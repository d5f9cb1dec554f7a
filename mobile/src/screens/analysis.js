/**
 * The Analysis screen (`#/analysis`): the market conditions of every watched symbol
 * (screens/analysis_conditions.js; a symbol opens its chart, screens/analysis_symbol.js),
 * the strategies' signals, live (screens/analysis_signals.js), and the performance by
 * strategy and symbol for today, this week or this month (screens/analysis_performance.js).
 * Read-only: every role sees the same screen.
 *
 * Conditions change with every closed bar and performance with every closed trade: both
 * are re-read every `REREAD_MS` while the screen is shown (not while the phone is locked or
 * the app hidden). When the signals stream drops or the conditions cannot be read, what is
 * on screen stays, under the stale banner, until the data comes back.
 */

import { watchNetwork } from "../services/network.js";
import { h } from "../widgets/dom.js";
import { conditionsSection } from "./analysis_conditions.js";
import { performanceSection } from "./analysis_performance.js";
import { signalsSection } from "./analysis_signals.js";
import { topbar } from "./topbar.js";

const REREAD_MS = 15_000;

/**
 * @param {HTMLElement} root
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {import("../services/auth.js").Auth} options.auth
 * @returns {{destroy(): void}}
 */
export function showAnalysis(root, { api, auth }) {
  /** @type {string | null} */
  let currency = null;
  const stale = h("p", { class: "stale", role: "status", "data-testid": "analysis-stale", hidden: true });
  const conditions = conditionsSection({ api });
  const performance = performanceSection({ api, currency: () => currency });
  let readFailed = false;
  let lastLive = new Date();
  const updateStale = () => {
    const down = readFailed || signals.socket.stale;
    if (down && stale.hidden) {
      stale.textContent = `Live data lost: what is shown is from ${lastLive.toLocaleTimeString()}. Reconnecting…`;
    }
    stale.hidden = !down;
    screen.classList.toggle("is-stale", down);
  };
  const signals = signalsSection({ api, auth, onStale: updateStale });
  const screen = h(
    "section",
    { class: "screen screen-analysis", "aria-labelledby": "analysis-title" },
    topbar("Analysis", "analysis-title", auth),
    stale,
    conditions.el,
    signals.el,
    performance.el,
  );
  root.append(screen);

  let stopped = false;
  const reread = async () => {
    const [read] = await Promise.all([conditions.load(), performance.load()]);
    if (stopped) return;
    readFailed = !read;
    if (read && !signals.socket.stale) lastLive = new Date();
    updateStale();
  };

  /** The account's currency, then the cards (amounts are shown without it when unread). */
  const readAll = () =>
    (currency === null
      ? api
          .get("/api/system/status")
          .then((status) => {
            currency = status.account?.currency ?? null;
          })
          .catch(() => {})
      : Promise.resolve()
    ).finally(() => {
      if (!stopped) reread();
    });
  readAll();
  signals.start();
  const timer = setInterval(() => {
    if (document.visibilityState === "visible") reread();
  }, REREAD_MS);
  const online = () => {
    signals.socket.retryNow();
    readAll(); // opened offline: the currency too
  };
  const offline = () => signals.socket.drop();
  const stopWatching = watchNetwork({ online, offline });

  return {
    destroy() {
      stopped = true;
      clearInterval(timer);
      stopWatching();
      signals.stop();
    },
  };
}

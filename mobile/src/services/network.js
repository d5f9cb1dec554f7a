/**
 * The phone's network coming and going, as the screens watch it: every screen re-reads its
 * data by itself when the browser says the network is back (`online`), and those with live
 * streams drop them when it says it is gone (`offline`, so the stale banner shows at once
 * rather than at the next failed read).
 *
 * Rules: a screen watches through this and calls the `stop` it returns when it closes, so a
 * closed screen never reads again on a later `online` (its listeners would otherwise pile
 * up, one more each time the screen is opened). A screen made of cards watches once and
 * re-reads each card, not once per card.
 */

/**
 * Call `online` when the network returns and `offline` when it goes, until `stop`.
 * @param {{online?: () => void, offline?: () => void}} handlers
 * @param {Pick<EventTarget, "addEventListener" | "removeEventListener">} [target] the window
 *   (a stand-in in the Node checks)
 * @returns {() => void} stop: removes both listeners; calling it again does nothing
 */
export function watchNetwork({ online, offline }, target = window) {
  /** @type {Array<[string, () => void]>} */
  const listeners = [];
  if (online) listeners.push(["online", () => online()]);
  if (offline) listeners.push(["offline", () => offline()]);
  for (const [type, listener] of listeners) target.addEventListener(type, listener);
  return () => {
    for (const [type, listener] of listeners.splice(0)) target.removeEventListener(type, listener);
  };
}

/**
 * The tokens of a signed-in session, as the app keeps them.
 *
 * @typedef {object} Session
 * @property {string} accessToken bearer token for /api and /ws
 * @property {number} expiresAt when the access token expires (ms since the epoch)
 * @property {string | null} refreshToken null when the server keeps no sessions
 * @property {string} username who signed in (shown in the header)
 */

/**
 * The session from a `POST /api/auth/login` or `/refresh` answer.
 * @param {{access_token: string, expires_in: number, refresh_token?: string | null}} pair
 * @param {string} username
 * @param {number} now ms since the epoch
 * @returns {Session}
 */
export function sessionFromTokens(pair, username, now) {
  if (!pair || typeof pair.access_token !== "string" || !pair.access_token) {
    throw new Error("the server's answer holds no access token");
  }
  return {
    accessToken: pair.access_token,
    expiresAt: now + Number(pair.expires_in) * 1000,
    refreshToken: typeof pair.refresh_token === "string" ? pair.refresh_token : null,
    username,
  };
}

/**
 * When to refresh: the earlier of a minute before expiry and 80 % of the time left, so a
 * request never goes out with a token about to lapse.
 * @param {Session} session
 * @param {number} now
 * @returns {number} ms from now (0: refresh now)
 */
export function refreshDelay(session, now) {
  const left = session.expiresAt - now;
  return Math.max(0, Math.min(left - 60_000, left * 0.8));
}

/**
 * A stored session read back, or null when absent or not of this shape.
 * @param {string | null} text
 * @returns {Session | null}
 */
export function parseSession(text) {
  if (!text) return null;
  try {
    const s = JSON.parse(text);
    const ok =
      s &&
      typeof s.accessToken === "string" &&
      typeof s.expiresAt === "number" &&
      (s.refreshToken === null || typeof s.refreshToken === "string") &&
      typeof s.username === "string";
    return ok ? s : null;
  } catch {
    return null;
  }
}

/**
 * The signed-in user's role, read from the access token's claims (`role`: viewer, trader,
 * admin). The app only uses it to hide what the server would refuse anyway: the server
 * checks every request, so an edited token buys nothing but a 403. Read from the current
 * token each time, since a refreshed token carries the user's current role.
 */

/**
 * @param {string | null | undefined} token a JWT
 * @returns {"viewer" | "trader" | "admin" | null} null when the token says nothing usable
 */
export function roleOfToken(token) {
  const part = String(token || "").split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replaceAll("-", "+").replaceAll("_", "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const role = JSON.parse(json).role;
    return role === "viewer" || role === "trader" || role === "admin" ? role : null;
  } catch {
    return null;
  }
}

/**
 * Whether a role may open, close and modify trades (the API's trader-or-admin rule).
 * @param {string | null} role
 */
export function canTrade(role) {
  return role === "trader" || role === "admin";
}

/**
 * The pure parts of push alerts: the server's key in the form `PushManager.subscribe` takes,
 * a short name for this device, and the preference levels (`on`, `silent`, `off`).
 */

/** The levels an alert type can have, in the order the screen offers them. */
export const LEVELS = /** @type {const} */ (["on", "silent", "off"]);

/**
 * The bytes of a base64url string (the VAPID public key), padding optional.
 * @param {string} text
 * @returns {Uint8Array<ArrayBuffer>} what `applicationServerKey` takes (not a view of a shared buffer)
 */
export function base64urlToBytes(text) {
  const clean = String(text).trim().replace(/=+$/, "");
  if (!/^[A-Za-z0-9_-]*$/.test(clean) || clean.length % 4 === 1) throw new Error("The server's alert key is not base64url.");
  const b64 = clean.replaceAll("-", "+").replaceAll("_", "/").padEnd(Math.ceil(clean.length / 4) * 4, "=");
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * A short label for this device from its user agent, e.g. "Chrome on Android", so a person
 * can tell their devices apart in the list (at most 100 characters, as the server allows).
 * @param {string} userAgent
 */
export function deviceLabel(userAgent) {
  const ua = String(userAgent || "");
  const os = /Android/.test(ua)
    ? "Android"
    : /iPhone|iPad|iPod/.test(ua)
      ? "iOS"
      : /Mac OS X/.test(ua)
        ? "macOS"
        : /Windows/.test(ua)
          ? "Windows"
          : /CrOS/.test(ua)
            ? "ChromeOS"
            : /Linux/.test(ua)
              ? "Linux"
              : null;
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Firefox\//.test(ua)
      ? "Firefox"
      : /HeadlessChrome\//.test(ua)
        ? "Headless Chrome"
        : /Chrome\/|CriOS\//.test(ua)
          ? "Chrome"
          : /Safari\//.test(ua)
            ? "Safari"
            : null;
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? os ?? "This device";
}

/**
 * The body of `PUT /api/notifications/preferences` setting one type's level.
 * @param {string} type
 * @param {string} level
 * @returns {{preferences: Record<string, string>}}
 */
export function preferenceChange(type, level) {
  if (!LEVELS.includes(/** @type {any} */ (level))) throw new Error(`Unknown alert level: ${level}`);
  return { preferences: { [type]: level } };
}

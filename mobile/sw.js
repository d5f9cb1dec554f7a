/**
 * The service worker: makes the app installable and lets it open without a network.
 *
 * Rules:
 * - It caches the app shell only: the files listed below, all under /app/. Nothing from
 *   /api or /ws is ever cached or even seen (those requests are not intercepted), so no
 *   account figure, trade or token is kept by it.
 * - Network first: online, the phone always runs the files the daemon serves now (no stale
 *   code after an upgrade); offline, the shell comes from the cache and the app shows its
 *   last state as stale.
 * - A new version of this file replaces the cache (its name carries the version).
 */

const CACHE = "forexbot-shell-v2";
const SHELL = [
  "./",
  "index.html",
  "styles.css",
  "manifest.webmanifest",
  "icons/icon-192.png",
  "icons/icon-512.png",
  "src/main.js",
  "src/models/dashboard.js",
  "src/models/errors.js",
  "src/models/role.js",
  "src/models/route.js",
  "src/models/session.js",
  "src/models/trading.js",
  "src/screens/dashboard.js",
  "src/screens/open_trade.js",
  "src/screens/position_card.js",
  "src/screens/positions.js",
  "src/screens/signin.js",
  "src/screens/topbar.js",
  "src/screens/trade.js",
  "src/screens/trades.js",
  "src/services/api.js",
  "src/services/auth.js",
  "src/services/ws.js",
  "src/widgets/confirm.js",
  "src/widgets/dom.js",
  "src/widgets/field.js",
  "src/widgets/format.js",
  "src/widgets/pill.js",
  "src/widgets/tabbar.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("forexbot-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  const scope = new URL(self.registration.scope);
  // Only GETs of this app's own files; everything else (the API, streams) goes untouched.
  if (request.method !== "GET" || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  event.respondWith(networkFirst(request));
});

/** @param {Request} request */
async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") cache.put(request, response.clone());
    return response;
  } catch (error) {
    const cached = (await cache.match(request, { ignoreSearch: true })) || (request.mode === "navigate" && (await cache.match("./")));
    if (cached) return cached;
    throw error;
  }
}

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
 * - Push alerts: the daemon's push (decrypted by the browser) is JSON
 *   `{type, title, body, silent, time, tag, data}`; it is shown as a notification (one `tag`
 *   replaces the last of its kind). Tapping it focuses the app, or opens it, at the trade it
 *   is about (`#/trades/{data.trade_id}`) when there is one.
 */

const CACHE = "forexbot-shell-v4";
const SHELL = [
  "./",
  "index.html",
  "styles.css",
  "manifest.webmanifest",
  "icons/icon-192.png",
  "icons/icon-512.png",
  "src/main.js",
  "src/models/alerts.js",
  "src/models/analysis.js",
  "src/models/analysis_chart.js",
  "src/models/dashboard.js",
  "src/models/dashboard_chart.js",
  "src/models/dashboard_equity.js",
  "src/models/dashboard_quotes.js",
  "src/models/dashboard_signal.js",
  "src/models/errors.js",
  "src/models/risk.js",
  "src/models/role.js",
  "src/models/route.js",
  "src/models/schema_form.js",
  "src/models/session.js",
  "src/models/trading.js",
  "src/screens/alerts.js",
  "src/screens/analysis.js",
  "src/screens/analysis_conditions.js",
  "src/screens/analysis_performance.js",
  "src/screens/analysis_signals.js",
  "src/screens/analysis_symbol.js",
  "src/screens/control.js",
  "src/screens/dashboard.js",
  "src/screens/dashboard_equity.js",
  "src/screens/dashboard_quotes.js",
  "src/screens/dashboard_signal.js",
  "src/screens/open_trade.js",
  "src/screens/position_card.js",
  "src/screens/positions.js",
  "src/screens/risk.js",
  "src/screens/signin.js",
  "src/screens/strategies.js",
  "src/screens/topbar.js",
  "src/screens/trade.js",
  "src/screens/trades.js",
  "src/services/api.js",
  "src/services/auth.js",
  "src/services/network.js",
  "src/services/ws.js",
  "src/widgets/confirm.js",
  "src/widgets/dom.js",
  "src/widgets/field.js",
  "src/widgets/format.js",
  "src/widgets/line_chart.js",
  "src/widgets/pill.js",
  "src/widgets/price_chart.js",
  "src/widgets/schema_form.js",
  "src/widgets/tabbar.js",
];

/** `self`, as what it is here: a service worker's scope (the typings know it as any worker's). */
const worker = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

worker.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => worker.skipWaiting()),
  );
});

worker.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("forexbot-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => worker.clients.claim()),
  );
});

worker.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  const scope = new URL(worker.registration.scope);
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

worker.addEventListener("push", (event) => {
  /** @type {any} */
  let alert = {};
  try {
    alert = event.data ? event.data.json() : {};
  } catch {
    alert = { body: event.data ? event.data.text() : "" };
  }
  const title = typeof alert.title === "string" && alert.title ? alert.title : "forexbot";
  event.waitUntil(
    worker.registration.showNotification(title, {
      body: typeof alert.body === "string" ? alert.body : "",
      tag: typeof alert.tag === "string" && alert.tag ? alert.tag : undefined,
      silent: alert.silent === true,
      data: { type: alert.type ?? null, time: alert.time ?? null, ...(alert.data && typeof alert.data === "object" ? alert.data : {}) },
      icon: "icons/icon-192.png",
    }),
  );
});

worker.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const id = event.notification.data && event.notification.data.trade_id;
  const path = Number.isInteger(id) && id > 0 ? `#/trades/${id}` : "";
  const target = new URL(path, worker.registration.scope).href;
  event.waitUntil(
    worker.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => w.url.startsWith(worker.registration.scope));
      if (open) return (path ? open.navigate(target) : Promise.resolve(open)).then((w) => (w || open).focus());
      return worker.clients.openWindow(target);
    }),
  );
});

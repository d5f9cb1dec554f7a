/**
 * The alerts section of the Control screen: push alerts on this device, the user's devices,
 * and which alerts they want (each type on, silent or off). Every role manages its own.
 *
 * Enabling: the service worker subscribes with the server's VAPID key
 * (`GET /api/notifications/vapid-key`, `userVisibleOnly: true`) and the subscription goes to
 * `POST /api/notifications/subscriptions` with a short device label. When the browser cannot
 * (no push support, permission refused, no push service — as in a headless browser) the
 * reason is shown in words; nothing is stored.
 */

import { LEVELS, base64urlToBytes, deviceLabel, preferenceChange } from "../models/alerts.js";
import { SessionEnded } from "../models/errors.js";
import { confirmAction } from "../widgets/confirm.js";
import { h } from "../widgets/dom.js";
import { formatTime } from "../widgets/format.js";

/**
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 */
export function alertsSection({ api }) {
  const status = h("p", { class: "result", role: "status", "data-testid": "alerts-status", hidden: true });
  const devices = h("ul", { class: "list", "data-testid": "alerts-devices" });
  const noDevices = h("p", { class: "hint", "data-testid": "alerts-no-devices", hidden: true }, "No device gets alerts yet.");
  const prefs = h("div", { class: "form", "data-testid": "alerts-preferences" });
  const supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  const enable = supported ? h("button", { type: "button", class: "primary", "data-testid": "alerts-enable" }, "Enable alerts on this device") : null;
  const el = h(
    "section",
    { class: "card", "aria-labelledby": "alerts-title" },
    h("h2", { id: "alerts-title" }, "Alerts"),
    supported ? enable : h("p", { class: "hint", "data-testid": "alerts-unsupported" }, "This browser cannot receive push alerts."),
    status,
    h("h3", {}, "Devices"),
    noDevices,
    devices,
    h("h3", {}, "What to send"),
    prefs,
  );

  /** @param {string} text @param {"good" | "warn" | "bad"} tone */
  const say = (text, tone) => {
    status.textContent = text;
    status.dataset.tone = tone;
    status.hidden = false;
  };

  enable?.addEventListener("click", async () => {
    enable.setAttribute("disabled", "");
    status.hidden = true;
    try {
      await subscribe();
      say("Alerts are on for this device.", "good");
      await loadDevices();
    } catch (e) {
      if (e instanceof SessionEnded) return;
      say(`Alerts could not be enabled on this device: ${reasonOf(e)}`, "bad");
    } finally {
      enable.removeAttribute("disabled");
    }
  });

  async function subscribe() {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") throw new Error("notifications are not allowed for this site (the browser's site settings can allow them).");
    const { public_key: key } = await api.get("/api/notifications/vapid-key");
    const registration = await navigator.serviceWorker.ready;
    const existing = await registration.pushManager.getSubscription();
    const subscription =
      existing ??
      (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64urlToBytes(key) }));
    await api.post("/api/notifications/subscriptions", { ...subscription.toJSON(), device: deviceLabel(navigator.userAgent) });
  }

  async function loadDevices() {
    try {
      const answer = await api.get("/api/notifications/subscriptions");
      devices.replaceChildren(...answer.items.map(deviceRow));
      noDevices.hidden = answer.items.length > 0;
    } catch (e) {
      if (e instanceof SessionEnded) return;
      say(`Could not read your devices: ${reasonOf(e)}`, "bad");
    }
  }

  /** @param {{id: number, device: string | null, created_at: string}} d */
  function deviceRow(d) {
    const name = d.device ?? "A device";
    const remove = h("button", { type: "button", class: "ghost", "data-testid": "alerts-device-remove" }, "Remove");
    remove.addEventListener("click", async () => {
      const ok = await confirmAction({ title: `Stop alerts to ${name}?`, text: "That device gets no more alerts until it is enabled again.", action: "Remove" });
      if (!ok) return;
      try {
        await api.delete(`/api/notifications/subscriptions/${d.id}`);
        await loadDevices();
      } catch (e) {
        if (!(e instanceof SessionEnded)) say(`Not removed: ${reasonOf(e)}`, "bad");
      }
    });
    return h(
      "li",
      { class: "row", "data-testid": "alerts-device", "data-id": String(d.id) },
      h("div", { class: "row-main" }, h("strong", {}, name), remove),
      h("div", { class: "row-sub" }, `Since ${formatTime(d.created_at)}`),
    );
  }

  async function loadPreferences() {
    try {
      const answer = await api.get("/api/notifications/preferences");
      prefs.replaceChildren(...answer.items.map(preferenceRow));
    } catch (e) {
      if (e instanceof SessionEnded) return;
      say(`Could not read your alert choices: ${reasonOf(e)}`, "bad");
    }
  }

  /** @param {{type: string, level: string, default: string, description: string}} p */
  function preferenceRow(p) {
    const select = /** @type {HTMLSelectElement} */ (
      h("select", { "data-testid": `alerts-pref-${p.type}`, id: `pref-${p.type}` }, ...LEVELS.map((l) => h("option", { value: l, selected: l === p.level }, l === "on" ? "On" : l === "silent" ? "Silent" : "Off")))
    );
    const error = h("p", { class: "field-error", role: "alert", hidden: true });
    select.addEventListener("change", async () => {
      error.hidden = true;
      select.setAttribute("disabled", "");
      try {
        await api.put("/api/notifications/preferences", preferenceChange(p.type, select.value));
      } catch (e) {
        if (e instanceof SessionEnded) return;
        error.textContent = `Not saved: ${reasonOf(e)}`;
        error.hidden = false;
      } finally {
        select.removeAttribute("disabled");
      }
    });
    return h("div", { class: "field" }, h("label", { for: `pref-${p.type}` }, `${p.description} (default ${p.default})`), select, error);
  }

  const reload = () => {
    if (status.dataset.tone === "bad") status.hidden = true; // a failure said offline is not left behind
    loadDevices();
    loadPreferences();
  };
  reload();
  return { el, reload };
}

/** @param {unknown} e */
function reasonOf(e) {
  const message = e instanceof Error ? e.message : String(e);
  return message || "the browser gave no reason.";
}

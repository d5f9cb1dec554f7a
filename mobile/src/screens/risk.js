/**
 * The risk section of the Control screen: the kill switch and the limits in force.
 *
 * - The kill switch (trader or admin): a big red button that closes every position and halts
 *   trading (`POST /api/risk/kill-switch {"reason"}`). It needs a reason, typed next to it,
 *   and asks in the page before it acts. An admin can resume (`POST /api/risk/resume`).
 * - The limits: shown to everyone; an admin edits the plain numbers (`PUT /api/risk/limits`
 *   with the changed ones only) and a refused value is shown next to its field.
 * A viewer sees the state and no button.
 */

import { ApiError, SessionEnded } from "../models/errors.js";
import { isEditableLimit, limitChanges, limitLabel, limitText } from "../models/risk.js";
import { fieldOfError } from "../models/trading.js";
import { confirmAction } from "../widgets/confirm.js";
import { h } from "../widgets/dom.js";
import { field, numberInput } from "../widgets/field.js";
import { setPill } from "../widgets/pill.js";

/**
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {"viewer" | "trader" | "admin" | null} options.role
 */
export function riskSection({ api, role }) {
  const canKill = role === "trader" || role === "admin";
  const isAdmin = role === "admin";
  const state = h("span", { class: "pill", "data-testid": "risk-kill-state" }, "—");
  const why = h("p", { class: "reason", "data-testid": "risk-kill-reason", hidden: true });
  const blocked = h("p", { class: "hint", "data-testid": "risk-blocked", hidden: true });
  const notice = h("p", { class: "result", role: "status", "data-testid": "risk-notice", hidden: true });
  const error = h("p", { class: "error", role: "alert", "data-testid": "risk-error", hidden: true });
  const limitsSlot = h("div", { "data-testid": "risk-limits" });
  const killSlot = h("div", {});
  const el = h(
    "section",
    { class: "card", "aria-labelledby": "risk-title" },
    h("h2", { id: "risk-title" }, "Risk"),
    h("div", { class: "states" }, h("span", { class: "label" }, "Kill switch"), state),
    why,
    blocked,
    error,
    killSlot,
    notice,
    h("h3", {}, "Limits"),
    limitsSlot,
  );

  /** @param {string} text @param {"good" | "warn" | "bad"} tone */
  const say = (text, tone) => {
    notice.textContent = text;
    notice.dataset.tone = tone;
    notice.hidden = false;
  };

  /** @type {any} */
  let current = null;
  const reason = field("Reason", /** @type {HTMLInputElement} */ (h("input", { type: "text", maxlength: "500", autocomplete: "off" })), "kill-reason");
  const kill = h("button", { type: "button", class: "danger big", "data-testid": "kill-switch" }, "Kill switch: close all, stop trading");
  const resume = h("button", { type: "button", class: "primary", "data-testid": "risk-resume" }, "Resume trading");
  if (canKill) killSlot.append(h("div", { class: "form" }, reason.el, kill));
  if (isAdmin) killSlot.append(resume);

  /** @param {any} risk `GET /api/risk`'s answer */
  const show = (risk) => {
    current = risk;
    const k = risk.kill_switch;
    setPill(state, k.active ? "Tripped" : "Off", k.active ? "bad" : "good", k.active ? "active" : "inactive");
    why.textContent = k.active && k.reason ? `Why: ${k.reason}` : "";
    why.hidden = !why.textContent;
    blocked.textContent = risk.blocked ? `New trades are refused: ${risk.blocked}` : "";
    blocked.hidden = !risk.blocked;
    kill.hidden = k.active;
    reason.el.hidden = k.active;
    resume.hidden = !k.active;
    showLimits(risk.limits);
  };

  kill.addEventListener("click", async () => {
    reason.setError(null);
    notice.hidden = true;
    const text = reason.input.value.trim();
    if (!text) {
      reason.setError("Say why: the reason is kept with the halt.");
      return;
    }
    const ok = await confirmAction({
      title: "Trip the kill switch?",
      text: "Every open position is closed at the market price and trading stops until an admin resumes it.",
      action: "Trip kill switch",
    });
    if (!ok) return;
    await act(kill, async () => {
      const answer = await api.post("/api/risk/kill-switch", { reason: text });
      reason.input.value = "";
      show(answer);
      say(`Kill switch tripped: ${answer.closed} position(s) closed.`, "warn");
    }, reason);
  });

  resume.addEventListener("click", async () => {
    notice.hidden = true;
    const ok = await confirmAction({
      title: "Resume trading?",
      text: "The kill switch is released: the strategies may open trades again.",
      action: "Resume trading",
      tone: "primary",
    });
    if (!ok) return;
    await act(resume, async () => {
      show(await api.post("/api/risk/resume"));
      say("Trading resumed.", "good");
    });
  });

  /** @type {Map<string, ReturnType<typeof field>>} */
  let inputs = new Map();
  /** @param {Record<string, unknown>} limits */
  function showLimits(limits) {
    const keys = Object.keys(limits);
    const editable = isAdmin ? keys.filter((k) => isEditableLimit(limits[k])) : [];
    const shown = keys.filter((k) => !editable.includes(k));
    const list = h(
      "dl",
      { class: "figures compact" },
      ...shown.map((k) => h("div", { class: "figure", "data-testid": "risk-limit", "data-key": k }, h("dt", {}, limitLabel(k)), h("dd", {}, limitText(limits[k])))),
    );
    if (!isAdmin) {
      limitsSlot.replaceChildren(list);
      return;
    }
    if (inputs.size) {
      // Keep what the admin is typing; refresh only untouched fields.
      for (const [k, f] of inputs) if (document.activeElement !== f.input) f.input.value = String(limits[k]);
      limitsSlot.lastElementChild?.replaceWith(list);
      return;
    }
    inputs = new Map(editable.map((k) => [k, field(limitLabel(k), numberInput({ value: String(limits[k]) }), `limit-${k}`)]));
    const save = h("button", { type: "submit", class: "primary", "data-testid": "limits-submit" }, "Save limits");
    const form = h("form", { class: "form", novalidate: true, "data-testid": "limits-form" }, ...[...inputs.values()].map((f) => f.el), save);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      notice.hidden = true;
      inputs.forEach((f) => f.setError(null));
      /** @type {Record<string, string>} */
      const typed = {};
      inputs.forEach((f, k) => (typed[k] = f.input.value));
      const { changes, problems } = limitChanges(current?.limits ?? {}, typed);
      for (const [k, message] of Object.entries(problems)) inputs.get(k)?.setError(message);
      if (Object.keys(problems).length) return;
      if (!Object.keys(changes).length) {
        say("Nothing changed.", "warn");
        return;
      }
      await act(save, async () => {
        show(await api.put("/api/risk/limits", changes));
        say("Limits saved.", "good");
      }, null, Object.keys(changes));
    });
    limitsSlot.replaceChildren(form, list);
  }

  /**
   * Run an action with its button busy; a refusal goes next to its field, or under the card.
   * @param {HTMLElement} button
   * @param {() => Promise<void>} task
   * @param {ReturnType<typeof field> | null} [at] the field a refusal belongs to
   * @param {string[]} [limitKeys] limits sent (a refusal naming one goes next to it)
   */
  async function act(button, task, at = null, limitKeys = []) {
    button.setAttribute("disabled", "");
    try {
      await task();
    } catch (e) {
      if (e instanceof SessionEnded) return;
      const err = /** @type {ApiError} */ (e);
      const key = err instanceof ApiError ? fieldOfError(err, [...inputs.keys()]) ?? limitKeys.find((k) => err.message.includes(k)) : null;
      if (key && inputs.get(key)) inputs.get(key)?.setError(err.message);
      else if (at) at.setError(err.message);
      else say(err.message, "bad");
    } finally {
      button.removeAttribute("disabled");
    }
  }

  const load = async () => {
    try {
      show(await api.get("/api/risk"));
      error.hidden = true;
    } catch (e) {
      if (e instanceof SessionEnded) return;
      error.textContent = `Could not read the risk state: ${/** @type {Error} */ (e).message}`;
      error.hidden = false;
    }
  };
  load();
  return { el, reload: load };
}

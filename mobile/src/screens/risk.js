/**
 * The risk section of the Control screen: the kill switch and the limits in force.
 *
 * - The kill switch (trader or admin): a big red button that closes every position and halts
 *   trading (`POST /api/risk/kill-switch {"reason"}`). It needs a reason, typed next to it,
 *   and asks in the page before it acts. An admin can resume (`POST /api/risk/resume`).
 * - The limits: shown to everyone; an admin edits them (`PUT /api/risk/limits` with the
 *   changed ones only) and a refused value is shown next to its field. Plain numbers are
 *   number fields (read as every number of the app: "1,5" is 1.5, "1,234.5" refused); lists of names (allowed sessions, blocked liquidity and volatility) are
 *   ticked from the choices the API's own description offers (`/api/openapi.json`), and the
 *   per-symbol spread limits are rows added and removed (models/risk.js says the rules).
 * A viewer sees the state and no button.
 */

import { ApiError, SessionEnded } from "../models/errors.js";
import { choicesValue, isEditableLimit, limitChanges, limitChangesSchema, limitLabel, limitText, listLimitsOf, mapValue, sameLimit } from "../models/risk.js";
import { fieldOfError } from "../models/trading.js";
import { confirmAction } from "../widgets/confirm.js";
import { h } from "../widgets/dom.js";
import { field, numberInput, typedText } from "../widgets/field.js";
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
  const listsNote = h("p", { class: "hint", "data-testid": "risk-lists-note", hidden: true });
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
    listsNote,
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
  /** @type {Map<string, ListEditor>} */
  let editors = new Map();
  /** @type {Record<string, import("../models/risk.js").ListLimit>} the list limits an admin can edit */
  let listLimits = {};
  let rebuild = false; // the list limits' choices came after the form was made
  /** @param {Record<string, unknown>} limits */
  function showLimits(limits) {
    const keys = Object.keys(limits);
    const editable = isAdmin ? keys.filter((k) => isEditableLimit(limits[k])) : [];
    const lists = isAdmin ? keys.filter((k) => listLimits[k]) : [];
    const shown = keys.filter((k) => !editable.includes(k) && !lists.includes(k));
    const list = h(
      "dl",
      { class: "figures compact" },
      ...shown.map((k) => h("div", { class: "figure", "data-testid": "risk-limit", "data-key": k }, h("dt", {}, limitLabel(k)), h("dd", {}, limitText(limits[k])))),
    );
    if (!isAdmin) {
      limitsSlot.replaceChildren(list);
      return;
    }
    if ((inputs.size || editors.size) && !rebuild) {
      // Keep what the admin is typing; refresh only untouched fields.
      for (const [k, f] of inputs) if (document.activeElement !== f.input) f.input.value = String(limits[k]);
      for (const [k, e] of editors) if (!e.el.contains(document.activeElement)) e.reset(limits[k]);
      limitsSlot.lastElementChild?.replaceWith(list);
      return;
    }
    rebuild = false;
    inputs = new Map(editable.map((k) => [k, field(limitLabel(k), numberInput({ value: String(limits[k]) }), `limit-${k}`)]));
    editors = new Map(lists.map((k) => [k, listEditor(listLimits[k], limits[k])]));
    const save = h("button", { type: "submit", class: "primary", "data-testid": "limits-submit" }, "Save limits");
    const form = h(
      "form",
      { class: "form", novalidate: true, "data-testid": "limits-form" },
      ...[...inputs.values()].map((f) => f.el),
      ...[...editors.values()].map((e) => e.el),
      save,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      notice.hidden = true;
      inputs.forEach((f) => f.setError(null));
      /** @type {Record<string, string | null>} */
      const typed = {};
      inputs.forEach((f, k) => (typed[k] = typedText(f.input)));
      const { changes: numbers, problems } = limitChanges(current?.limits ?? {}, typed);
      for (const [k, message] of Object.entries(problems)) inputs.get(k)?.setError(message);
      /** @type {Record<string, unknown>} */
      const changes = { ...numbers };
      let listsOk = true;
      editors.forEach((e, k) => {
        const read = e.read();
        if (!read.ok) listsOk = false;
        else if (!sameLimit(read.value, current?.limits?.[k])) changes[k] = read.value;
      });
      if (Object.keys(problems).length || !listsOk) return;
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
      const fields = [...inputs.keys(), ...editors.keys()];
      const key = err instanceof ApiError ? fieldOfError(err, fields) ?? limitKeys.find((k) => err.message.includes(k)) : null;
      const there = key ? inputs.get(key) ?? editors.get(key) : null;
      if (there) there.setError(err.message);
      else if (at) at.setError(err.message);
      else say(err.message, "bad");
    } finally {
      button.removeAttribute("disabled");
    }
  }

  /** The list limits' choices, for an admin (once): from the API's description of its body. */
  const readListLimits = async () => {
    if (!isAdmin || Object.keys(listLimits).length) return;
    try {
      listLimits = listLimitsOf(limitChangesSchema(await api.get("/api/openapi.json")));
      listsNote.hidden = true;
      rebuild = inputs.size > 0; // the form was made without the list editors (read offline)
    } catch (e) {
      if (e instanceof SessionEnded) throw e;
      listsNote.textContent = `Lists are shown but not editable here: their choices could not be read (${/** @type {Error} */ (e).message})`;
      listsNote.hidden = false;
    }
  };

  const load = async () => {
    try {
      const [risk] = await Promise.all([api.get("/api/risk"), readListLimits()]);
      show(risk);
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

/**
 * @typedef {object} ListEditor a list limit's part of the limits form
 * @property {HTMLElement} el
 * @property {() => ({ok: true, value: unknown} | {ok: false})} read its value, or its problems shown
 * @property {(value: unknown) => void} reset to the value in force
 * @property {(message: string | null) => void} setError the server's refusal of the whole list
 */

/**
 * The editor of a list limit: names ticked from their choices, or symbol rows.
 * @param {import("../models/risk.js").ListLimit} limit
 * @param {unknown} value the limit in force
 * @returns {ListEditor}
 */
function listEditor(limit, value) {
  const key = limit.key;
  const error = h("p", { class: "field-error", role: "alert", "data-testid": `limit-${key}-error`, hidden: true });
  /** @param {string | null} message */
  const setError = (message) => {
    error.textContent = message ?? "";
    error.hidden = !message;
  };
  const legend = h("legend", {}, limitLabel(key));
  if (limit.kind === "choices") {
    /** @param {string} label @param {string} testid */
    const box = (label, testid) => {
      const input = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", "data-testid": testid, "data-value": label }));
      return { input, el: h("label", { class: "check" }, input, h("span", {}, label)) };
    };
    const any = limit.allowAll ? box("Any (no limit)", `limit-${key}-any`) : null;
    const boxes = limit.options.map((o) => box(o, `limit-${key}-option`));
    const sync = () => boxes.forEach((b) => (b.input.disabled = Boolean(any?.input.checked)));
    any?.input.addEventListener("change", sync);
    const el = h("fieldset", { class: "choices", "data-testid": `limit-${key}` }, legend, any?.el, ...boxes.map((b) => b.el), error);
    /** @param {unknown} now */
    const reset = (now) => {
      if (any) any.input.checked = now === null || now === undefined;
      const picked = Array.isArray(now) ? now.map(String) : [];
      limit.options.forEach((o, i) => (boxes[i].input.checked = picked.includes(o)));
      sync();
      setError(null);
    };
    reset(value);
    return {
      el,
      reset,
      setError,
      read() {
        setError(null);
        const picked = limit.options.filter((_, i) => boxes[i].input.checked);
        const read = choicesValue(limit, picked, Boolean(any?.input.checked));
        if ("problem" in read) {
          setError(read.problem);
          return { ok: false };
        }
        return { ok: true, value: read.value };
      },
    };
  }

  const rows = h("ul", { class: "map-rows" });
  /** @type {{symbol: HTMLInputElement, value: HTMLInputElement, error: HTMLElement, el: HTMLElement}[]} */
  let items = [];
  /** @param {string} symbol @param {string} points */
  const addRow = (symbol, points) => {
    const s = /** @type {HTMLInputElement} */ (
      h("input", { type: "text", autocomplete: "off", autocapitalize: "off", placeholder: "Symbol", "aria-label": "Symbol", "data-testid": `limit-${key}-symbol`, value: symbol })
    );
    const v = numberInput({ inputmode: limit.integer ? "numeric" : "decimal", placeholder: "Points", "aria-label": "Points", "data-testid": `limit-${key}-value`, value: points });
    const remove = h("button", { type: "button", class: "ghost remove", "data-testid": `limit-${key}-remove` }, "✕");
    const rowError = h("p", { class: "field-error", role: "alert", "data-testid": `limit-${key}-row-error`, hidden: true });
    const item = { symbol: s, value: v, error: rowError, el: h("li", { class: "map-row", "data-testid": `limit-${key}-row` }, s, v, remove, rowError) };
    remove.setAttribute("aria-label", `Remove ${symbol || "this symbol"}`);
    s.addEventListener("input", () => remove.setAttribute("aria-label", `Remove ${s.value.trim() || "this symbol"}`));
    remove.addEventListener("click", () => {
      items = items.filter((i) => i !== item);
      item.el.remove();
      add.focus();
    });
    items.push(item);
    rows.append(item.el);
    return item;
  };
  const add = h("button", { type: "button", class: "ghost", "data-testid": `limit-${key}-add` }, "Add a symbol");
  add.addEventListener("click", () => addRow("", "").symbol.focus());
  const el = h("fieldset", { class: "map", "data-testid": `limit-${key}` }, legend, rows, add, error);
  /** @param {unknown} now */
  const reset = (now) => {
    items = [];
    rows.replaceChildren();
    const entries = now && typeof now === "object" ? Object.entries(now) : [];
    for (const [symbol, points] of entries) addRow(symbol, String(points));
    setError(null);
  };
  reset(value);
  return {
    el,
    reset,
    setError,
    read() {
      setError(null);
      const { value: read, problems } = mapValue(limit, items.map((i) => ({ symbol: i.symbol.value, value: i.value.value })));
      items.forEach((item, i) => {
        const p = problems[i];
        const text = p ? [p.symbol, p.value].filter(Boolean).join(" ") : "";
        item.error.textContent = text;
        item.error.hidden = !text;
        for (const [input, bad] of /** @type {const} */ ([[item.symbol, p?.symbol], [item.value, p?.value]])) {
          if (bad) input.setAttribute("aria-invalid", "true");
          else input.removeAttribute("aria-invalid");
        }
      });
      return Object.keys(problems).length ? { ok: false } : { ok: true, value: read };
    },
  };
}

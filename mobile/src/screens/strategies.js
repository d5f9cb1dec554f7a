/**
 * The strategies section of the Control screen: each strategy instance, whether it trades,
 * and its parameters.
 *
 * - Everyone sees the parameters (read-only, under "Parameters").
 * - A trader or admin switches an instance on or off (`PUT /api/strategies/{id}/toggle`, no
 *   body) and edits its parameters: "Edit parameters" opens a form generated from the
 *   instance's `parameter_schema` (models/schema_form.js), which refuses an out-of-range
 *   value next to its field before anything is sent; "Save" sends only the changed values
 *   (`PUT /api/strategies/{id}` `{"params": {...}}`), and a value the server refuses (a rule
 *   across parameters, e.g. fast below slow) is shown in its words next to the field it
 *   names. "Cancel" puts the values in force back and closes the form.
 * The id is percent-encoded: symbols may hold spaces.
 */

import { SessionEnded } from "../models/errors.js";
import { changedValues, fieldsOf, refusalByField } from "../models/schema_form.js";
import { h } from "../widgets/dom.js";
import { schemaFields, schemaValues } from "../widgets/schema_form.js";

/**
 * @typedef {object} Strategy `GET /api/strategies`'s item (the fields shown)
 * @property {string} id
 * @property {string} strategy
 * @property {string} symbol
 * @property {string} timeframe
 * @property {boolean} enabled
 * @property {number} signals
 * @property {number} errors
 * @property {Record<string, unknown>} params
 * @property {any} [parameter_schema] the JSON Schema of `params`
 */

/**
 * @param {object} options
 * @param {import("../services/api.js").Api} options.api
 * @param {boolean} options.canChange trader or admin
 */
export function strategiesSection({ api, canChange }) {
  const list = h("ul", { class: "list", "data-testid": "strategies-list" });
  const empty = h("p", { class: "hint", "data-testid": "strategies-empty", hidden: true }, "No strategy instances.");
  const error = h("p", { class: "error", role: "alert", "data-testid": "strategies-error", hidden: true });
  const el = h(
    "section",
    { class: "card", "aria-labelledby": "strategies-title" },
    h("h2", { id: "strategies-title" }, "Strategies"),
    error,
    empty,
    list,
  );

  /** @param {Strategy} s */
  const row = (s) => {
    const state = h("span", { class: "pill", "data-testid": "strategy-state" });
    const notice = h("p", { class: "field-error", role: "alert", "data-testid": "strategy-error", hidden: true });
    const item = h(
      "li",
      { class: "row strategy", "data-testid": "strategy", "data-id": s.id },
      h("div", { class: "row-main" }, h("strong", {}, `${s.strategy} · ${s.symbol} · ${s.timeframe}`), state),
      h("div", { class: "row-sub" }, `${s.signals} signals · ${s.errors} errors`),
    );
    /** @param {Strategy} now */
    const show = (now) => {
      state.textContent = now.enabled ? "Enabled" : "Disabled";
      state.dataset.tone = now.enabled ? "good" : "neutral";
      state.dataset.state = now.enabled ? "enabled" : "disabled";
      if (toggle) {
        toggle.textContent = now.enabled ? "Disable" : "Enable";
        toggle.setAttribute("aria-pressed", String(now.enabled));
      }
    };
    const toggle = canChange ? h("button", { type: "button", class: "ghost", "data-testid": "strategy-toggle" }) : null;
    if (toggle) {
      item.append(toggle, notice);
      toggle.addEventListener("click", async () => {
        toggle.setAttribute("disabled", "");
        notice.hidden = true;
        try {
          show(await api.put(`/api/strategies/${encodeURIComponent(s.id)}/toggle`));
        } catch (e) {
          if (e instanceof SessionEnded) return;
          notice.textContent = `Not changed: ${/** @type {Error} */ (e).message}`;
          notice.hidden = false;
        } finally {
          toggle.removeAttribute("disabled");
        }
      });
    }
    show(s);
    item.append(parameters(s));
    return item;
  };

  /**
   * A strategy's parameters: read-only for everyone, and a form to change them for a trader
   * or admin.
   * @param {Strategy} s
   */
  const parameters = (s) => {
    let current = s.params ?? {};
    const fields = s.parameter_schema
      ? fieldsOf(s.parameter_schema)
      : fieldsOf({ properties: Object.fromEntries(Object.keys(current).map((k) => [k, {}])) });
    const count = fields.length;
    const shown = h("div", {}, schemaValues({ fields, values: current, testid: "strategy-param" }));
    const view = h(
      "details",
      { class: "params", "data-testid": "strategy-params" },
      h("summary", {}, `Parameters (${count})`),
      shown,
    );
    const el = h("div", { class: "strategy-params" }, view);
    if (!canChange || !s.parameter_schema || !count) return el;

    const result = h("p", { class: "result", role: "status", "data-testid": "params-result", hidden: true });
    const edit = h("button", { type: "button", class: "ghost", "data-testid": "strategy-edit", "aria-expanded": "false" }, "Edit parameters");
    const inputs = schemaFields({ fields, values: current, testid: "param" });
    const formError = h("p", { class: "field-error", role: "alert", "data-testid": "params-error", hidden: true });
    const save = h("button", { type: "submit", class: "primary", "data-testid": "params-save" }, "Save parameters");
    const cancel = h("button", { type: "button", class: "ghost", "data-testid": "params-cancel" }, "Cancel");
    const form = h(
      "form",
      { class: "form params-form", novalidate: true, "data-testid": "params-form", "aria-label": `Parameters of ${s.strategy} on ${s.symbol} ${s.timeframe}`, hidden: true },
      inputs.el,
      formError,
      h("div", { class: "pair" }, cancel, save),
    );
    el.append(edit, form, result);

    /** @param {boolean} open */
    const opened = (open) => {
      form.hidden = !open;
      view.hidden = open;
      edit.hidden = open;
      edit.setAttribute("aria-expanded", String(open));
    };
    /** @param {string | null} text */
    const sayError = (text) => {
      formError.textContent = text ?? "";
      formError.hidden = !text;
    };
    edit.addEventListener("click", () => {
      result.hidden = true;
      inputs.reset(current);
      sayError(null);
      opened(true);
      /** @type {HTMLElement | null} */ (inputs.first())?.focus();
    });
    cancel.addEventListener("click", () => {
      inputs.reset(current);
      sayError(null);
      opened(false);
      edit.focus();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      sayError(null);
      const { values, problems } = inputs.read();
      inputs.setErrors(problems);
      if (Object.keys(problems).length) return;
      const changes = changedValues(fields, current, values);
      if (!Object.keys(changes).length) {
        sayError("Nothing changed.");
        return;
      }
      save.setAttribute("disabled", "");
      try {
        const answer = await api.put(`/api/strategies/${encodeURIComponent(s.id)}`, { params: changes });
        current = answer.params ?? current;
        shown.replaceChildren(schemaValues({ fields, values: current, testid: "strategy-param" }));
        inputs.reset(current);
        opened(false);
        result.textContent = `Saved: ${Object.entries(changes).map(([k, v]) => `${fields.find((f) => f.name === k)?.label ?? k} ${v}`).join(", ")}. It applies from the next bar.`;
        result.dataset.tone = "good";
        result.hidden = false;
        edit.focus();
      } catch (e) {
        if (e instanceof SessionEnded) return;
        const error = /** @type {import("../models/errors.js").ApiError} */ (e);
        const { byField, rest } = error.status === 422 ? refusalByField(error, fields) : { byField: {}, rest: error.message };
        inputs.setErrors(byField);
        const unplaced = rest ?? (Object.keys(byField).length ? null : error.message);
        sayError(unplaced ? `Not saved: ${unplaced}` : null);
      } finally {
        save.removeAttribute("disabled");
      }
    });
    return el;
  };

  const load = async () => {
    try {
      const answer = await api.get("/api/strategies");
      error.hidden = true;
      list.replaceChildren(...answer.items.map(row));
      empty.hidden = answer.items.length > 0;
    } catch (e) {
      if (e instanceof SessionEnded) return;
      error.textContent = `Could not read the strategies: ${/** @type {Error} */ (e).message}`;
      error.hidden = false;
    }
  };
  load();
  return { el };
}

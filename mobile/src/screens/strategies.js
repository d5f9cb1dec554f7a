/**
 * The strategies section of the Control screen: each strategy instance, whether it trades,
 * its parameters, and its risk multiplier and trade management.
 *
 * - Everyone sees the parameters (read-only, under "Parameters").
 * - A trader or admin switches an instance on or off (`PUT /api/strategies/{id}/toggle`, no
 *   body) and edits its parameters: "Edit parameters" opens a form generated from the
 *   instance's `parameter_schema` (models/schema_form.js), which refuses an out-of-range
 *   value next to its field before anything is sent; "Save" sends only the changed values
 *   (`PUT /api/strategies/{id}` `{"params": {...}}`), and a value the server refuses (a rule
 *   across parameters, e.g. fast below slow) is shown in its words next to the field it
 *   names. "Cancel" puts the values in force back and closes the form.
 * - The risk multiplier and the trade management (break-even, trailing stop) are a second
 *   fold, "Risk & management", edited the same way from `risk_multiplier_schema` and
 *   `management_schema` (`PUT /api/strategies/{id}` `{"risk_multiplier": x, "management":
 *   {...}}`, only what changed). Two folds rather than one long form: on a phone each stays
 *   one screen tall, and each change says what it was about.
 * The id is percent-encoded: symbols may hold spaces.
 */

import { SessionEnded } from "../models/errors.js";
import { changedValues, describeChanges, fieldsOf, refusalByField, textOf, valueAt } from "../models/schema_form.js";
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
 * @property {number} risk_multiplier
 * @property {any} [risk_multiplier_schema] its JSON Schema (above 0, at most 10)
 * @property {Record<string, unknown>} [management] break-even and trailing-stop settings
 * @property {any} [management_schema] their JSON Schema
 */

/** @typedef {import("../models/schema_form.js").FormField} FormField */

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
    item.append(parameters(s), management(s));
    return item;
  };

  /**
   * A strategy's parameters: read-only for everyone, and a form to change them for a trader
   * or admin.
   * @param {Strategy} s
   */
  const parameters = (s) => {
    const values = s.params ?? {};
    const fields = s.parameter_schema
      ? fieldsOf(s.parameter_schema)
      : fieldsOf({ properties: Object.fromEntries(Object.keys(values).map((k) => [k, {}])) });
    return settingsFold({
      fields,
      values,
      editable: canChange && Boolean(s.parameter_schema),
      summary: () => `Parameters (${fields.length})`,
      ids: { fold: "strategy-params", value: "strategy-param", edit: "strategy-edit", form: "params-form", field: "param", error: "params-error", save: "params-save", cancel: "params-cancel", result: "params-result" },
      words: { edit: "Edit parameters", save: "Save parameters", form: `Parameters of ${s.strategy} on ${s.symbol} ${s.timeframe}`, note: null, applies: "It applies from the next bar." },
      send: async (changes) => (await api.put(`/api/strategies/${encodeURIComponent(s.id)}`, { params: changes })).params ?? null,
    });
  };

  /**
   * A strategy's risk multiplier and trade management (break-even, trailing stop), as one
   * form: the schema is the two schemas the API gives side by side, so the values changed
   * come out as the request's body itself (`{"risk_multiplier": 0.5, "management": {...}}`).
   * @param {Strategy} s
   */
  const management = (s) => {
    const values = { risk_multiplier: s.risk_multiplier, management: s.management ?? {} };
    const schema = s.risk_multiplier_schema && s.management_schema ? { type: "object", properties: { risk_multiplier: s.risk_multiplier_schema, management: s.management_schema } } : null;
    const fields = fieldsOf(
      schema ?? { properties: { risk_multiplier: {}, management: { type: "object", properties: Object.fromEntries(Object.keys(values.management).map((k) => [k, {}])) } } },
    );
    return settingsFold({
      fields,
      values,
      editable: canChange && schema !== null,
      summary: managementSummary,
      ids: { fold: "strategy-manage", value: "strategy-manage-value", edit: "strategy-manage-edit", form: "manage-form", field: "manage", error: "manage-error", save: "manage-save", cancel: "manage-cancel", result: "manage-result" },
      words: {
        edit: "Edit risk & management",
        save: "Save risk & management",
        form: `Risk and trade management of ${s.strategy} on ${s.symbol} ${s.timeframe}`,
        note: "Break-even and trailing distances are in R, the trade's initial risk (entry to its first stop); none (an empty field) is off.",
        applies: "The multiplier sizes its next trades; break-even and trailing act on its open trades too, from the next quote.",
      },
      send: async (changes) => {
        const answer = await api.put(`/api/strategies/${encodeURIComponent(s.id)}`, changes);
        return { risk_multiplier: answer.risk_multiplier, management: answer.management };
      },
    });
  };

  /**
   * The risk & management fold's title, the settings at a glance: "Risk ×0.5 · break-even at
   * 1R · trailing off".
   * @param {Record<string, unknown>} now
   */
  const managementSummary = (now) => {
    const at = (/** @type {string} */ key) => valueAt(now, ["management", key]);
    const parts = [`Risk ×${textOf(now.risk_multiplier)}`];
    if (at("break_even_at_r") !== undefined) parts.push(at("break_even_at_r") === null ? "break-even off" : `break-even at ${textOf(at("break_even_at_r"))}R`);
    if (at("trailing_start_r") !== undefined) parts.push(at("trailing_start_r") === null ? "trailing off" : `trailing from ${textOf(at("trailing_start_r"))}R`);
    return parts.join(" · ");
  };

  /**
   * A fold of settings generated from a schema: the values read-only for everyone and, when
   * `editable`, an edit button opening the form. The form refuses what the schema does not
   * allow next to its field before anything is sent, sends only the values changed, shows
   * the server's refusal next to the field it names, and "Cancel" puts the values in force
   * back.
   * @param {object} o
   * @param {FormField[]} o.fields
   * @param {Record<string, unknown>} o.values the values in force
   * @param {boolean} o.editable
   * @param {(values: Record<string, unknown>) => string} o.summary the fold's title
   * @param {{fold: string, value: string, edit: string, form: string, field: string, error: string, save: string, cancel: string, result: string}} o.ids test ids
   * @param {{edit: string, save: string, form: string, note: string | null, applies: string}} o.words
   * @param {(changes: Record<string, unknown>) => Promise<Record<string, unknown> | null>} o.send
   *   sends the changes; the values in force after them (null: as sent)
   */
  const settingsFold = ({ fields, values, editable, summary, ids, words, send }) => {
    let current = values;
    const note = () => (words.note ? h("p", { class: "hint" }, words.note) : null);
    const title = h("summary", {}, summary(current));
    const shown = h("div", {}, schemaValues({ fields, values: current, testid: ids.value }), note());
    const view = h("details", { class: "params", "data-testid": ids.fold }, title, shown);
    const el = h("div", { class: "strategy-params" }, view);
    if (!editable || !fields.length) return el;

    const result = h("p", { class: "result", role: "status", "data-testid": ids.result, hidden: true });
    const edit = h("button", { type: "button", class: "ghost", "data-testid": ids.edit, "aria-expanded": "false" }, words.edit);
    const inputs = schemaFields({ fields, values: current, testid: ids.field });
    const formError = h("p", { class: "field-error", role: "alert", "data-testid": ids.error, hidden: true });
    const save = h("button", { type: "submit", class: "primary", "data-testid": ids.save }, words.save);
    const cancel = h("button", { type: "button", class: "ghost", "data-testid": ids.cancel }, "Cancel");
    const form = h(
      "form",
      { class: "form params-form", novalidate: true, "data-testid": ids.form, "aria-label": words.form, hidden: true },
      note(),
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
      const { values: typed, problems } = inputs.read();
      inputs.setErrors(problems);
      if (Object.keys(problems).length) return;
      const changes = changedValues(fields, current, typed);
      if (!Object.keys(changes).length) {
        sayError("Nothing changed.");
        return;
      }
      save.setAttribute("disabled", "");
      try {
        current = (await send(changes)) ?? current;
        title.textContent = summary(current);
        shown.replaceChildren(schemaValues({ fields, values: current, testid: ids.value }), note() ?? "");
        inputs.reset(current);
        opened(false);
        result.textContent = `Saved: ${describeChanges(fields, changes)}. ${words.applies}`;
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

  /**
   * Read the strategies and show them; a row whose form is open is kept as it is, so a
   * re-read (the network back) does not throw away what is being typed.
   */
  const load = async () => {
    try {
      const answer = await api.get("/api/strategies");
      error.hidden = true;
      const editing = new Map(
        [...list.children]
          .filter((item) => [...item.querySelectorAll("form")].some((form) => !form.hidden))
          .map((item) => [/** @type {HTMLElement} */ (item).dataset.id, item]),
      );
      list.replaceChildren(...answer.items.map((/** @type {Strategy} */ s) => editing.get(s.id) ?? row(s)));
      empty.hidden = answer.items.length > 0;
    } catch (e) {
      if (e instanceof SessionEnded) return;
      error.textContent = `Could not read the strategies: ${/** @type {Error} */ (e).message}`;
      error.hidden = false;
    }
  };
  load();
  return { el, reload: load };
}

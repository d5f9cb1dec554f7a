/**
 * Building elements from data without HTML strings: text goes in as text, never as markup,
 * so nothing the server or a user typed can become script (the XSS half of the token
 * defence, see services/auth.js).
 */

/**
 * An element with attributes and children, typed by its tag (`h("input")` is an
 * `HTMLInputElement`).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | boolean | null | undefined>} [attrs] `false`/`null`: left out
 * @param {...(Node | string | null | undefined | false)} children strings become text nodes
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

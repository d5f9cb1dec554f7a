/**
 * The sign-in screen: username and password; the one-time code field appears when the
 * server answers `mfa_required` (an admin, or a user who enrolled) and takes either the
 * 6-digit code or a recovery code. Every refusal is shown in the server's words.
 */

import { h } from "../widgets/dom.js";

const CODE_HINT =
  "This account signs in with a second factor: enter the 6-digit code from your authenticator app, or one of your recovery codes.";

/**
 * @param {HTMLElement} root
 * @param {object} options
 * @param {import("../services/auth.js").Auth} options.auth
 * @param {string | null} options.notice why the app is here (signed out, session ended)
 * @param {() => void} options.onSignedIn
 * @returns {{destroy(): void}}
 */
export function showSignin(root, { auth, notice, onSignedIn }) {
  const username = h("input", {
    id: "signin-username",
    "data-testid": "signin-username",
    name: "username",
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
  });
  const password = h("input", {
    id: "signin-password",
    "data-testid": "signin-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const code = h("input", {
    id: "signin-otp",
    "data-testid": "signin-otp",
    name: "otp",
    autocomplete: "one-time-code",
    autocapitalize: "none",
    spellcheck: "false",
    "aria-describedby": "signin-otp-hint",
  });
  const codeField = h(
    "div",
    { class: "field" },
    h("label", { for: "signin-otp" }, "One-time or recovery code"),
    code,
    h("p", { id: "signin-otp-hint", class: "hint" }, CODE_HINT),
  );
  const error = h("p", { class: "error", "data-testid": "signin-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "signin-submit" }, "Sign in");
  const form = h(
    "form",
    { class: "card signin", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "signin-username" }, "Username"), username),
    h("div", { class: "field" }, h("label", { for: "signin-password" }, "Password"), password),
    error,
    submit,
  );

  root.append(
    h(
      "section",
      { class: "screen screen-signin", "aria-labelledby": "signin-title" },
      h("h1", { id: "signin-title", class: "brand" }, "forexbot"),
      notice ? h("p", { class: "notice", role: "status", "data-testid": "signin-notice" }, notice) : null,
      form,
    ),
  );

  /** @param {string | null} message */
  const showError = (message) => {
    error.textContent = message ?? "";
    error.hidden = !message;
  };
  const askForCode = () => {
    if (!codeField.isConnected) form.insertBefore(codeField, error);
    code.focus();
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!username.value.trim() || !password.value) {
      showError("Enter your username and password.");
      return;
    }
    showError(null);
    submit.setAttribute("disabled", "");
    submit.textContent = "Signing in…";
    try {
      await auth.login(username.value.trim(), password.value, codeField.isConnected ? code.value : "");
      onSignedIn();
    } catch (e) {
      const err = /** @type {import("../models/errors.js").ApiError} */ (e);
      if (err.code === "mfa_required" && !codeField.isConnected) {
        askForCode(); // not an error: the password was right, the code comes next
      } else {
        showError(err.message);
        if (err.code === "mfa_required") code.focus();
      }
    } finally {
      submit.removeAttribute("disabled");
      submit.textContent = "Sign in";
    }
  });

  username.focus();
  return { destroy() {} };
}

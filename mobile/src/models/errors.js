/**
 * Errors the app shows to a person. The API answers every refusal with
 * `{"error": {"code", "message", "details"}}`; this turns that (or its absence) into an
 * Error whose message is a sentence, so no screen ever shows "[object Object]" or nothing.
 */

/** A refusal from the API (or the network), with the server's code and details kept. */
export class ApiError extends Error {
  /**
   * @param {string} message words for a person
   * @param {{status?: number, code?: string, details?: unknown}} [extra]
   */
  constructor(message, { status = 0, code = "error", details = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/**
 * Whether the error says nothing but "the phone is offline" (the dashboard's banner says that
 * once; its cards then keep quiet rather than repeat it four times).
 * @param {unknown} e
 */
export function isOfflineError(e) {
  return e instanceof ApiError && e.code === "offline";
}

/** The session cannot go on (refresh refused, ended elsewhere): the app returns to sign-in. */
export class SessionEnded extends ApiError {
  /** @param {string} message */
  constructor(message) {
    super(message, { status: 401, code: "session_ended" });
    this.name = "SessionEnded";
  }
}

/**
 * The error for an HTTP answer that was not a success.
 * @param {number} status
 * @param {unknown} body the parsed JSON body, or null when there was none
 * @param {string} [statusText]
 * @returns {ApiError}
 */
export function apiErrorFrom(status, body, statusText = "") {
  const error = body && typeof body === "object" ? /** @type {any} */ (body).error : null;
  if (error && typeof error.message === "string" && error.message) {
    const message = withFields(error.message, error.details);
    return new ApiError(message, { status, code: String(error.code || "error"), details: error.details ?? null });
  }
  const words = statusText ? `${status} ${statusText}` : String(status);
  return new ApiError(`The server answered ${words}.`, { status, code: "http_error" });
}

/** The error for a request that never got an answer. */
export function networkError() {
  return new ApiError("Cannot reach the server: check the connection and try again.", {
    code: "network_error",
  });
}

/**
 * What the sign-in screen says when the server ended the session (signed out elsewhere, a
 * copied refresh token detected, the account disabled, the sign-in expired).
 * @param {string} reason the server's message
 */
export function sessionEndedMessage(reason) {
  const said = reason ? ` (The server said: ${reason.replace(/[.\s]+$/, "")}.)` : "";
  return `Your session has ended. Please sign in again.${said}`;
}

/**
 * Validation details (`[{"field", "message"}]`) appended to the message, so a person sees
 * which field was refused and why.
 * @param {string} message
 * @param {unknown} details
 */
function withFields(message, details) {
  if (!Array.isArray(details)) return message;
  const parts = details
    .filter((d) => d && typeof d === "object" && d.field && d.message)
    .map((d) => `${d.field}: ${d.message}`);
  return parts.length ? `${message} (${parts.join("; ")})` : message;
}

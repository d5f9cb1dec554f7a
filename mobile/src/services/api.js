/**
 * The API over fetch: JSON in and out, the bearer token on every request, and the API's
 * error bodies turned into thrown errors with the message in words.
 *
 * An access token that expired or was revoked gets one refresh and one retry; when the
 * refresh is refused too, the session is over (`SessionEnded`) and the app signs out.
 *
 * Offline (the browser says so: `navigator.onLine` false) a request is not even tried: it
 * fails at once with the words of `OFFLINE` (code `offline`), which each screen shows where
 * its data would be. Not tried means no token refresh either, so a phone opened offline
 * the next morning is not signed out for a refresh that could not reach the server. Nothing
 * is kept for offline use: the app has no figures until the connection returns, and the
 * screens re-read when the `online` event comes.
 */

import { ApiError, apiErrorFrom, networkError, sessionEndedMessage } from "../models/errors.js";

/** What a screen says in place of its data while the phone is offline. */
export const OFFLINE = "Offline — no live data; trading is paused until the connection returns.";

/** The error of a request not tried because the phone is offline. */
export function offlineError() {
  return new ApiError(OFFLINE, { code: "offline" });
}

/**
 * Whether the browser knows it has no network (true only when it says so: an unknown
 * state counts as online, and a request then finds out).
 * @param {{onLine?: boolean} | undefined} [nav]
 */
export function isOffline(nav = globalThis.navigator) {
  return nav?.onLine === false;
}

/**
 * One HTTP request; a network failure becomes an error a person can read.
 * @param {typeof fetch} fetchFn
 * @param {string} method
 * @param {string} url
 * @param {{token?: string | null, body?: unknown}} [options]
 * @returns {Promise<Response>}
 */
export async function send(fetchFn, method, url, { token = null, body = undefined } = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    return await fetchFn(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit", // the token is the only credential; no cookie rides along
    });
  } catch {
    throw isOffline() ? offlineError() : networkError();
  }
}

/**
 * The JSON body of a successful answer (null for 204), or the API's refusal thrown.
 * @param {Response} response
 * @returns {Promise<any>}
 */
export async function readAnswer(response) {
  const text = await response.text().catch(() => "");
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!response.ok) throw apiErrorFrom(response.status, body, response.statusText);
  return body;
}

export class Api {
  /**
   * @param {import("./auth.js").Auth} auth
   * @param {{fetchFn?: typeof fetch, offline?: () => boolean}} [options]
   */
  constructor(auth, { fetchFn = globalThis.fetch.bind(globalThis), offline = () => isOffline() } = {}) {
    this.auth = auth;
    this.fetchFn = fetchFn;
    this.offline = offline;
  }

  /** @param {string} path */
  get(path) {
    return this.request("GET", path);
  }

  /**
   * @param {string} path
   * @param {unknown} [body]
   */
  post(path, body) {
    return this.request("POST", path, body);
  }

  /**
   * @param {string} path
   * @param {unknown} [body]
   */
  put(path, body) {
    return this.request("PUT", path, body);
  }

  /** @param {string} path */
  delete(path) {
    return this.request("DELETE", path);
  }

  /**
   * @param {string} method
   * @param {string} path e.g. "/api/system/status"
   * @param {unknown} [body]
   * @returns {Promise<any>}
   */
  async request(method, path, body) {
    if (this.offline()) throw offlineError();
    const token = await this.auth.accessToken();
    let response = await send(this.fetchFn, method, path, { token, body });
    if (response.status === 401) {
      await this.auth.refresh(token); // throws SessionEnded when the session cannot go on
      response = await send(this.fetchFn, method, path, { token: await this.auth.accessToken(), body });
      if (response.status === 401) {
        const refusal = await readAnswer(response).catch((e) => e);
        throw this.auth.end(sessionEndedMessage(refusal.message));
      }
    }
    return readAnswer(response);
  }
}

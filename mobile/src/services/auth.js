/**
 * Signing in and out, and keeping the session alive.
 *
 * Where the tokens live: in `localStorage` (one key), so an installed app opened again
 * tomorrow is still signed in, and every tab shares one session. What defends them against
 * XSS is that no foreign or inline script can run: the daemon serves the app with a strict
 * CSP (`script-src 'self'`, no third-party origins), the app has no third-party code, and it
 * never writes HTML from data (text only). The access token is short-lived; the refresh
 * token is single-use: rotated on every refresh, and a copied one presented twice ends the
 * session on the server (reuse detection).
 *
 * Rotation is transparent: a timer refreshes before the access token lapses, a 401 triggers
 * one refresh, and tabs refresh one at a time (Web Locks) so two never spend the same
 * refresh token, which the server would take for theft.
 */

import { SessionEnded, sessionEndedMessage } from "../models/errors.js";
import { parseSession, refreshDelay, sessionFromTokens } from "../models/session.js";
import { readAnswer, send } from "./api.js";

export const STORAGE_KEY = "forexbot.session";
const RETRY_MS = 30_000;

/** @typedef {import("../models/session.js").Session} Session */

export class Auth {
  /**
   * @param {{storage?: Storage, fetchFn?: typeof fetch, now?: () => number, locks?: LockManager}} [options]
   */
  constructor({
    storage = globalThis.localStorage,
    fetchFn = globalThis.fetch.bind(globalThis),
    now = Date.now,
    locks = globalThis.navigator?.locks,
  } = {}) {
    this.storage = storage;
    this.fetchFn = fetchFn;
    this.now = now;
    this.locks = locks;
    /** @type {Session | null} */
    this.session = null;
    /** @type {(message: string) => void} called once when the session ends */
    this.onEnded = () => {};
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    /** @type {Promise<void> | null} */
    this.refreshing = null;
  }

  /** The session kept from last time, if any. */
  restore() {
    this.session = parseSession(this.storage.getItem(STORAGE_KEY));
    if (this.session) this.schedule();
    return this.session !== null;
  }

  /**
   * Sign in. `code` is the admin's 6-digit one-time code, or a recovery code.
   * @param {string} username
   * @param {string} password
   * @param {string} [code]
   */
  async login(username, password, code = "") {
    /** @type {Record<string, string>} */
    const body = { username, password };
    const c = code.replaceAll(" ", "");
    if (/^[0-9]{6}$/.test(c)) body.totp = c;
    else if (c) body.recovery_code = code.trim();
    const answer = await readAnswer(await send(this.fetchFn, "POST", "/api/auth/login", { body }));
    this.save(sessionFromTokens(answer, username, this.now()));
  }

  /** Sign out here and on the server (the session's tokens stop working at once). */
  async logout() {
    const session = this.session;
    this.clear();
    if (!session) return;
    const body = session.refreshToken ? { refresh_token: session.refreshToken } : undefined;
    try {
      await send(this.fetchFn, "POST", "/api/auth/logout", { token: session.accessToken, body });
    } catch {
      // Offline: the tokens are gone from this phone; the access token lapses on its own.
    }
  }

  /** A valid access token, refreshed first when about to lapse. */
  async accessToken() {
    if (!this.session) throw new SessionEnded("You are signed out.");
    if (this.session.refreshToken && refreshDelay(this.session, this.now()) === 0) {
      await this.refresh(this.session.accessToken);
    }
    if (!this.session) throw new SessionEnded("You are signed out.");
    return this.session.accessToken;
  }

  /**
   * Replace the access token `stale` (and the refresh token) — unless it was replaced
   * meanwhile, here or in another tab. Throws `SessionEnded` when the server refuses.
   * @param {string} stale
   */
  refresh(stale) {
    this.refreshing ??= this.withLock(() => this.refreshUnlocked(stale)).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** @param {string} stale */
  async refreshUnlocked(stale) {
    const stored = parseSession(this.storage.getItem(STORAGE_KEY));
    if (!stored) throw this.end("You were signed out in another window.");
    if (stored.accessToken !== stale) {
      this.session = stored; // another tab (or an earlier call) refreshed already
      this.schedule();
      return;
    }
    if (!stored.refreshToken) throw this.end("Your sign-in has expired: sign in again.");
    const response = await send(this.fetchFn, "POST", "/api/auth/refresh", {
      body: { refresh_token: stored.refreshToken },
    });
    if (response.status === 401 || response.status === 422) {
      const refusal = await readAnswer(response).catch((e) => e);
      throw this.end(sessionEndedMessage(refusal.message));
    }
    const answer = await readAnswer(response);
    this.save(sessionFromTokens(answer, stored.username, this.now()));
  }

  /**
   * End the session here (the server ended it): forget it and tell the app.
   * @param {string} message why, in words, for the sign-in screen
   * @returns {SessionEnded} to throw
   */
  end(message) {
    const wasSignedIn = this.session !== null;
    this.clear();
    if (wasSignedIn) this.onEnded(message);
    return new SessionEnded(message);
  }

  /**
   * Follow sign-in and sign-out in other tabs of the app.
   * @param {Window} win
   */
  watchOtherTabs(win) {
    win.addEventListener("storage", (event) => {
      if (event.key !== STORAGE_KEY) return;
      const next = parseSession(event.newValue);
      if (next) {
        this.session = next;
        this.schedule();
      } else if (this.session) {
        this.end("You signed out in another window.");
      }
    });
  }

  /** @param {Session} session */
  save(session) {
    this.session = session;
    this.storage.setItem(STORAGE_KEY, JSON.stringify(session));
    this.schedule();
  }

  clear() {
    clearTimeout(this.timer);
    this.session = null;
    this.storage.removeItem(STORAGE_KEY);
  }

  /** Refresh ahead of expiry; a failed attempt (offline) is tried again later. */
  schedule() {
    clearTimeout(this.timer);
    const session = this.session;
    if (!session?.refreshToken) return;
    this.timer = setTimeout(() => {
      this.refresh(session.accessToken).catch((error) => {
        if (!(error instanceof SessionEnded)) this.timer = setTimeout(() => this.schedule(), RETRY_MS);
      });
    }, refreshDelay(session, this.now()));
  }

  /**
   * The task under the tabs' shared lock (one refresh at a time), where the browser has one.
   * `request` is typed as a promise of the callback's result, here itself a promise: awaited,
   * it is the task's value.
   * @template T
   * @param {() => Promise<T>} task
   * @returns {Promise<T>}
   */
  async withLock(task) {
    return this.locks ? await this.locks.request("forexbot-refresh", task) : task();
  }
}

/**
 * A live WebSocket channel (`/ws/system`, `/ws/performance`, ...) that keeps itself open.
 *
 * Rules:
 * - The token goes in `?token=`: a browser cannot set headers on a WebSocket.
 * - A dropped or refused connection is retried after an exponential back-off with jitter
 *   (1 s, 2 s, 4 s ... capped at 30 s, each picked at random in its upper half), so a
 *   restarted daemon is not hit by every phone at the same instant.
 * - Before each retry `beforeReconnect` runs (the dashboard re-reads the status over HTTP):
 *   that refreshes an expired token and notices a session ended elsewhere, which a refused
 *   WebSocket upgrade cannot tell the browser.
 * - A close with 1008 (the server closes a socket when its access token expires or its
 *   session ends) is answered at once, through `beforeReconnect`, without going stale: a
 *   renewed token reopens the stream, an ended session signs out. A second 1008 before any
 *   message counts as a drop.
 * - The channel is *stale* from the moment a connection drops (or the first one fails) until
 *   one opens again; a connection silent for `silenceMs` is taken as dropped (a phone
 *   changing networks may never see the close).
 * - One connection at a time: every attempt (start, a retry, the network back, a renewal) is
 *   a new generation; an attempt still awaiting `beforeReconnect` or the token when a newer
 *   one starts, or when the channel drops or stops, gives up after its await, and a socket
 *   still open is closed before another is made. Otherwise an `online` event during
 *   `beforeReconnect` opens a second socket and the first is left open, unseen.
 */

import { SessionEnded } from "../models/errors.js";

/** The close code of a socket whose token expired or whose session ended. */
const POLICY_CLOSE = 1008;

/**
 * The wait before retry number `attempt` (0 for the first retry).
 * @param {number} attempt
 * @param {{min?: number, max?: number, random?: () => number}} [options]
 * @returns {number} ms
 */
export function backoffDelay(attempt, { min = 1000, max = 30_000, random = Math.random } = {}) {
  const cap = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

/**
 * The WebSocket URL of `path` on this page's host.
 * @param {Location | URL} location
 * @param {string} path
 * @param {string} token
 */
export function socketUrl(location, path, token) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}?token=${encodeURIComponent(token)}`;
}

export class LiveSocket {
  /**
   * @param {object} options
   * @param {string} options.path e.g. "/ws/system"
   * @param {() => Promise<string>} options.token a valid access token
   * @param {(message: any) => void} options.onMessage each JSON message
   * @param {(stale: boolean) => void} [options.onStale] when the stale flag changes
   * @param {() => Promise<unknown>} [options.beforeReconnect]
   * @param {number} [options.silenceMs]
   * @param {typeof WebSocket} [options.WebSocketImpl]
   * @param {Location | URL} [options.location] the page's, whose host serves the streams
   */
  constructor({
    path,
    token,
    onMessage,
    onStale = () => {},
    beforeReconnect,
    silenceMs = 60_000,
    WebSocketImpl = globalThis.WebSocket,
    location = globalThis.location,
  }) {
    this.path = path;
    this.token = token;
    this.onMessage = onMessage;
    this.onStale = onStale;
    this.beforeReconnect = beforeReconnect;
    this.silenceMs = silenceMs;
    this.WebSocketImpl = WebSocketImpl;
    this.location = location;
    /** @type {WebSocket | null} */
    this.socket = null;
    this.stale = false;
    this.stopped = true;
    this.attempt = 0;
    this.renewing = false;
    /** Counts connection attempts: an attempt that is no longer the latest gives up. */
    this.generation = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.silenceTimer = undefined;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.generation += 1;
    clearTimeout(this.retryTimer);
    clearTimeout(this.silenceTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, "bye");
  }

  /** The network is back: retry now rather than at the end of the back-off. */
  retryNow() {
    if (this.stopped || this.socket) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  /** The network is gone: mark stale now and retry (the close may come minutes later). */
  drop() {
    if (this.stopped) return;
    this.generation += 1; // an attempt under way was made on the network that is gone
    const socket = this.socket;
    this.socket = null;
    socket?.close(4000, "offline");
    this.lost();
  }

  async connect() {
    clearTimeout(this.retryTimer);
    const mine = (this.generation += 1);
    let url;
    try {
      if ((this.attempt > 0 || this.renewing) && this.beforeReconnect) await this.beforeReconnect();
      if (mine !== this.generation) return;
      url = socketUrl(this.location, this.path, await this.token());
    } catch (error) {
      if (mine !== this.generation) return; // a newer attempt (or stop) decides
      if (error instanceof SessionEnded) this.stop();
      else this.lost();
      return;
    }
    if (this.stopped || mine !== this.generation) return;
    const previous = this.socket;
    this.socket = null;
    clearTimeout(this.silenceTimer);
    previous?.close(1000, "replaced");
    const socket = new this.WebSocketImpl(url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      this.setStale(false);
      this.heard();
    });
    socket.addEventListener("message", (event) => {
      if (this.socket !== socket) return;
      this.heard();
      this.renewing = false;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // the server only sends JSON; anything else is not ours to show
      }
      this.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (event.code === POLICY_CLOSE && !this.renewing && !this.stopped) {
        this.renewing = true;
        this.connect();
      } else {
        this.lost();
      }
    });
  }

  /** A connection dropped or could not be made: stale, and retry after the back-off. */
  lost() {
    clearTimeout(this.silenceTimer);
    this.setStale(true);
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), backoffDelay(this.attempt));
    this.attempt += 1;
  }

  /** Something arrived: the connection is alive for another `silenceMs`. */
  heard() {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => this.drop(), this.silenceMs);
  }

  /** @param {boolean} stale */
  setStale(stale) {
    if (stale === this.stale) return;
    this.stale = stale;
    this.onStale(stale);
  }
}

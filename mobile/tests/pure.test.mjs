// The app's pure modules and services, run by Node without a browser:
//   node --test mobile/tests/
// Each test is one behaviour; the DOM screens are covered by the browser tests.

import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { emptyDashboard, withPerformance, withStatus, withSystemMessage } from "../src/models/dashboard.js";
import { ApiError, SessionEnded, apiErrorFrom, sessionEndedMessage } from "../src/models/errors.js";
import { parseSession, refreshDelay, sessionFromTokens } from "../src/models/session.js";
import { Api } from "../src/services/api.js";
import { Auth, STORAGE_KEY } from "../src/services/auth.js";
import { LiveSocket, backoffDelay, socketUrl } from "../src/services/ws.js";
import { formatCount, formatMoney, formatPnl, formatWord } from "../src/widgets/format.js";

const MOBILE = join(dirname(fileURLToPath(import.meta.url)), "..");

// -- formatting ------------------------------------------------------------------------------

test("money has grouped thousands, two decimals and the currency after", () => {
  assert.equal(formatMoney(10000, "USD"), "10,000.00 USD");
  assert.equal(formatMoney(1234567.891, "EUR"), "1,234,567.89 EUR");
});

test("money that is unknown is a dash", () => {
  assert.equal(formatMoney(null, "USD"), "—");
  assert.equal(formatMoney(Number.NaN, "USD"), "—");
});

test("a profit is signed plus and a loss minus, with its tone", () => {
  assert.deepEqual(formatPnl(12.5, "USD"), { text: "+12.50 USD", tone: "profit" });
  assert.deepEqual(formatPnl(-1234.5, "USD"), { text: "-1,234.50 USD", tone: "loss" });
});

test("a P/L that rounds to zero is flat and unsigned", () => {
  assert.deepEqual(formatPnl(-0.004, "USD"), { text: "0.00 USD", tone: "flat" });
});

test("counts and words read as a person expects", () => {
  assert.equal(formatCount(3), "3");
  assert.equal(formatCount(null), "—");
  assert.equal(formatWord("connected"), "Connected");
  assert.equal(formatWord("max_drawdown"), "Max drawdown");
});

// -- errors ----------------------------------------------------------------------------------

test("an API error body becomes an error with the server's message, code and status", () => {
  const body = { error: { code: "mfa_required", message: "a one-time code is required", details: null } };
  const error = apiErrorFrom(401, body);
  assert.ok(error instanceof ApiError);
  assert.equal(error.message, "a one-time code is required");
  assert.equal(error.code, "mfa_required");
  assert.equal(error.status, 401);
});

test("validation details name the refused fields in the message", () => {
  const details = [{ field: "totp", message: "String should match pattern", type: "string_pattern_mismatch" }];
  const error = apiErrorFrom(422, { error: { code: "validation_error", message: "invalid body", details } });
  assert.equal(error.message, "invalid body (totp: String should match pattern)");
});

test("an answer without an error body still says what happened", () => {
  assert.equal(apiErrorFrom(502, null, "Bad Gateway").message, "The server answered 502 Bad Gateway.");
});

test("a session ended by the server says so and quotes the reason", () => {
  assert.equal(
    sessionEndedMessage("refresh token already used: the session is ended"),
    "Your session has ended. Please sign in again. (The server said: refresh token already used: the session is ended.)",
  );
});

// -- session ---------------------------------------------------------------------------------

test("a token answer becomes a session expiring after expires_in", () => {
  const s = sessionFromTokens({ access_token: "a", expires_in: 3600, refresh_token: "r" }, "ann", 1000);
  assert.deepEqual(s, { accessToken: "a", expiresAt: 3_601_000, refreshToken: "r", username: "ann" });
});

test("the refresh comes at the earlier of a minute before expiry and 80 % of the time left", () => {
  const hour = { accessToken: "a", expiresAt: 3_600_000, refreshToken: "r", username: "u" };
  assert.equal(refreshDelay(hour, 0), 2_880_000);
  const short = { ...hour, expiresAt: 60_000 };
  assert.equal(refreshDelay(short, 0), 0);
});

test("a stored session of another shape is ignored", () => {
  assert.equal(parseSession("{not json"), null);
  assert.equal(parseSession(JSON.stringify({ accessToken: 1 })), null);
  assert.equal(parseSession(null), null);
});

// -- dashboard model -------------------------------------------------------------------------

const STATUS = {
  mode: "paper",
  time: "2026-11-23T08:00:00+00:00",
  terminal: { state: "connected" },
  account: { currency: "USD", balance: 10000, equity: 10012.5, margin: 100, margin_free: 9912.5, leverage: 100 },
  open_positions: 1,
  risk: { kill_switch: { active: false, code: null, reason: null, since: null } },
};

test("the status fills every dashboard figure, floating P/L as equity minus balance", () => {
  const d = withStatus(emptyDashboard(), STATUS);
  assert.equal(d.connection, "connected");
  assert.equal(d.mode, "paper");
  assert.equal(d.positions, 1);
  assert.deepEqual(d.killSwitch, { active: false, code: null, reason: null });
  assert.deepEqual(d.account, { currency: "USD", balance: 10000, equity: 10012.5, margin: 100, marginFree: 9912.5, floating: 12.5 });
});

test("a connection event changes the terminal's state only", () => {
  const d = withSystemMessage(withStatus(emptyDashboard(), STATUS), { type: "connection", state: "disconnected" });
  assert.equal(d.connection, "disconnected");
  assert.equal(d.positions, 1);
});

test("a kill switch event trips and resumes the switch", () => {
  const start = withStatus(emptyDashboard(), STATUS);
  const tripped = withSystemMessage(start, { type: "kill_switch", active: true, code: "manual", reason: "news" });
  assert.deepEqual(tripped.killSwitch, { active: true, code: "manual", reason: "news" });
  const resumed = withSystemMessage(tripped, { type: "kill_switch", active: false, code: "resumed", reason: null });
  assert.deepEqual(resumed.killSwitch, { active: false, code: null, reason: null });
});

test("a performance snapshot replaces the account with the terminal's floating profit", () => {
  const account = { currency: "USD", balance: 9000, equity: 8990, margin: 50, margin_free: 8940, margin_level: 17980, floating_profit: -10, leverage: 100 };
  const d = withPerformance(emptyDashboard(), { time: "t", account, performance: null });
  assert.deepEqual(d.account, { currency: "USD", balance: 9000, equity: 8990, margin: 50, marginFree: 8940, floating: -10 });
});

test("a performance snapshot before the account was read changes nothing", () => {
  const before = withStatus(emptyDashboard(), STATUS);
  assert.equal(withPerformance(before, { time: "t", account: null, performance: null }), before);
});

test("system events the dashboard does not show leave it as it was", () => {
  const before = emptyDashboard();
  assert.equal(withSystemMessage(before, { type: "risk_rejected", code: "x" }), before);
});

// -- WebSocket helpers -----------------------------------------------------------------------

test("the back-off doubles from one second, capped at thirty, jittered in its upper half", () => {
  assert.equal(backoffDelay(0, { random: () => 0 }), 500);
  assert.equal(backoffDelay(0, { random: () => 1 }), 1000);
  assert.equal(backoffDelay(3, { random: () => 1 }), 8000);
  assert.equal(backoffDelay(20, { random: () => 1 }), 30_000);
  assert.equal(backoffDelay(20, { random: () => 0 }), 15_000);
});

test("the socket URL follows the page's scheme and carries the token escaped", () => {
  assert.equal(socketUrl(new URL("https://bot.example:8443/app/"), "/ws/system", "a+b/c"), "wss://bot.example:8443/ws/system?token=a%2Bb%2Fc");
  assert.equal(socketUrl(new URL("http://127.0.0.1:8080/app/"), "/ws/performance", "t"), "ws://127.0.0.1:8080/ws/performance?token=t");
});

/** A WebSocket stand-in the test opens, feeds and closes by hand. */
class FakeSocket extends EventTarget {
  /** @type {FakeSocket[]} */
  static made = [];
  /** @param {string} url */
  constructor(url) {
    super();
    this.url = url;
    FakeSocket.made.push(this);
  }
  close() {}
  serverOpens() {
    this.dispatchEvent(new Event("open"));
  }
  /** @param {unknown} data */
  serverSends(data) {
    this.dispatchEvent(Object.assign(new Event("message"), { data: JSON.stringify(data) }));
  }
  /** @param {number} code */
  serverCloses(code) {
    this.dispatchEvent(Object.assign(new Event("close"), { code }));
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** @param {unknown[][]} events what the socket reported, in order */
function liveSocket(events) {
  FakeSocket.made = [];
  let n = 0;
  return new LiveSocket({
    path: "/ws/system",
    token: async () => `t${++n}`,
    onMessage: (m) => events.push(["message", m]),
    onStale: (stale) => events.push(["stale", stale]),
    beforeReconnect: async () => events.push(["check"]),
    WebSocketImpl: /** @type {typeof WebSocket} */ (/** @type {unknown} */ (FakeSocket)),
    location: new URL("http://127.0.0.1:8080/app/"),
  });
}

test("a socket closed for its expired token reopens with a new one without going stale", async () => {
  /** @type {unknown[][]} */
  const events = [];
  const socket = liveSocket(events);
  socket.start();
  await tick();
  FakeSocket.made[0].serverOpens();
  FakeSocket.made[0].serverSends({ channel: "system", data: { type: "status" } });
  FakeSocket.made[0].serverCloses(1008);
  await tick();
  assert.equal(FakeSocket.made[1].url, "ws://127.0.0.1:8080/ws/system?token=t2");
  assert.deepEqual(events, [["message", { channel: "system", data: { type: "status" } }], ["check"]]);
  socket.stop();
});

test("a dropped socket is stale until one opens again", async () => {
  /** @type {unknown[][]} */
  const events = [];
  const socket = liveSocket(events);
  socket.start();
  await tick();
  FakeSocket.made[0].serverOpens();
  FakeSocket.made[0].serverCloses(1006);
  assert.deepEqual(events, [["stale", true]]);
  socket.retryNow();
  await tick();
  FakeSocket.made[1].serverOpens();
  assert.deepEqual(events, [["stale", true], ["check"], ["stale", false]]);
  socket.stop();
});

// -- auth and api, against a fake server -----------------------------------------------------

/** The part of `Storage` the app uses, in memory. */
class MemoryStorage {
  constructor() {
    /** @type {Map<string, string>} */
    this.items = new Map();
  }
  /** @param {string} k */
  getItem(k) {
    return this.items.get(k) ?? null;
  }
  /** @param {string} k @param {unknown} v */
  setItem(k, v) {
    this.items.set(k, String(v));
  }
  /** @param {string} k */
  removeItem(k) {
    this.items.delete(k);
  }
}

/** @typedef {Record<string, (body: any, headers: Record<string, string>) => [number, unknown]>} Routes */
/** @typedef {{method: string, headers: Record<string, string>, body?: string}} Sent */

/**
 * A fetch answering from `routes` ("METHOD /path" → (body, headers) → [status, json]) and recording calls.
 * @param {Routes} routes
 */
function fakeFetch(routes) {
  /** @type {Array<{url: string, method: string, body: any, auth: string | null}>} */
  const calls = [];
  /** @type {(url: string, init: Sent) => Promise<Response>} */
  const answer = async (url, init) => {
    const body = init.body ? JSON.parse(init.body) : undefined;
    calls.push({ url, method: init.method, body, auth: init.headers.Authorization ?? null });
    const [status, json] = routes[`${init.method} ${url}`](body, init.headers);
    return new Response(json === null ? null : JSON.stringify(json), { status });
  };
  const fetchFn = /** @type {typeof fetch} */ (/** @type {unknown} */ (answer));
  return { fetchFn, calls };
}

const pair = (/** @type {number} */ n) => ({ access_token: `access-${n}`, token_type: "bearer", expires_in: 3600, refresh_token: `refresh-${n}-0123456789abcdef` });

/** @param {Routes} routes */
function makeAuth(routes) {
  const { fetchFn, calls } = fakeFetch(routes);
  const storage = /** @type {Storage} */ (/** @type {unknown} */ (new MemoryStorage()));
  const auth = new Auth({ storage, fetchFn, now: () => 0, locks: undefined });
  auth.schedule = () => {}; // no timers in tests
  return { auth, calls, fetchFn };
}

test("a six-digit code is sent as totp and anything else as a recovery code", async () => {
  const { auth, calls } = makeAuth({ "POST /api/auth/login": () => [200, pair(1)] });
  await auth.login("admin", "pw", "123 456");
  await auth.login("admin", "pw", "ABCD-EFGH-1234");
  assert.deepEqual(calls[0].body, { username: "admin", password: "pw", totp: "123456" });
  assert.deepEqual(calls[1].body, { username: "admin", password: "pw", recovery_code: "ABCD-EFGH-1234" });
});

test("login keeps the session in storage", async () => {
  const { auth } = makeAuth({ "POST /api/auth/login": () => [200, pair(1)] });
  await auth.login("ann", "pw");
  assert.equal(JSON.parse(auth.storage.getItem(STORAGE_KEY) ?? "null").refreshToken, "refresh-1-0123456789abcdef");
  assert.equal(await auth.accessToken(), "access-1");
});

test("a refusal at login is thrown in the server's words", async () => {
  const refusal = { error: { code: "mfa_required", message: "a one-time code (totp) or a recovery code is required", details: null } };
  const { auth } = makeAuth({ "POST /api/auth/login": () => [401, refusal] });
  await assert.rejects(auth.login("admin", "pw"), { code: "mfa_required", message: refusal.error.message });
});

test("a 401 is answered by one refresh, rotating the refresh token, and one retry", async () => {
  let n = 1;
  const { auth, calls, fetchFn } = makeAuth({
    "POST /api/auth/login": () => [200, pair(1)],
    "POST /api/auth/refresh": (body) => (body.refresh_token === `refresh-${n}-0123456789abcdef` ? [200, pair(++n)] : [401, null]),
    "GET /api/system/status": (_b, headers) => (headers.Authorization === "Bearer access-2" ? [200, { mode: "paper" }] : [401, null]),
  });
  await auth.login("ann", "pw");
  const status = await new Api(auth, { fetchFn }).get("/api/system/status");
  assert.deepEqual(status, { mode: "paper" });
  assert.deepEqual(calls.map((c) => `${c.method} ${c.url}`), ["POST /api/auth/login", "GET /api/system/status", "POST /api/auth/refresh", "GET /api/system/status"]);
  assert.equal(auth.session?.refreshToken, "refresh-2-0123456789abcdef");
});

test("a refused refresh ends the session and tells the app why", async () => {
  const reused = { error: { code: "unauthenticated", message: "refresh token already used: the session is ended", details: null } };
  const { auth, fetchFn } = makeAuth({
    "POST /api/auth/login": () => [200, pair(1)],
    "POST /api/auth/refresh": () => [401, reused],
    "GET /api/system/status": () => [401, null],
  });
  let told = null;
  auth.onEnded = (message) => {
    told = message;
  };
  await auth.login("ann", "pw");
  await assert.rejects(new Api(auth, { fetchFn }).get("/api/system/status"), SessionEnded);
  assert.equal(told, sessionEndedMessage(reused.error.message));
  assert.equal(auth.session, null);
  assert.equal(auth.storage.getItem(STORAGE_KEY), null);
});

test("logout ends the session on the server with the refresh token and forgets it here", async () => {
  const { auth, calls } = makeAuth({ "POST /api/auth/login": () => [200, pair(1)], "POST /api/auth/logout": () => [204, null] });
  await auth.login("ann", "pw");
  await auth.logout();
  assert.deepEqual(calls[1], { url: "/api/auth/logout", method: "POST", body: { refresh_token: "refresh-1-0123456789abcdef" }, auth: "Bearer access-1" });
  assert.equal(auth.session, null);
});

// -- the service worker's shell --------------------------------------------------------------

test("the service worker caches every file of the app shell", () => {
  const sw = readFileSync(join(MOBILE, "sw.js"), "utf8");
  const listed = new Set([...sw.matchAll(/^\s+"([^"]+)",$/gm)].map((m) => m[1]));
  /** @type {(dir: string) => string[]} */
  const files = (dir) => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
  for (const file of files(join(MOBILE, "src"))) {
    assert.ok(listed.has(relative(MOBILE, file)), `${relative(MOBILE, file)} is not in sw.js's SHELL`);
  }
  for (const file of ["index.html", "styles.css", "manifest.webmanifest", "icons/icon-192.png", "icons/icon-512.png"]) {
    assert.ok(listed.has(file), `${file} is not in sw.js's SHELL`);
  }
});

test("the service worker never intercepts the API or the streams", () => {
  const sw = readFileSync(join(MOBILE, "sw.js"), "utf8");
  assert.match(sw, /!url\.pathname\.startsWith\(scope\.pathname\)\) return;/);
});

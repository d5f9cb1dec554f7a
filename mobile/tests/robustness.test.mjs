// The app's robustness on a phone, run by Node without a browser: a number typed with a comma
// is read as meant and a typo in a number field is never taken for an empty one, one
// WebSocket per channel whatever the network does, and a closed screen stops its retries and
// makes no second form.
//   node --test mobile/tests/
// The screens run on a small stand-in for the DOM below (just what they use), their timers on
// Node's mock clock.

import assert from "node:assert/strict";
import { test } from "node:test";

import { SessionEnded } from "../src/models/errors.js";
import { NOT_A_NUMBER, fieldsOf, readForm } from "../src/models/schema_form.js";
import { watchNetwork } from "../src/services/network.js";
import { LiveSocket } from "../src/services/ws.js";
import { typedText } from "../src/widgets/field.js";

// -- a stand-in DOM --------------------------------------------------------------------------

/** An element: attributes, children (elements or text), events; what the screens touch. */
class FakeElement extends EventTarget {
  /** @param {string} tag */
  constructor(tag) {
    super();
    this.tagName = tag.toUpperCase();
    /** @type {Map<string, string>} */
    this.attributes = new Map();
    /** @type {Array<FakeElement | string>} */
    this.childNodes = [];
    /** @type {FakeElement | null} */
    this.parentElement = null;
    /** @type {Record<string, string>} */
    this.dataset = {};
    this.value = "";
    this.id = "";
    this.disabled = false;
    this.open = false;
    /** @type {{badInput: boolean}} */
    this.validity = { badInput: false };
    /** @type {Set<string>} */
    const classes = new Set();
    this.classList = {
      /** @param {string} c @param {boolean} [on] */
      toggle: (c, on = !classes.has(c)) => (on ? classes.add(c) : classes.delete(c), on),
      /** @param {string} c */
      add: (c) => classes.add(c),
      /** @param {string} c */
      remove: (c) => classes.delete(c),
      /** @param {string} c */
      contains: (c) => classes.has(c),
    };
  }
  /** @param {string} name @param {string} value */
  setAttribute(name, value) {
    this.attributes.set(name, String(value));
    if (name === "value") this.value = String(value);
    if (name.startsWith("data-")) this.dataset[name.slice(5).replace(/-(\w)/g, (_, c) => c.toUpperCase())] = String(value);
  }
  /** @param {string} name */
  getAttribute(name) {
    return this.attributes.get(name) ?? null;
  }
  /** @param {string} name */
  removeAttribute(name) {
    this.attributes.delete(name);
  }
  get hidden() {
    return this.attributes.has("hidden");
  }
  set hidden(on) {
    if (on) this.attributes.set("hidden", "");
    else this.attributes.delete("hidden");
  }
  /** @returns {string} */
  get textContent() {
    return this.childNodes.map((c) => (typeof c === "string" ? c : c.textContent)).join("");
  }
  /** @param {string} text */
  set textContent(text) {
    this.replaceChildren(String(text ?? ""));
  }
  get nextSibling() {
    const siblings = this.parentElement?.childNodes ?? [];
    return siblings[siblings.indexOf(this) + 1] ?? null;
  }
  get isConnected() {
    /** @type {FakeElement | null} */
    let here = this;
    while (here.parentElement) here = here.parentElement;
    return here === fakeDocument.body;
  }
  /** @param {...(FakeElement | string)} children */
  append(...children) {
    for (const child of children) {
      if (typeof child !== "string") {
        child.remove();
        child.parentElement = this;
      }
      this.childNodes.push(child);
    }
  }
  /** @param {...(FakeElement | string)} children */
  replaceChildren(...children) {
    for (const child of this.childNodes) if (typeof child !== "string") child.parentElement = null;
    this.childNodes = [];
    this.append(...children);
  }
  /** @param {FakeElement} child @param {FakeElement | string | null} before */
  insertBefore(child, before) {
    child.remove();
    child.parentElement = this;
    const at = before === null ? -1 : this.childNodes.indexOf(before);
    if (at < 0) this.childNodes.push(child);
    else this.childNodes.splice(at, 0, child);
    return child;
  }
  remove() {
    const parent = this.parentElement;
    if (!parent) return;
    parent.childNodes = parent.childNodes.filter((c) => c !== this);
    this.parentElement = null;
  }
  /** @param {FakeElement} other */
  contains(other) {
    return other === this || this.all().includes(other);
  }
  /** Every element under this one, depth first. @returns {FakeElement[]} */
  all() {
    return this.childNodes.flatMap((c) => (typeof c === "string" ? [] : [c, ...c.all()]));
  }
  /** Only a tag name is understood (`label`). @param {string} tag */
  querySelector(tag) {
    return this.all().find((e) => e.tagName === tag.toUpperCase()) ?? null;
  }
  /** Only a tag name is understood (`form`). @param {string} tag */
  querySelectorAll(tag) {
    return this.all().filter((e) => e.tagName === tag.toUpperCase());
  }
  get children() {
    return this.childNodes.filter((c) => typeof c !== "string");
  }
  focus() {
    fakeDocument.activeElement = this;
  }
  /** @param {string} testid */
  byTestId(testid) {
    return this.all().filter((e) => e.getAttribute("data-testid") === testid);
  }
}

const fakeDocument = {
  /** @param {string} tag */
  createElement: (tag) => new FakeElement(tag),
  body: new FakeElement("body"),
  /** @type {FakeElement | null} */
  activeElement: null,
  visibilityState: "visible",
  title: "",
};

/** A WebSocket stand-in the test opens and closes by hand; it remembers being closed. */
class FakeSocket extends EventTarget {
  static OPEN = 1;
  /** @type {FakeSocket[]} */
  static made = [];
  /** @param {string} url */
  constructor(url) {
    super();
    this.url = url;
    this.readyState = 0;
    this.closed = false;
    /** @type {string[]} */
    this.sent = [];
    FakeSocket.made.push(this);
  }
  close() {
    this.closed = true;
  }
  /** @param {string} data */
  send(data) {
    this.sent.push(data);
  }
  serverOpens() {
    this.readyState = FakeSocket.OPEN;
    this.dispatchEvent(new Event("open"));
  }
  /** @param {number} code */
  serverCloses(code) {
    this.closed = true;
    this.dispatchEvent(Object.assign(new Event("close"), { code }));
  }
  /** The sockets made and not closed: the connections really open. */
  static live() {
    return FakeSocket.made.filter((s) => !s.closed);
  }
}

const fakeWindow = Object.assign(new EventTarget(), { scrollTo() {} });

Object.assign(globalThis, {
  document: fakeDocument,
  window: fakeWindow,
  WebSocket: FakeSocket,
  location: new URL("http://127.0.0.1:8080/app/"),
});
// A browser without push (Node 20 has no navigator; later ones have one without a service worker).
if (!("navigator" in globalThis)) Object.defineProperty(globalThis, "navigator", { value: {}, configurable: true });

// Imported once the stand-ins are in place (they are used when a screen is built).
const { schemaFields } = await import("../src/widgets/schema_form.js");
const { quotesSection } = await import("../src/screens/dashboard_quotes.js");
const { showPositions } = await import("../src/screens/positions.js");
const { showTrade } = await import("../src/screens/trade.js");
const { showControl } = await import("../src/screens/control.js");

/** Lets every settled promise run its callbacks (setImmediate is not on the mock clock). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** @template T @returns {{promise: Promise<T>, resolve: (v: T) => void, reject: (e: unknown) => void}} */
function deferred() {
  /** @type {(v: T) => void} */
  let resolve = () => {};
  /** @type {(e: unknown) => void} */
  let reject = () => {};
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * An Api whose GETs are answered by `answer(path)`, recording the paths asked.
 * @param {(path: string) => Promise<any>} answer
 */
function fakeApi(answer) {
  /** @type {string[]} */
  const asked = [];
  const api = {
    asked,
    /** @param {string} path */
    get: (path) => {
      asked.push(path);
      return answer(path);
    },
  };
  return /** @type {import("../src/services/api.js").Api & {asked: string[]}} */ (/** @type {unknown} */ (api));
}

/** An Auth signed in with `role` (the access token's claims are all the screens read). */
function fakeAuth(role = "trader") {
  const claims = Buffer.from(JSON.stringify({ role })).toString("base64url");
  const auth = { session: { username: "tom", accessToken: `h.${claims}.s` }, accessToken: async () => "token" };
  return /** @type {import("../src/services/auth.js").Auth} */ (/** @type {unknown} */ (auth));
}

// -- numbers typed in a form ------------------------------------------------------------------

// A strategy's trade management as the API describes it: break-even and the trailing start
// are off when null.
const MANAGEMENT = fieldsOf({
  type: "object",
  properties: {
    management: {
      type: "object",
      properties: {
        break_even_at_r: { anyOf: [{ exclusiveMinimum: 0, maximum: 100, type: "number" }, { type: "null" }], default: null },
        break_even_offset_points: { default: 0, maximum: 100000, minimum: 0, type: "integer" },
        trailing_start_r: { anyOf: [{ exclusiveMinimum: 0, maximum: 100, type: "number" }, { type: "null" }], default: null },
      },
    },
  },
});

test("a number the input could not read is refused, not taken as an empty (off) setting", () => {
  const read = readForm(MANAGEMENT, { "management.break_even_at_r": null, "management.trailing_start_r": "", "management.break_even_offset_points": null });
  assert.deepEqual(read.problems, { "management.break_even_at_r": NOT_A_NUMBER, "management.break_even_offset_points": "Give a whole number." });
  assert.deepEqual(read.values, { "management.trailing_start_r": null });
});

test("a field the browser could not read (a half-typed date) reads as unreadable, an empty one as empty", () => {
  assert.equal(typedText({ value: "", validity: { badInput: true } }), null);
  assert.equal(typedText({ value: "", validity: { badInput: false } }), "");
  assert.equal(typedText({ value: "1.5", validity: { badInput: false } }), "1.5");
});

/** @param {ReturnType<typeof schemaFields>} form @param {string} name */
const inputNamed = (form, name) => /** @type {FakeElement} */ (/** @type {unknown} */ (form.el)).byTestId(`manage-${name}`)[0];

test("the management form's numbers are text inputs with a decimal keypad, not the browser's number inputs", () => {
  const form = schemaFields({ fields: MANAGEMENT, values: { management: { break_even_at_r: 1.5, break_even_offset_points: 0, trailing_start_r: null } }, testid: "manage" });
  const breakEven = inputNamed(form, "management.break_even_at_r");
  assert.equal(breakEven.getAttribute("type"), "text");
  assert.equal(breakEven.getAttribute("inputmode"), "decimal");
  assert.equal(inputNamed(form, "management.break_even_offset_points").getAttribute("inputmode"), "numeric");
});

test("a break-even typed with a comma is read as 1.5 and shown back with a point", () => {
  const form = schemaFields({ fields: MANAGEMENT, values: { management: { break_even_at_r: null, break_even_offset_points: 0, trailing_start_r: null } }, testid: "manage" });
  inputNamed(form, "management.break_even_at_r").value = "1,5";
  const read = form.read();
  assert.deepEqual(read.problems, {});
  assert.equal(read.values["management.break_even_at_r"], 1.5);
  form.reset({ management: { break_even_at_r: 1.5, break_even_offset_points: 0, trailing_start_r: null } });
  assert.equal(inputNamed(form, "management.break_even_at_r").value, "1.5");
});

test("a break-even typed with grouping or an exponent is refused in words, not read as another number", () => {
  const form = schemaFields({ fields: MANAGEMENT, values: { management: { break_even_at_r: 1.5, break_even_offset_points: 0, trailing_start_r: 2 } }, testid: "manage" });
  inputNamed(form, "management.break_even_at_r").value = "1,234.5";
  inputNamed(form, "management.trailing_start_r").value = "1e3";
  const read = form.read();
  assert.deepEqual(read.problems, { "management.break_even_at_r": NOT_A_NUMBER, "management.trailing_start_r": NOT_A_NUMBER });
  assert.equal("management.break_even_at_r" in read.values, false);
});

test("the management form refuses a break-even typed wrong instead of switching it off", () => {
  const form = schemaFields({ fields: MANAGEMENT, values: { management: { break_even_at_r: 1.5, break_even_offset_points: 0, trailing_start_r: 2 } }, testid: "manage" });
  const input = inputNamed(form, "management.break_even_at_r");
  input.value = ""; // what a browser gives for what it could not read
  input.validity = { badInput: true };
  const read = form.read();
  assert.deepEqual(read.problems, { "management.break_even_at_r": NOT_A_NUMBER });
  assert.equal("management.break_even_at_r" in read.values, false);
});

// -- one WebSocket per channel ---------------------------------------------------------------

/**
 * A channel whose checks before a reconnection wait until the test answers them.
 * @param {Array<{resolve: (v: unknown) => void}>} checks the pending checks, oldest first
 */
function slowChannel(checks) {
  FakeSocket.made = [];
  return new LiveSocket({
    path: "/ws/system",
    token: async () => "t",
    onMessage: () => {},
    beforeReconnect: () => {
      const check = deferred();
      checks.push(check);
      return check.promise;
    },
    WebSocketImpl: /** @type {typeof WebSocket} */ (/** @type {unknown} */ (FakeSocket)),
    location: new URL("http://127.0.0.1:8080/app/"),
  });
}

/** The channel open, then dropped by the server: the next connection checks first. @param {LiveSocket} channel */
async function openThenDropped(channel) {
  channel.start();
  await settle();
  FakeSocket.made[0].serverOpens();
  FakeSocket.made[0].serverCloses(1006);
}

test("the network back while a reconnection checks the session still makes one connection", async () => {
  /** @type {Array<{resolve: (v: unknown) => void}>} */
  const checks = [];
  const channel = slowChannel(checks);
  await openThenDropped(channel);
  channel.retryNow(); // the online event
  await settle();
  channel.retryNow(); // and again, before the check answered
  await settle();
  checks.forEach((c) => c.resolve(undefined));
  await settle();
  assert.equal(FakeSocket.live().length, 1);
  assert.equal(channel.socket, FakeSocket.live()[0]);
  channel.stop();
});

test("a connection lost while the reconnection checks the session is not opened after", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  /** @type {Array<{resolve: (v: unknown) => void}>} */
  const checks = [];
  const channel = slowChannel(checks);
  await openThenDropped(channel);
  channel.retryNow();
  await settle();
  channel.drop(); // the offline event: the check under way is for a network that is gone
  checks[0].resolve(undefined);
  await settle();
  assert.equal(channel.socket, null);
  assert.equal(FakeSocket.made.length, 1);
  t.mock.timers.tick(30_000); // the back-off's retry
  await settle();
  checks.forEach((c) => c.resolve(undefined));
  await settle();
  assert.equal(FakeSocket.live().length, 1);
  channel.stop();
});

test("a channel stopped and started again while it checks the session opens one connection", async () => {
  /** @type {Array<{resolve: (v: unknown) => void}>} */
  const checks = [];
  const channel = slowChannel(checks);
  await openThenDropped(channel);
  channel.retryNow();
  await settle();
  channel.stop();
  channel.start();
  await settle();
  checks.forEach((c) => c.resolve(undefined));
  await settle();
  assert.equal(FakeSocket.live().length, 1);
  channel.stop();
  assert.equal(FakeSocket.live().length, 0);
});

// -- closed screens stop; one new-trade form -------------------------------------------------

test("the quotes card retries the watchlist every 10 s while it is shown", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const api = fakeApi(async () => {
    throw new Error("the daemon cannot be reached");
  });
  const quotes = quotesSection({ api, token: async () => "t", onStale: () => {} });
  await settle();
  t.mock.timers.tick(10_000);
  await settle();
  assert.deepEqual(api.asked, ["/api/market/symbols", "/api/positions", "/api/market/symbols", "/api/positions"]);
  quotes.destroy();
});

test("the quotes card closed while reading the watchlist does not try again", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const answer = deferred();
  const api = fakeApi(() => answer.promise);
  const quotes = quotesSection({ api, token: async () => "t", onStale: () => {} });
  quotes.destroy(); // the dashboard closed while the request was out
  answer.reject(new Error("the daemon cannot be reached"));
  await settle();
  t.mock.timers.tick(60_000);
  await settle();
  assert.deepEqual(api.asked, ["/api/market/symbols", "/api/positions"]);
});

test("the quotes card does not retry once the session has ended", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const api = fakeApi(async () => {
    throw new SessionEnded("the session has ended");
  });
  const quotes = quotesSection({ api, token: async () => "t", onStale: () => {} });
  await settle();
  t.mock.timers.tick(60_000);
  await settle();
  assert.deepEqual(api.asked, ["/api/market/symbols", "/api/positions"]);
  quotes.destroy();
});

const EURUSD = { name: "EURUSD", digits: 5, volume_min: 0.01, volume_max: 100, volume_step: 0.01 };

test("the network back while the positions screen reads the watchlist makes one new-trade form", async (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  const watchlist = deferred();
  const api = fakeApi(async (path) => {
    if (path === "/api/market/symbols") return watchlist.promise;
    if (path === "/api/system/status") return { account: { currency: "USD" } };
    return { items: [] };
  });
  const root = new FakeElement("main");
  const screen = showPositions(/** @type {HTMLElement} */ (/** @type {unknown} */ (root)), { api, auth: fakeAuth() });
  fakeWindow.dispatchEvent(new Event("online"));
  fakeWindow.dispatchEvent(new Event("online"));
  watchlist.resolve({ items: [EURUSD] });
  await settle();
  assert.equal(root.byTestId("new-trade-toggle").length, 1);
  assert.equal(api.asked.filter((p) => p === "/api/market/symbols").length, 1);
  screen.destroy();
});

test("the positions screen opened offline makes its new-trade form once the network is back", async (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  let online = false;
  const api = fakeApi(async (path) => {
    if (!online) throw new Error("offline");
    if (path === "/api/market/symbols") return { items: [EURUSD] };
    if (path === "/api/system/status") return { account: { currency: "USD" } };
    return { items: [] };
  });
  const root = new FakeElement("main");
  const screen = showPositions(/** @type {HTMLElement} */ (/** @type {unknown} */ (root)), { api, auth: fakeAuth() });
  await settle();
  assert.equal(root.byTestId("new-trade-toggle").length, 0);
  online = true;
  fakeWindow.dispatchEvent(new Event("online"));
  await settle();
  fakeWindow.dispatchEvent(new Event("online"));
  await settle();
  assert.equal(root.byTestId("new-trade-toggle").length, 1);
  screen.destroy();
});

// -- every screen back by itself when the network returns ------------------------------------

/** @param {FakeElement} root */
const asRoot = (root) => /** @type {HTMLElement} */ (/** @type {unknown} */ (root));

test("a screen watching the network hears it go and come back until it stops watching", () => {
  const target = new EventTarget();
  /** @type {string[]} */
  const heard = [];
  const stop = watchNetwork({ online: () => heard.push("online"), offline: () => heard.push("offline") }, target);
  target.dispatchEvent(new Event("offline"));
  target.dispatchEvent(new Event("online"));
  stop();
  stop();
  target.dispatchEvent(new Event("online"));
  target.dispatchEvent(new Event("offline"));
  assert.deepEqual(heard, ["offline", "online"]);
});

const TRADE = {
  id: 7,
  symbol: "EURUSD",
  side: "buy",
  status: "closed",
  volume: 0.1,
  open_volume: 0,
  entry_price: 1.085,
  exit_price: 1.0862,
  sl: 1.08,
  tp: null,
  profit: 12,
  strategy: "ma_rsi",
  open_time: "2025-01-06T10:00:00Z",
  close_time: "2025-01-06T11:00:00Z",
  close_reason: "tp",
  reason: null,
};

test("a trade opened offline is read again when the network returns, and no more once closed", async () => {
  let online = false;
  const api = fakeApi(async (path) => {
    if (!online) throw new Error("Offline");
    if (path === "/api/trades/7") return TRADE;
    if (path === "/api/trades/7/history") return { items: [{ from: null, to: "intent", time: "2025-01-06T10:00:00Z", details: {} }] };
    throw new Error(`not asked for: ${path}`);
  });
  const root = new FakeElement("main");
  const screen = showTrade(asRoot(root), { api, auth: fakeAuth(), id: 7 });
  await settle();
  assert.equal(root.byTestId("trade-error")[0].textContent, "Could not read trade 7: Offline");
  online = true;
  fakeWindow.dispatchEvent(new Event("online"));
  await settle();
  assert.equal(root.byTestId("trade-error")[0].hidden, true);
  assert.equal(root.byTestId("trade-status")[0].textContent, "closed");
  assert.equal(root.byTestId("trade-transition").length, 1);
  screen.destroy();
  const asked = api.asked.length;
  fakeWindow.dispatchEvent(new Event("online"));
  await settle();
  assert.equal(api.asked.length, asked);
});

const STRATEGY = {
  id: "ma_rsi:EURUSD:M15",
  strategy: "ma_rsi",
  symbol: "EURUSD",
  timeframe: "M15",
  enabled: false,
  signals: 0,
  errors: 0,
  params: { fast_period: 20 },
  parameter_schema: { type: "object", properties: { fast_period: { minimum: 2, maximum: 500, type: "integer" } } },
  risk_multiplier: 1,
  risk_multiplier_schema: { exclusiveMinimum: 0, maximum: 10, type: "number" },
  management: { break_even_at_r: null },
  management_schema: { type: "object", properties: { break_even_at_r: { anyOf: [{ exclusiveMinimum: 0, type: "number" }, { type: "null" }] } } },
};

/** The Control tab's reads answered, or refused while `state.online` is false. @param {{online: boolean}} state */
function controlApi(state) {
  return fakeApi(async (path) => {
    if (!state.online) throw new Error("Offline");
    if (path === "/api/risk") return { kill_switch: { active: false, reason: null }, blocked: null, limits: { max_open_positions: 5 } };
    if (path === "/api/strategies") return { items: [STRATEGY] };
    if (path === "/api/notifications/subscriptions" || path === "/api/notifications/preferences") return { items: [] };
    throw new Error(`not asked for: ${path}`);
  });
}

test("the Control tab opened offline reads each card once when the network returns, and no more once closed", async () => {
  const state = { online: false };
  const api = controlApi(state);
  const root = new FakeElement("main");
  const screen = showControl(asRoot(root), { api, auth: fakeAuth() });
  await settle();
  assert.equal(root.byTestId("risk-error")[0].hidden, false);
  assert.equal(root.byTestId("strategies-error")[0].hidden, false);
  assert.equal(root.byTestId("alerts-status")[0].hidden, false);
  state.online = true;
  api.asked.length = 0;
  fakeWindow.dispatchEvent(new Event("online"));
  await settle();
  assert.deepEqual([...api.asked].sort(), ["/api/notifications/preferences", "/api/notifications/subscriptions", "/api/risk", "/api/strategies"]);
  assert.equal(root.byTestId("risk-error")[0].hidden, true);
  assert.equal(root.byTestId("strategies-error")[0].hidden, true);
  assert.equal(root.byTestId("alerts-status")[0].hidden, true);
  assert.equal(root.byTestId("strategy").length, 1);
  assert.equal(root.byTestId("risk-kill-state")[0].textContent, "Off");
  screen.destroy();
  fakeWindow.dispatchEvent(new Event("online"));
  await settle();
  assert.equal(api.asked.length, 4);
});

test("a strategy form being typed in is kept when the network's return re-reads the strategies", async () => {
  const api = controlApi({ online: true });
  const root = new FakeElement("main");
  const screen = showControl(asRoot(root), { api, auth: fakeAuth() });
  await settle();
  const row = root.byTestId("strategy")[0];
  row.byTestId("strategy-manage-edit")[0].dispatchEvent(new Event("click"));
  row.byTestId("manage-management.break_even_at_r")[0].value = "1,5";
  fakeWindow.dispatchEvent(new Event("online"));
  await settle();
  assert.equal(api.asked.filter((p) => p === "/api/strategies").length, 2);
  assert.equal(root.byTestId("strategy")[0], row);
  assert.equal(row.byTestId("manage-management.break_even_at_r")[0].value, "1,5");
  screen.destroy();
});

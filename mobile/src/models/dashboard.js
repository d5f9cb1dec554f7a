/**
 * What the dashboard shows, and how each message from the API changes it. Pure functions:
 * every update returns a new value, so the screen can simply re-render from it.
 *
 * @typedef {object} Account
 * @property {string} currency
 * @property {number} balance
 * @property {number} equity
 * @property {number} margin
 * @property {number} marginFree
 * @property {number} floating the open positions' profit
 *
 * @typedef {object} KillSwitch
 * @property {boolean} active
 * @property {string | null} code "manual", "max_drawdown" when active
 * @property {string | null} reason
 *
 * @typedef {object} Dashboard
 * @property {string | null} connection the terminal's: connecting, connected, disconnected, stopped
 * @property {string | null} mode paper or live
 * @property {Account | null} account
 * @property {number | null} positions open positions
 * @property {KillSwitch | null} killSwitch
 * @property {string | null} updatedAt the trading clock's time of the latest figures (ISO)
 */

/** @returns {Dashboard} nothing known yet */
export function emptyDashboard() {
  return { connection: null, mode: null, account: null, positions: null, killSwitch: null, updatedAt: null };
}

/**
 * The figures of `GET /api/system/status` (also the `status` message of `/ws/system`).
 * The status's account has no floating profit: it is equity minus balance (what the
 * terminal's own figure amounts to); `/ws/performance` then gives the terminal's figure.
 * @param {Dashboard} dash
 * @param {any} status
 * @returns {Dashboard}
 */
export function withStatus(dash, status) {
  if (!status || typeof status !== "object") return dash;
  const a = status.account;
  const account = a
    ? {
        currency: a.currency,
        balance: a.balance,
        equity: a.equity,
        margin: a.margin,
        marginFree: a.margin_free,
        floating: a.equity - a.balance,
      }
    : dash.account;
  const kill = status.risk && status.risk.kill_switch;
  return {
    ...dash,
    connection: status.terminal?.state ?? dash.connection,
    mode: status.mode ?? dash.mode,
    account,
    positions: typeof status.open_positions === "number" ? status.open_positions : dash.positions,
    killSwitch: kill ? killSwitchOf(kill) : dash.killSwitch,
    updatedAt: status.time ?? dash.updatedAt,
  };
}

/**
 * A `/ws/system` message's `data`: the periodic status, or an event.
 * @param {Dashboard} dash
 * @param {any} data
 * @returns {Dashboard}
 */
export function withSystemMessage(dash, data) {
  switch (data?.type) {
    case "status":
      return withStatus(dash, data.status);
    case "connection":
      return { ...dash, connection: data.state };
    case "kill_switch":
      return { ...dash, killSwitch: killSwitchOf(data) };
    default:
      return dash; // risk_limit, risk_rejected, ...: not on the dashboard yet
  }
}

/**
 * A `/ws/performance` message's `data`: the account as last synced with the terminal.
 * @param {Dashboard} dash
 * @param {any} data
 * @returns {Dashboard}
 */
export function withPerformance(dash, data) {
  const a = data?.account;
  if (!a) return dash;
  return {
    ...dash,
    account: {
      currency: a.currency,
      balance: a.balance,
      equity: a.equity,
      margin: a.margin,
      marginFree: a.margin_free,
      floating: a.floating_profit,
    },
    updatedAt: data.time ?? dash.updatedAt,
  };
}

/**
 * @param {any} k `{"active", "code", "reason"}` from the status's risk or a kill_switch event
 * @returns {KillSwitch}
 */
function killSwitchOf(k) {
  return { active: Boolean(k.active), code: k.active ? k.code ?? null : null, reason: k.active ? k.reason ?? null : null };
}

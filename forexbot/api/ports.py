"""What the API needs from the rest of the daemon: its ports.

The API owns no state of its own: it reads users, trades and logs through repositories, asks
the trading engine for positions and status through the two Protocols below, and listens to
the event bus for its WebSocket channels. The composition root passes all of them in an
:class:`ApiServices`; tests pass small in-test implementations of :class:`PositionQuery`,
:class:`StatusProvider` and :class:`StrategyPort`.

The repository Protocols (:class:`UserStore`, :class:`TradeHistory`, :class:`SystemLogStore`)
describe the subset of ``forexbot.database``'s repositories the API calls, so this package
depends on a contract rather than on the database package's internals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from forexbot.api.login_failures import LoginFailures
from forexbot.api.mfa import Mfa
from forexbot.api.routes.metrics import MetricsSource
from forexbot.api.tokens import TokenSubject
from forexbot.audit import AuditLog
from forexbot.clock import Clock, RealtimeClock
from forexbot.database.api_keys import ApiKeyRecord, KeyIdentity
from forexbot.database.backup import BackupFile
from forexbot.database.refresh_tokens import IssuedRefreshToken
from forexbot.domain.market import Timeframe
from forexbot.domain.trades import TradeRecord, TransitionRecord
from forexbot.domain.trading import AccountState, ManualOrder
from forexbot.events.bus import EventBus
from forexbot.notifications.alerts import AlertLevel, AlertType
from forexbot.notifications.store import PushSubscription


class PositionQuery(Protocol):
    """The trading engine's open positions."""

    async def open_positions(self) -> list[dict[str, Any]]:
        """The open positions, as JSON-ready dicts."""
        ...


class StatusProvider(Protocol):
    """The daemon's state, for ``/api/system/status`` and ``/api/health``."""

    async def status(self) -> dict[str, Any]:
        """Mode, connection state, account balance/equity, uptime, strategies...; JSON-ready."""
        ...

    def is_healthy(self) -> tuple[bool, dict[str, Any]]:
        """Whether the daemon is healthy, and JSON-ready details.

        Must be cheap and non-blocking (load balancers and systemd poll it), and the details
        must contain nothing sensitive: ``/api/health`` is served without authentication.
        """
        ...


class StrategyPort(Protocol):
    """The strategy manager and market condition detector, as the API reads and tunes them.

    The API never holds strategy state itself: it asks this object and shows what it answers,
    so what the dashboard displays is what the engine runs. Every dict returned is JSON-ready.

    A strategy is identified by ``"<strategy>:<symbol>:<timeframe>"`` (e.g.
    ``"ma_rsi:EURUSD:M15"``); symbols may contain spaces (``"Volatility 75 Index"``) but not
    ``/``, which would split the URL path.
    """

    def list_strategies(self) -> list[dict[str, Any]]:
        """Every strategy instance: at least ``id``, ``strategy``, ``symbol``, ``timeframe``,
        ``enabled``, ``params`` with ``parameter_schema`` (their JSON Schema),
        ``risk_multiplier`` and its counters."""
        ...

    def get_strategy(self, strategy_id: str) -> dict[str, Any] | None:
        """One strategy instance as in :meth:`list_strategies`, or ``None`` if unknown."""
        ...

    async def update_strategy(
        self,
        strategy_id: str,
        *,
        params: dict[str, Any] | None,
        risk_multiplier: float | None,
        enabled: bool | None,
        actor: str,
        management: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Apply the given changes (``None`` leaves a field as it is) and return the result.

        ``management`` holds break-even/trailing-stop settings to change (merged into the
        instance's current ones).

        All or nothing: raises :class:`~forexbot.errors.NotFoundError` for an unknown id and
        :class:`~forexbot.errors.InvalidInputError` (naming the parameter and what is allowed)
        for an invalid value, in which case nothing is changed. ``actor`` is the user, for the
        manager's own records (e.g. ``strategy_config.updated_by``).
        """
        ...

    async def toggle_strategy(self, strategy_id: str, *, actor: str) -> dict[str, Any]:
        """Flip ``enabled`` and return the result; :class:`NotFoundError` for an unknown id."""
        ...

    def market_conditions(self) -> list[dict[str, Any]]:
        """The latest market condition per symbol and timeframe."""
        ...

    def market_analysis(self, symbol: str) -> dict[str, Any] | None:
        """Indicator values, levels and condition for ``symbol``; ``None`` if it is not watched."""
        ...


class MarketPort(Protocol):
    """The watched symbols, their quotes and bars (``forexbot.connectors.market_query``).

    Every dict returned is JSON-ready. Symbols are those of the watchlist; the routes answer
    404 for any other before asking.
    """

    def watches(self, symbol: str) -> bool:
        """Whether ``symbol`` is on the watchlist."""
        ...

    def watchlist(self) -> Sequence[str]:
        """The watched symbols, in watchlist order."""
        ...

    async def symbols(self) -> list[dict[str, Any]]:
        """Every watched symbol with its trading specification, in watchlist order."""
        ...

    def quote(self, symbol: str) -> dict[str, Any] | None:
        """``{"symbol", "bid", "ask", "spread", "time"}`` of the last tick, ``None`` before the
        first; raises :class:`~forexbot.errors.TerminalError` when the terminal is not
        connected (the quote would be stale)."""
        ...

    async def stored_bars(
        self,
        symbol: str,
        timeframe: Timeframe,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int,
    ) -> dict[str, Any]:
        """The newest ``limit`` bars of ``market_data`` opening in ``[start, end)``, oldest
        first: ``{"from", "to", "truncated", "items"}``."""
        ...

    async def terminal_bars(
        self,
        symbol: str,
        timeframe: Timeframe,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int,
    ) -> dict[str, Any]:
        """As :meth:`stored_bars`, from the terminal; raises
        :class:`~forexbot.errors.TerminalError` when it does not answer."""
        ...


class TradingActions(Protocol):
    """The trading engine's actions (``forexbot.engine.control.TradingControl``).

    Refusals are exceptions of their kind, which the error middleware maps to statuses:
    :class:`~forexbot.errors.RiskRejection` (with the risk code),
    :class:`~forexbot.errors.InvalidInputError`, :class:`~forexbot.errors.NotFoundError`,
    :class:`~forexbot.errors.StateConflictError`, :class:`~forexbot.errors.OrderRefusedError`,
    :class:`~forexbot.errors.OutcomeUnknownError` and
    :class:`~forexbot.errors.ShuttingDownError`.
    Trades come back as records (the routes serialise them); every dict returned is
    JSON-ready.
    """

    async def open_trade(self, order: ManualOrder, *, actor: str) -> TradeRecord: ...

    async def close_trade(
        self, trade_id: int, *, volume: float | None, actor: str
    ) -> TradeRecord: ...

    async def modify_trade(
        self, trade_id: int, *, sl: float | None, tp: float | None, actor: str
    ) -> TradeRecord: ...

    async def close_position(
        self, ticket: int, *, volume: float | None, actor: str
    ) -> TradeRecord: ...

    async def modify_position(
        self, ticket: int, *, sl: float | None, tp: float | None, actor: str
    ) -> TradeRecord: ...

    async def trade_history(self, trade_id: int) -> list[TransitionRecord] | None: ...

    def risk_state(self) -> dict[str, Any]: ...

    async def update_risk_limits(
        self, changes: dict[str, Any], *, actor: str
    ) -> dict[str, Any]: ...

    async def trip_kill_switch(self, reason: str, *, actor: str) -> dict[str, Any]: ...

    async def resume_trading(self, *, actor: str) -> dict[str, Any]: ...


class BacktestService(Protocol):
    """Backtests of strategy instances as background jobs
    (:class:`forexbot.backtest.service.DaemonBacktests`)."""

    async def start(
        self, strategy_id: str, request: Mapping[str, Any], *, owner: str
    ) -> dict[str, Any]:
        """Queue a backtest and return the job; raises :class:`~forexbot.errors.NotFoundError`,
        :class:`~forexbot.errors.InvalidInputError` (a request refused) or
        :class:`~forexbot.backtest.jobs.TooManyJobs`."""
        ...

    def job(self, job_id: str) -> dict[str, Any] | None: ...

    def jobs(self) -> list[dict[str, Any]]: ...

    def report(self, job_id: str) -> str | None: ...


class LoginUser(TokenSubject, Protocol):
    """The fields of a user record the login route reads: the user a token is issued for,
    and what decides whether they may sign in."""

    @property
    def password_hash(self) -> str: ...

    @property
    def is_active(self) -> bool: ...

    @property
    def locked_until(self) -> datetime | None: ...

    @property
    def totp_secret(self) -> str | None: ...


class SystemSettingsControl(Protocol):
    """The configuration in force and its live changes
    (:class:`forexbot.daemon.system_settings.SystemSettings`)."""

    def describe(self) -> dict[str, Any]:
        """``{"settings", "overridden", "live"}``, JSON-ready, without secrets."""
        ...

    async def update(self, changes: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
        """Validate, store and apply ``{section: {key: value}}``, and :meth:`describe`;
        raises :class:`~forexbot.daemon.system_settings.SettingsRefused` and changes nothing."""
        ...


class RestartControl(Protocol):
    """Graceful restarts of the daemon (:class:`forexbot.daemon.restart.RestartSwitch`)."""

    def request_restart(self, *, actor: str) -> dict[str, Any]:
        """Start the stop and return ``{"status", "mode", "exit_code"}``; raises
        :class:`~forexbot.daemon.restart.RestartRefused` when one is pending or the daemon stops."""
        ...


class BackupMaker(Protocol):
    """``forexbot.database.backup.Backups``."""

    def list(self) -> list[BackupFile]: ...

    async def create(self) -> tuple[BackupFile, float]: ...


class PerformanceSource(Protocol):
    """``forexbot.monitoring.performance.PerformanceBook``."""

    async def compute(self, period: str) -> dict[str, Any]: ...

    def trading_day(self, at: float) -> str:
        """The broker's day at ``at`` (UTC epoch seconds): the periods roll over with it."""
        ...


#: The periods :meth:`PerformanceSource.compute` knows.


class AccountView(Protocol):
    """The position manager's account as of its last sync (``forexbot.engine.positions``)."""

    @property
    def account(self) -> AccountState | None: ...


class EquitySource(Protocol):
    """``forexbot.monitoring.equity_history.EquityHistory``: the equity curves."""

    async def curve(self, range_: Literal["day", "month"]) -> dict[str, Any]:
        """``{"range", "currency", "start", "end", "day_start_equity", "today_pnl",
        "points"}``, JSON-ready."""
        ...


class ApiKeyStore(Protocol):
    """``forexbot.database.api_keys.ApiKeyRepository``."""

    async def create(
        self, user_id: int, name: str, scope: str, expires_at: datetime | None = None
    ) -> tuple[str, ApiKeyRecord]: ...

    async def verify(self, key: str) -> KeyIdentity | None: ...

    async def list(self, user_id: int | None = None) -> list[ApiKeyRecord]: ...

    async def get(self, key_id: int) -> ApiKeyRecord | None: ...

    async def revoke(self, key_id: int) -> ApiKeyRecord: ...

    async def revoke_for_user(self, user_id: int, *, above: str | None = None) -> Sequence[int]:
        """Revoke the user's live keys (only those scoped above the role ``above``); ids."""
        ...


class RefreshTokenStore(Protocol):
    """``forexbot.database.refresh_tokens.RefreshTokenRepository``: refresh tokens with
    rotation and reuse detection."""

    async def issue(self, user_id: int, *, source_ip: str | None = None) -> IssuedRefreshToken: ...

    async def rotate(self, token: str, *, source_ip: str | None = None) -> IssuedRefreshToken:
        """The next token of the family; raises ``RefreshTokenInvalid`` or
        ``RefreshTokenReused`` (the family is then revoked)."""
        ...

    async def family_of(self, token: str) -> tuple[int, str] | None: ...

    async def revoke_family(self, family: str, reason: str) -> int: ...

    async def revoked_since(self, since: datetime) -> dict[str, datetime]: ...

    async def revoke_user(self, user_id: int, reason: str) -> list[str]: ...


class ApiUser(LoginUser, Protocol):
    """A user record as the users routes show it (``UserRecord``)."""

    @property
    def mfa_enrolled(self) -> bool: ...

    def to_api(self) -> dict[str, Any]:
        """JSON-ready, without the password hash or the TOTP secret."""
        ...


class UserStore(Protocol):
    """``forexbot.database.users.UserRepository`` as the API uses it."""

    async def get_by_username(self, username: str) -> LoginUser | None: ...

    async def get(self, user_id: int) -> ApiUser | None: ...

    async def list(self) -> Sequence[ApiUser]:
        """Every user, by id."""
        ...

    async def create(self, username: str, password_hash: str, role: str) -> ApiUser:
        """An active user; raises ``DuplicateUser`` when the name is taken in any case."""
        ...

    async def set_access(
        self, user_id: int, *, role: str | None = None, is_active: bool | None = None
    ) -> tuple[ApiUser, ApiUser]:
        """Change role/active (``None``: unchanged): the user (before, after); raises
        ``NotFoundError`` and ``LastActiveAdmin`` (no active admin would remain)."""
        ...

    async def set_password(self, user_id: int, password_hash: str) -> object: ...

    async def record_login_success(self, user_id: int) -> object: ...

    async def record_login_failure(
        self, user_id: int, *, lock_after: int | None = None, lock_for: timedelta | None = None
    ) -> object:
        """Count a failure; from ``lock_after`` consecutive ones, lock the account ``lock_for``."""
        ...


class ApiTrade(Protocol):
    """A trade record that knows its API representation."""

    def to_api(self) -> dict[str, Any]: ...


class TradeHistory(Protocol):
    """``forexbot.database.trades.TradeRepository`` as the API uses it."""

    async def get(self, trade_id: int) -> ApiTrade | None: ...

    async def list(
        self,
        *,
        limit: int,
        offset: int,
        symbol: str | None = None,
        status: str | None = None,
        strategy: str | None = None,
        opened_from: datetime | None = None,
        opened_to: datetime | None = None,
    ) -> tuple[Sequence[ApiTrade], int]:
        """One page of trades, newest first, and the total matching the filter."""
        ...


class NotificationPort(Protocol):
    """Web Push alerts (:class:`forexbot.notifications.notifier.Notifier`): the key browsers
    subscribe with, and one user's devices and preferences."""

    @property
    def vapid_public_key(self) -> str: ...

    async def add_device(
        self, user_id: int, endpoint: str, p256dh: str, auth: str, device: str | None
    ) -> PushSubscription:
        """Store the subscription; raises :class:`ValueError` when the endpoint is not an
        allowed push service, :class:`~forexbot.errors.StateConflictError` when the user has
        too many."""
        ...

    async def devices(self, user_id: int) -> list[PushSubscription]: ...

    async def remove_device(self, user_id: int, subscription_id: int) -> bool:
        """Remove ``user_id``'s subscription; whether there was one."""
        ...

    async def preferences(self, user_id: int) -> dict[AlertType, AlertLevel]: ...

    async def set_preferences(
        self, user_id: int, changes: dict[AlertType, AlertLevel]
    ) -> dict[AlertType, AlertLevel]: ...


#: ``forexbot.database.system_logs.SystemLogRepository``: the audit trail.
SystemLogStore = AuditLog


@dataclass(frozen=True, slots=True)
class ApiServices:
    """The API's collaborators.

    Two clocks, on purpose: ``clock`` is the trading clock (simulated time in paper trading,
    possibly hundreds of times faster than real time), for anything that speaks of market
    time; ``wall_clock`` is real time and times token expiry and account lock-outs, which must
    not speed up with the simulation. Tests pass a :class:`~forexbot.clock.ManualClock` as
    ``wall_clock`` to expire tokens without sleeping.

    ``metrics``, ``strategies``, ``trading``, ``market`` (and the others defaulting to
    ``None``) are optional so the API can run (and be tested) without the parts of the daemon
    behind them; their routes are registered only when they are given. ``account`` (the
    position manager) gives ``/ws/performance`` its account figures; without it, and without
    ``performance``, those parts of the snapshots are null.
    """

    users: UserStore
    trades: TradeHistory
    system_logs: SystemLogStore
    positions: PositionQuery
    status: StatusProvider
    bus: EventBus
    clock: Clock
    wall_clock: Clock = field(default_factory=RealtimeClock)
    metrics: MetricsSource | None = None
    strategies: StrategyPort | None = None
    trading: TradingActions | None = None
    backtests: BacktestService | None = None
    refresh_tokens: RefreshTokenStore | None = None
    api_keys: ApiKeyStore | None = None
    mfa: Mfa | None = None
    performance: PerformanceSource | None = None
    backups: BackupMaker | None = None
    system_settings: SystemSettingsControl | None = None
    restart: RestartControl | None = None
    account: AccountView | None = None
    market: MarketPort | None = None
    notifications: NotificationPort | None = None
    equity: EquitySource | None = None
    login_failures: LoginFailures = field(default_factory=LoginFailures)

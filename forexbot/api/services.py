"""What the API needs from the rest of the daemon, and its settings.

The API owns no state of its own: it reads users, trades and logs through repositories, asks
the trading engine for positions and status through the two Protocols below, and listens to
the event bus for its WebSocket channels. The composition root passes all of them in an
:class:`ApiServices`; tests pass small in-test implementations of :class:`PositionQuery`,
:class:`StatusProvider` and :class:`StrategyControl`.

The repository Protocols (:class:`UserStore`, :class:`TradeStore`, :class:`SystemLogStore`)
describe the subset of ``forexbot.database``'s repositories the API calls, so this package
depends on a contract rather than on the database package's internals.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from forexbot.api.login_failures import LoginFailures
from forexbot.api.mfa import Mfa
from forexbot.api.routes.metrics import MetricsSource
from forexbot.api.tokens import MIN_SECRET_LENGTH
from forexbot.audit import AuditLog
from forexbot.clock import Clock, RealtimeClock
from forexbot.database.api_keys import ApiKeyRecord, KeyIdentity
from forexbot.database.backup import BackupFile
from forexbot.database.refresh_tokens import IssuedRefreshToken
from forexbot.domain.market import Timeframe
from forexbot.domain.trading import AccountState, ManualOrder
from forexbot.errors import ConfigError
from forexbot.events.bus import EventBus


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


class StrategyControl(Protocol):
    """The strategy manager and market condition detector, as the API reads and tunes them.

    The API never holds strategy state itself: it asks this object and shows what it answers,
    so what the dashboard displays is what the engine runs. Every dict returned is JSON-ready.

    A strategy is identified by ``"<strategy>:<symbol>:<timeframe>"`` (e.g.
    ``"ma_rsi:EURUSD:M15"``); symbols may contain spaces (``"Volatility 75 Index"``) but not
    ``/``, which would split the URL path.
    """

    def list_strategies(self) -> list[dict[str, Any]]:
        """Every strategy instance: at least ``id``, ``strategy``, ``symbol``, ``timeframe``,
        ``enabled``, ``params``, ``risk_multiplier`` and its counters."""
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
        :class:`~forexbot.errors.ConfigError` (naming the parameter and what is allowed) for
        an invalid value, in which case nothing is changed. ``actor`` is the user, for the
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


class MarketQuery(Protocol):
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

    Refusals are exceptions the routes map to statuses:
    :class:`~forexbot.errors.RiskRejection` (422 with the risk code) and
    :class:`~forexbot.errors.TradeActionError` (its own status and code).
    Every dict returned is JSON-ready; trades are in ``TradeRecord.to_api()`` form.
    """

    async def open_trade(self, order: ManualOrder, *, actor: str) -> dict[str, Any]: ...

    async def close_trade(
        self, trade_id: int, *, volume: float | None, actor: str
    ) -> dict[str, Any]: ...

    async def modify_trade(
        self, trade_id: int, *, sl: float | None, tp: float | None, actor: str
    ) -> dict[str, Any]: ...

    async def close_position(
        self, ticket: int, *, volume: float | None, actor: str
    ) -> dict[str, Any]: ...

    async def modify_position(
        self, ticket: int, *, sl: float | None, tp: float | None, actor: str
    ) -> dict[str, Any]: ...

    async def trade_history(self, trade_id: int) -> list[dict[str, Any]] | None: ...

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
        :class:`~forexbot.errors.ConfigError` (a request refused) or
        :class:`~forexbot.backtest.jobs.TooManyJobs`."""
        ...

    def job(self, job_id: str) -> dict[str, Any] | None: ...

    def jobs(self) -> list[dict[str, Any]]: ...

    def report(self, job_id: str) -> str | None: ...


class LoginUser(Protocol):
    """The fields of a user record the login route reads."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...

    @property
    def password_hash(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def is_active(self) -> bool: ...

    @property
    def locked_until(self) -> datetime | None: ...

    @property
    def totp_secret(self) -> str | None: ...


class SystemSettingsControl(Protocol):
    """The configuration in force and its live changes
    (:class:`forexbot.system_settings.SystemSettings`)."""

    def describe(self) -> dict[str, Any]:
        """``{"settings", "overridden", "live"}``, JSON-ready, without secrets."""
        ...

    async def update(self, changes: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
        """Validate, store and apply ``{section: {key: value}}``, and :meth:`describe`;
        raises :class:`~forexbot.system_settings.SettingsRefused` and changes nothing."""
        ...


class RestartControl(Protocol):
    """Graceful restarts of the daemon (:class:`forexbot.restart.RestartSwitch`)."""

    def request_restart(self, *, actor: str) -> dict[str, Any]:
        """Start the stop and return ``{"status", "mode", "exit_code"}``; raises
        :class:`~forexbot.restart.RestartRefused` when one is pending or the daemon stops."""
        ...


class BackupMaker(Protocol):
    """``forexbot.database.backup.Backups``."""

    def list(self) -> list[BackupFile]: ...

    async def create(self) -> tuple[BackupFile, float]: ...


class PerformanceSource(Protocol):
    """``forexbot.monitoring.performance.PerformanceBook``."""

    async def compute(self, period: str) -> dict[str, Any]: ...


#: The periods :meth:`PerformanceSource.compute` knows.
PERFORMANCE_PERIODS = ("daily", "weekly", "monthly", "all")


class AccountView(Protocol):
    """The position manager's account as of its last sync (``forexbot.engine.positions``)."""

    @property
    def account(self) -> AccountState | None: ...


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


class TradeStore(Protocol):
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
    trades: TradeStore
    system_logs: SystemLogStore
    positions: PositionQuery
    status: StatusProvider
    bus: EventBus
    clock: Clock
    wall_clock: Clock = field(default_factory=RealtimeClock)
    metrics: MetricsSource | None = None
    strategies: StrategyControl | None = None
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
    market: MarketQuery | None = None
    login_failures: LoginFailures = field(default_factory=LoginFailures)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    """How the API listens and what it tolerates (keyword-only; checked on construction).

    * ``host``/``port``: where to listen; loopback by default (put a TLS reverse proxy in front
      to expose it). Port 0 picks a free port (see ``ApiServer.bound_port``).
    * ``jwt_secret``: HS256 key, at least 32 characters; never shown in ``repr``.
    * ``max_body_bytes``: larger request bodies get 413.
    * ``cors_allow_origins``: browser origins allowed to call the API (exact match, e.g.
      ``https://dash.example.com``); empty means same-origin only.
    * ``shutdown_timeout_seconds``: how long ``ApiServer.stop`` waits for in-flight requests.
    * ``ws_heartbeat_seconds``: ping interval; a client not answering is disconnected.
    * ``ws_close_timeout_seconds``: how long a close handshake may take before the connection
      is dropped.
    * ``ws_max_clients``: connections beyond it get 503 (each client costs a task and a queue).
    * ``ws_queue_size``: per-client quotes buffered before coalescing to the latest per symbol.
    * ``ws_trade_backlog``: trade messages a client may have pending before it is disconnected
      (trades are never dropped, so a client that cannot keep up must reconnect and reload).
    * ``ws_max_message_bytes``: largest message a client may send (only small control
      messages are expected).
    * ``ws_expiry_check_seconds``: how often WebSockets opened with an access token that has
      expired since are closed (1008), so the client reconnects with a fresh token.
    * ``ws_performance_interval_seconds``: how often ``/ws/performance`` sends fresh account
      figures (it also sends after every closed trade); ``ws_performance_periods``: the
      performance periods its snapshots hold.
    * ``ws_status_interval_seconds``: how often ``/ws/system`` sends the status snapshot.
    * ``login_lock_after``/``login_lock_seconds``: after that many consecutive wrong
      passwords an account is locked for that long (slows down password guessing).
    * ``ip_rate_per_second``/``ip_burst``, ``user_rate_per_second``/``user_burst``: token
      buckets per source address and per user (:mod:`forexbot.api.ratelimit`);
      ``login_attempts_per_minute``: logins per source address (the burst is one minute's).
    * ``refresh_token_ttl_seconds``: how long a session lasts without a new login.
    * ``admin_networks``: when set, admin-only routes answer only these addresses/CIDRs.
    * ``tls_certificate``/``tls_key``: PEM files; when set the API speaks HTTPS itself.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    jwt_secret: str = field(repr=False)
    jwt_previous_secrets: tuple[str, ...] = field(default=(), repr=False)
    access_token_ttl_seconds: int = 3600
    refresh_token_ttl_seconds: int = 30 * 86_400
    max_body_bytes: int = 1024 * 1024
    cors_allow_origins: tuple[str, ...] = ()
    shutdown_timeout_seconds: float = 5.0
    ws_heartbeat_seconds: float = 20.0
    ws_close_timeout_seconds: float = 2.0
    ws_max_clients: int = 200
    ws_queue_size: int = 256
    ws_trade_backlog: int = 1000
    ws_max_message_bytes: int = 16 * 1024
    ws_expiry_check_seconds: float = 5.0
    ws_performance_interval_seconds: float = 5.0
    ws_performance_periods: tuple[str, ...] = PERFORMANCE_PERIODS
    ws_status_interval_seconds: float = 15.0
    login_lock_after: int = 5
    login_lock_seconds: int = 900
    ip_rate_per_second: float = 50.0
    ip_burst: int = 200
    user_rate_per_second: float = 20.0
    user_burst: int = 100
    login_attempts_per_minute: float = 10.0
    admin_networks: tuple[str, ...] = ()
    tls_certificate: str | None = None
    tls_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.jwt_secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"api.jwt_secret must be at least {MIN_SECRET_LENGTH} characters, "
                f"got {len(self.jwt_secret)}"
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"api.port must be in 0..65535, got {self.port}")
        positive: Mapping[str, float] = {
            "access_token_ttl_seconds": self.access_token_ttl_seconds,
            "refresh_token_ttl_seconds": self.refresh_token_ttl_seconds,
            "max_body_bytes": self.max_body_bytes,
            "shutdown_timeout_seconds": self.shutdown_timeout_seconds,
            "ws_heartbeat_seconds": self.ws_heartbeat_seconds,
            "ws_close_timeout_seconds": self.ws_close_timeout_seconds,
            "ws_max_clients": self.ws_max_clients,
            "ws_queue_size": self.ws_queue_size,
            "ws_trade_backlog": self.ws_trade_backlog,
            "ws_max_message_bytes": self.ws_max_message_bytes,
            "ws_expiry_check_seconds": self.ws_expiry_check_seconds,
            "ws_performance_interval_seconds": self.ws_performance_interval_seconds,
            "ws_status_interval_seconds": self.ws_status_interval_seconds,
            "login_lock_after": self.login_lock_after,
            "login_lock_seconds": self.login_lock_seconds,
            "ip_rate_per_second": self.ip_rate_per_second,
            "ip_burst": self.ip_burst,
            "user_rate_per_second": self.user_rate_per_second,
            "user_burst": self.user_burst,
            "login_attempts_per_minute": self.login_attempts_per_minute,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ConfigError(f"api.{name} must be > 0, got {value}")
        periods = self.ws_performance_periods
        if (
            not periods
            or len(set(periods)) != len(periods)
            or not set(periods) <= set(PERFORMANCE_PERIODS)
        ):
            raise ConfigError(
                f"api.ws_performance_periods must be distinct values among "
                f"{', '.join(PERFORMANCE_PERIODS)}, got {list(periods)!r}"
            )
        for network in self.admin_networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ConfigError(
                    f"api.admin_networks entries must be addresses or CIDRs such as "
                    f"'10.0.0.0/8', got {network!r}"
                ) from None
        if (self.tls_certificate is None) != (self.tls_key is None):
            raise ConfigError("api.tls_certificate and api.tls_key go together")
        for origin in self.cors_allow_origins:
            if origin == "*" or "://" not in origin:
                raise ConfigError(
                    f"api.cors_allow_origins entries must be full origins such as "
                    f"'https://dash.example.com', got {origin!r}"
                )

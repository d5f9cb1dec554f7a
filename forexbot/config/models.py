"""The configuration's models: every section, its defaults and its validation rules (the
files and the environment that fill them are :mod:`forexbot.config.loader`'s business)."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from forexbot.domain.market import Timeframe
from forexbot.notifications.endpoints import BROWSER_PUSH_HOSTS

ENV_PREFIX = "FOREXBOT_"
DEFAULT_CONFIG_FILE = Path("config/forexbot.yaml")
DEFAULT_RISK_FILE = Path("config/risk_config.yaml")


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?")
_LABEL = r"[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SimFaultSettings(_Section):
    """Faults the simulated terminal injects, for recovery drills in paper trading.

    All off by default. ``order_reply_delay_seconds`` makes every ``order_send`` execute at
    once but answer late (a slow broker confirmation): a crash or a timeout in that window is
    the case reconciliation exists for.
    """

    requote_probability: float = Field(0.0, ge=0, le=1)
    reject_probability: float = Field(0.0, ge=0, le=1)
    order_reply_delay_seconds: float = Field(0.0, ge=0, le=600)
    seed: int = 0


class TerminalSettings(_Section):
    """Which MetaTrader 5 terminal to talk to, and how.

    ``simulator``: the built-in simulated terminal. ``native``: the ``MetaTrader5`` module
    (Windows, or Python under Wine). ``bridge``: a ``forexbot bridge-server`` (or, with
    ``bridge_classic``, an mt5linux classic server) reached over rpyc. Passwords and the
    bridge secret come from the environment (``FOREXBOT_MT5_PASSWORD``,
    ``FOREXBOT_BRIDGE_SECRET``), never from this file.

    ``sim_start`` starts the simulated clock at a fixed UTC time instead of now (a time
    without a zone is UTC), so a paper session or a test sees the same market whatever the
    day it runs: forex does not tick at weekends. A paper account that stopped later resumes
    where it stopped, as without it: its time never runs backwards.
    """

    backend: Literal["simulator", "native", "bridge"] = "simulator"
    path: str | None = None
    login: int | None = Field(None, ge=1)
    server: str | None = None
    bridge_host: str = "127.0.0.1"
    bridge_port: int = Field(18812, ge=1, le=65535)
    bridge_classic: bool = False
    health_interval_seconds: float = Field(5.0, gt=0, le=3600)
    call_timeout_seconds: float = Field(10.0, gt=0, le=300)
    poll_interval_ms: int = Field(100, ge=10, le=10_000)
    magic: int = Field(2_026_001, ge=1, le=2**31 - 1)
    sim_speed: float = Field(1.0, gt=0, le=100_000)
    sim_start: datetime | None = None
    sim_seed: int | None = None
    sim_balance: float = Field(10_000.0, gt=0)
    sim_leverage: int = Field(100, ge=1, le=3000)
    sim_currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    sim_hedging: bool = True
    sim_faults: SimFaultSettings = SimFaultSettings()

    @field_validator("sim_start")
    @classmethod
    def _utc_start(cls, value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


StrategyName = Literal["ma_rsi", "stochastic_cross", "break_and_retest", "jhook", "sma_cross"]


class StrategySettings(_Section):
    """The strategy run on every watched symbol when no strategies file is in force.

    ``file`` names the strategies file (``config/strategies.yaml``, relative to the working
    directory); when it exists, its ``instances`` run instead, and setting ``name``,
    ``timeframe`` or ``params`` as well is refused. ``null`` means no strategies file. Rules:
    :func:`forexbot.config.loader.load_strategy_instances`.
    """

    name: StrategyName = "ma_rsi"
    timeframe: str = "M15"
    params: dict[str, Any] = Field(default_factory=dict)
    file: str | None = "config/strategies.yaml"

    @field_validator("timeframe")
    @classmethod
    def _known_timeframe(cls, value: str) -> str:
        return Timeframe.parse(value).name


class TradeManagement(_Section):
    """How the position manager moves a trade's stop-loss once the trade is in profit.

    Distances are in R, the trade's initial risk (the distance from entry to its first
    stop-loss), so one setting fits every symbol:

    * ``break_even_at_r``: once the price has moved this many R in the trade's favour, the
      stop goes to the entry price plus ``break_even_offset_points`` (covering costs);
    * ``trailing_start_r``: from this many R in profit, the stop trails the best price at
      ``trailing_distance_r`` behind it.

    Both off (``null``) by default. The stop only ever moves in the trade's favour, and never
    closer to the market than the symbol's stops level.
    """

    break_even_at_r: float | None = Field(None, gt=0, le=100)
    break_even_offset_points: int = Field(0, ge=0, le=100_000)
    trailing_start_r: float | None = Field(None, gt=0, le=100)
    trailing_distance_r: float = Field(1.0, gt=0, le=100)

    @property
    def active(self) -> bool:
        return self.break_even_at_r is not None or self.trailing_start_r is not None


class StrategyInstanceSettings(_Section):
    """One entry of the strategies file: a strategy on some symbols and one timeframe."""

    strategy: StrategyName
    symbols: tuple[str, ...] | None = None  # None: the whole watchlist
    timeframe: str = "M15"
    params: dict[str, Any] = Field(default_factory=dict)
    risk_multiplier: float = Field(1.0, gt=0, le=10)
    # Fixed lots per trade instead of risk sizing (still checked against risk_per_trade).
    volume: float | None = Field(None, gt=0, le=1000)
    enabled: bool = True
    management: TradeManagement = TradeManagement()

    @field_validator("timeframe")
    @classmethod
    def _known_timeframe(cls, value: str) -> str:
        return Timeframe.parse(value).name


class StrategiesFile(_Section):
    """``config/strategies.yaml``."""

    instances: tuple[StrategyInstanceSettings, ...]


SessionName = Literal["Sydney", "Tokyo", "London", "New York"]
LiquidityName = Literal["thin", "normal", "deep"]
VolatilityName = Literal["low", "normal", "high"]


class RiskSettings(_Section):
    """Limits the risk manager enforces on every order (``config/risk_config.yaml``).

    Percentages are of the account's equity unless said otherwise. The whole model can be
    replaced at run time (``PUT /api/risk/limits``); what is stored there wins over the file.
    """

    risk_per_trade_percent: float = Field(1.0, gt=0, le=10)
    max_open_positions: int = Field(5, ge=1, le=500)
    max_positions_per_symbol: int = Field(1, ge=1, le=50)
    # Net exposure to one currency (EUR long through EURUSD and EURGBP counts together), as
    # the notional in account currency; 3000 % is 30:1, the EU retail cap for majors.
    max_exposure_per_currency_percent: float = Field(3000.0, gt=0, le=100_000)
    # Margin in use after the order, as a share of equity.
    max_margin_usage_percent: float = Field(50.0, gt=0, le=100)
    # The spread may be at most this share of the stop distance...
    max_spread_stop_percent: float = Field(30.0, gt=0, le=100)
    # ...and at most this many points on the symbols listed.
    max_spread_points: dict[str, int] = Field(default_factory=dict)
    # Loss over the trading day (broker server day) that stops new trades until the next day.
    max_daily_loss_percent: float = Field(5.0, gt=0, le=100)
    # Drop from the highest equity that trips the kill switch (close all, halt, resume by hand).
    max_drawdown_percent: float = Field(20.0, gt=0, le=100)
    # After this many losing trades in a row, no new trade for cooldown_minutes.
    cooldown_after_losses: int = Field(3, ge=1, le=1000)
    cooldown_minutes: float = Field(60.0, ge=0, le=7 * 24 * 60)
    # Trade only while one of these sessions is open (null: any time the market is open).
    allowed_sessions: tuple[SessionName, ...] | None = None
    blocked_liquidity: tuple[LiquidityName, ...] = ()
    blocked_volatility: tuple[VolatilityName, ...] = ()
    deviation_points: int = Field(20, ge=0, le=10_000)
    signal_grace_seconds: float = Field(120.0, gt=0, le=86_400)
    # A quote older than this is not traded on (a feed that stalled).
    max_quote_age_seconds: float = Field(120.0, gt=0, le=86_400)

    @field_validator("max_spread_points")
    @classmethod
    def _positive_spreads(cls, value: dict[str, int]) -> dict[str, int]:
        for symbol, points in value.items():
            if points <= 0:
                raise ValueError(f"max_spread_points[{symbol!r}] must be > 0, got {points}")
        return value


class ExecutionSettings(_Section):
    """How orders are sent and positions followed.

    * ``max_retries``: resends of an order the server answered with a retryable code
      (requote, price changed, no prices, server timeout, too many requests, no connection),
      each with a fresh price; fatal codes are never retried.
    * ``timeout_lookups``: after an ``order_send`` whose answer was lost, how many times the
      positions and the deal history are searched for the order (``timeout_lookup_ms``
      apart) before it counts as not executed.
    * ``sync_interval_seconds``: how often positions are compared with the terminal.
    """

    max_retries: int = Field(3, ge=0, le=20)
    retry_delay_ms: int = Field(200, ge=0, le=60_000)
    timeout_lookups: int = Field(5, ge=1, le=50)
    timeout_lookup_ms: int = Field(1000, ge=0, le=60_000)
    sync_interval_seconds: float = Field(1.0, ge=0.1, le=3600)


class BacktestSettings(_Section):
    """Backtests the daemon runs for the API (``POST /api/strategies/{id}/test``).

    * ``workers``: processes running them (one keeps a core free for live trading on a
      two-core VPS);
    * ``max_active``: backtests queued or running at once; more are refused (429).
    """

    workers: int = Field(1, ge=1, le=64)
    max_active: int = Field(4, ge=1, le=100)


class BackupSettings(_Section):
    """Database backups (``POST /api/system/backup``): how many files to keep."""

    keep: int = Field(7, ge=1, le=1000)


class DatabaseSettings(_Section):
    """Where trades are stored. No URL means the embedded PostgreSQL in the data directory."""

    pool_size: int = Field(5, ge=1, le=100)
    batch_interval_ms: int = Field(500, ge=10, le=60_000)


#: The periods ``/ws/performance`` snapshots can hold.
PerformancePeriod = Literal["daily", "weekly", "monthly", "all"]
PERFORMANCE_PERIODS: tuple[PerformancePeriod, ...] = ("daily", "weekly", "monthly", "all")


class ApiSettings(_Section):
    """The embedded REST/WebSocket server: where it listens and what it tolerates.

    The one model of these settings: the file, the environment and ``PUT /api/system/settings``
    validate with it, and the API runs with the validated object. The JWT signing keys are not
    settings (they come from the environment or the data directory): see
    :class:`~forexbot.api.tokens.JwtKeys`.
    """

    host: str = "127.0.0.1"
    # 0 picks a free port (``ApiServer.bound_port`` says which).
    port: int = Field(8080, ge=0, le=65535)
    access_token_ttl_seconds: int = Field(3600, ge=60, le=86_400)
    # How long a session lasts without a new login.
    refresh_token_ttl_seconds: int = Field(30 * 86_400, ge=300, le=365 * 86_400)
    # Larger request bodies get 413.
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    # Token buckets per source address and per user, and logins per source address a minute.
    # The floors keep an admin able to undo a change: no limit can lock the API.
    ip_rate_per_second: float = Field(50.0, ge=1, le=100_000)
    ip_burst: int = Field(200, ge=10, le=1_000_000)
    user_rate_per_second: float = Field(20.0, ge=1, le=100_000)
    user_burst: int = Field(100, ge=10, le=1_000_000)
    login_attempts_per_minute: float = Field(10.0, ge=1, le=10_000)
    # After this many consecutive wrong passwords an account is locked for that long.
    login_lock_after: int = Field(5, ge=1, le=1000)
    login_lock_seconds: int = Field(900, ge=1, le=30 * 86_400)
    # When set, admin-only routes answer only these addresses/CIDRs.
    admin_networks: tuple[str, ...] = ()
    # Browser origins allowed to call the API (CORS), exact: scheme://host[:port].
    cors_allow_origins: tuple[str, ...] = ()
    # PEM files; when set the API speaks HTTPS itself.
    tls_certificate: str | None = None
    tls_key: str | None = Field(None, repr=False, validate_default=True)
    # How long a stop waits for requests in flight.
    shutdown_timeout_seconds: float = Field(5.0, gt=0, le=300)
    # WebSockets: ping interval (a client not answering is disconnected), close handshake
    # limit, most clients (each costs a task and a queue), quotes buffered per client before
    # coalescing to the latest per symbol, trade messages pending before a client that cannot
    # keep up is disconnected (trades are never dropped), largest message a client may send,
    # how often connections opened with a since-expired access token are closed (1008).
    ws_heartbeat_seconds: float = Field(20.0, gt=0, le=3600)
    ws_close_timeout_seconds: float = Field(2.0, gt=0, le=60)
    ws_max_clients: int = Field(200, ge=1, le=100_000)
    ws_queue_size: int = Field(256, ge=1, le=100_000)
    ws_trade_backlog: int = Field(1000, ge=1, le=1_000_000)
    ws_max_message_bytes: int = Field(16 * 1024, ge=256, le=1_048_576)
    ws_expiry_check_seconds: float = Field(5.0, gt=0, le=3600)
    # /ws/performance sends fresh account figures this often (and after every closed trade),
    # with these periods; /ws/system its status snapshot.
    ws_performance_interval_seconds: float = Field(5.0, ge=0.5, le=3600)
    ws_performance_periods: tuple[PerformancePeriod, ...] = PERFORMANCE_PERIODS
    ws_status_interval_seconds: float = Field(15.0, ge=0.5, le=3600)
    # The phone app's files, served at /app/; None: the mobile/ directory of the source
    # checkout (forexbot.api.routes.app_shell).
    app_dir: str | None = Field(None, min_length=1)

    @field_validator("cors_allow_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port] exactly, e.g. "
                    "'https://dash.example.com' (no path, no trailing slash, no wildcard)"
                )
        return value

    @field_validator("admin_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(
                    f"{network!r} is not an address or a CIDR such as '10.0.0.0/8'"
                ) from None
        return value

    @field_validator("ws_performance_periods")
    @classmethod
    def _periods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"list distinct periods among {', '.join(PERFORMANCE_PERIODS)}")
        return value

    @field_validator("tls_key")
    @classmethod
    def _tls_pair(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (info.data.get("tls_certificate") is None) != (value is None):
            raise ValueError("api.tls_certificate and api.tls_key go together")
        return value


class NotificationSettings(_Section):
    """Web Push alerts: which push services subscriptions may point at.

    Any signed-in user may subscribe a device, and the daemon then POSTs to its endpoint, so
    only push services' hosts are allowed (a host or any subdomain of one): the browsers' by
    default. See :mod:`forexbot.notifications.endpoints`.
    """

    push_hosts: tuple[str, ...] = BROWSER_PUSH_HOSTS
    # Plain-http push endpoints on this machine (127.0.0.1, ::1, localhost): for tests only.
    allow_loopback_push: bool = False

    @field_validator("push_hosts")
    @classmethod
    def _host_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        hosts = tuple(h.strip().rstrip(".").lower() for h in value)
        for host in hosts:
            if not _HOST_NAME.fullmatch(host) or "." not in host:
                raise ValueError(f"{host!r} is not a host name such as fcm.googleapis.com")
        return hosts


class LoggingSettings(_Section):
    """Log level and format (``auto``: JSON lines when stdout is not a terminal)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(_Section):
    """The whole configuration."""

    mode: Literal["paper", "live"] = "paper"
    watchlist: tuple[str, ...] = (
        "EURUSD",
        "GBPUSD",
        "USDJPY",
        "XAUUSD",
        "Volatility 75 Index",
    )
    terminal: TerminalSettings = TerminalSettings()
    strategy: StrategySettings = StrategySettings()
    risk_file: str | None = None
    risk: RiskSettings = RiskSettings()
    execution: ExecutionSettings = ExecutionSettings()
    backtest: BacktestSettings = BacktestSettings()
    backup: BackupSettings = BackupSettings()
    database: DatabaseSettings = DatabaseSettings()
    api: ApiSettings = ApiSettings()
    notifications: NotificationSettings = NotificationSettings()
    logging: LoggingSettings = LoggingSettings()

    @model_validator(mode="after")
    def _live_needs_a_real_terminal(self) -> Settings:
        if self.mode == "live" and self.terminal.backend == "simulator":
            raise ValueError(
                "mode 'live' needs terminal.backend 'native' or 'bridge'; the simulator is "
                "for paper trading"
            )
        return self

    @field_validator("watchlist")
    @classmethod
    def _non_empty_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("the watchlist needs at least one symbol")
        if len(set(value)) != len(value):
            raise ValueError("the watchlist lists a symbol twice")
        return value

"""The schema as SQLAlchemy Core tables: what the repositories query.

Alembic's migrations in ``migrations/versions`` own the real schema; these declarations must
match them exactly, and ``tests/database/test_migrations.py`` checks that autogenerate finds no
difference. Change both together (write the migration, then update this file).

Column type rules:

* **Money, trade prices and volumes are ``NUMERIC``** (unconstrained precision), read as
  ``Decimal``: what was written is what is summed, with no binary rounding.
* **``market_data`` prices are ``double precision``.** Bars come from MetaTrader as doubles and
  are consumed as float64 arrays (numpy, TA-Lib); a double column stores the terminal's value
  bit for bit, is half the size of a ``NUMERIC`` at these magnitudes and is decoded by asyncpg
  several times faster, which matters for backtests reading millions of bars. No arithmetic on
  money ever happens on bars.
* **Ratios and scores** (confidence, win rate, Sharpe…) are ``double precision``: they are
  statistics, not amounts.
* **Times are ``timestamptz``**, always written tz-aware (UTC).
* **Enumerations are ``text`` with a ``CHECK``**, not PostgreSQL enum types: adding a value to a
  ``CHECK`` is a one-statement migration that runs inside a transaction.

Constraint names follow :data:`NAMING_CONVENTION`, so a migration can drop or alter them by
a predictable name.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from forexbot.domain.trading import TradeStatus

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TRADE_SIDES = ("buy", "sell")
TRADE_STATUSES = tuple(status.value for status in TradeStatus)
METRIC_PERIODS = ("daily", "weekly", "monthly", "all")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
USER_ROLES = ("admin", "trader", "viewer")


def sql_in(column: str, values: Iterable[str]) -> str:
    """``column IN ('a', 'b')`` for a CHECK constraint (values are our own literals)."""
    listed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({listed})"


def _tstz(name: str, *, nullable: bool = True, now: bool = False) -> Column[object]:
    return Column(
        name,
        DateTime(timezone=True),
        nullable=nullable,
        server_default=func.now() if now else None,
    )


_EMPTY_JSONB = text("'{}'::jsonb")

metadata = MetaData(naming_convention=NAMING_CONVENTION)

trades = Table(
    "trades",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("client_order_id", Text, nullable=False),
    Column("strategy", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    # NULL for positions adopted by reconciliation: they had no signal, timeframe or reason.
    Column("timeframe", Text),
    Column("side", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'intent'")),
    Column("volume", Numeric, nullable=False),
    # Volume closed so far by partial closes; all of ``volume`` once the trade is closed.
    Column("closed_volume", Numeric, nullable=False, server_default=text("0")),
    Column("requested_price", Numeric),
    Column("entry_price", Numeric),
    Column("sl", Numeric),
    Column("tp", Numeric),
    Column("exit_price", Numeric),
    Column("profit", Numeric),
    Column("swap", Numeric),
    Column("commission", Numeric),
    Column("mt5_order", BigInteger),
    Column("mt5_position", BigInteger),
    _tstz("signal_time"),
    _tstz("open_time"),
    _tstz("close_time"),
    Column("close_reason", Text),
    Column("confidence", Double),
    Column("reason", Text),
    Column("market_condition", JSONB, nullable=False, server_default=_EMPTY_JSONB),
    Column("execution_details", JSONB, nullable=False, server_default=_EMPTY_JSONB),
    Column("reject_code", Integer),
    Column("reject_message", Text),
    _tstz("created_at", nullable=False, now=True),
    _tstz("updated_at", nullable=False, now=True),
    UniqueConstraint("client_order_id"),
    CheckConstraint(sql_in("side", TRADE_SIDES), name="side"),
    CheckConstraint(sql_in("status", TRADE_STATUSES), name="status"),
    CheckConstraint("volume > 0", name="volume_positive"),
    CheckConstraint("closed_volume >= 0 AND closed_volume <= volume", name="closed_volume_range"),
    CheckConstraint(
        "confidence IS NULL OR (confidence >= 0 AND confidence <= 1)", name="confidence_range"
    ),
)
Index("ix_trades_status", trades.c.status)
Index("ix_trades_symbol_open_time", trades.c.symbol, trades.c.open_time.desc())
Index("ix_trades_strategy", trades.c.strategy)
Index("ix_trades_created_at", trades.c.created_at.desc())
Index("ix_trades_mt5_position", trades.c.mt5_position)

trade_transitions = Table(
    "trade_transitions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("trade_id", BigInteger, ForeignKey("trades.id", ondelete="CASCADE"), nullable=False),
    Column("from_status", Text),  # NULL: the trade was created in ``to_status``
    Column("to_status", Text, nullable=False),
    _tstz("time", nullable=False, now=True),
    Column("details", JSONB, nullable=False, server_default=_EMPTY_JSONB),
    CheckConstraint(
        "from_status IS NULL OR " + sql_in("from_status", TRADE_STATUSES), name="from_status"
    ),
    CheckConstraint(sql_in("to_status", TRADE_STATUSES), name="to_status"),
)
Index("ix_trade_transitions_trade_id", trade_transitions.c.trade_id, trade_transitions.c.id)

performance_metrics = Table(
    "performance_metrics",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("period", Text, nullable=False),
    # For period 'all' the writer uses the epoch (1970-01-01T00:00Z): NOT NULL keeps the key simple.
    _tstz("period_start", nullable=False),
    Column("strategy", Text),  # NULL = all strategies
    Column("symbol", Text),  # NULL = all symbols
    Column("trades_count", Integer, nullable=False, server_default=text("0")),
    Column("wins", Integer, nullable=False, server_default=text("0")),
    Column("losses", Integer, nullable=False, server_default=text("0")),
    Column("win_rate", Double),
    Column("profit_factor", Double),  # NULL when there is no loss (the ratio is infinite)
    Column("expectancy", Numeric),
    Column("net_profit", Numeric, nullable=False, server_default=text("0")),
    Column("max_drawdown_pct", Double),
    Column("sharpe", Double),
    _tstz("computed_at", nullable=False, now=True),
    CheckConstraint(sql_in("period", METRIC_PERIODS), name="period"),
    CheckConstraint(
        "trades_count >= 0 AND wins >= 0 AND losses >= 0 AND wins + losses <= trades_count",
        name="counts",
    ),
    CheckConstraint("win_rate IS NULL OR (win_rate >= 0 AND win_rate <= 1)", name="win_rate"),
    # '' would collide with NULL ("all") in the unique key below.
    CheckConstraint("strategy IS NULL OR strategy <> ''", name="strategy_not_empty"),
    CheckConstraint("symbol IS NULL OR symbol <> ''", name="symbol_not_empty"),
)
# One row per (period, start, strategy, symbol) with NULL meaning "all". A plain UNIQUE would
# treat NULLs as distinct and let "all strategies" rows duplicate; NULLS NOT DISTINCT needs
# PostgreSQL 15, so the key uses COALESCE, which every supported server (and ON CONFLICT with
# the same expressions) understands.
Index(
    "uq_performance_metrics_key",
    performance_metrics.c.period,
    performance_metrics.c.period_start,
    func.coalesce(performance_metrics.c.strategy, text("''")),
    func.coalesce(performance_metrics.c.symbol, text("''")),
    unique=True,
)

market_data = Table(
    "market_data",
    metadata,
    Column("symbol", Text, nullable=False),
    Column("timeframe", Text, nullable=False),
    _tstz("time", nullable=False),
    Column("open", Double, nullable=False),
    Column("high", Double, nullable=False),
    Column("low", Double, nullable=False),
    Column("close", Double, nullable=False),
    Column("tick_volume", BigInteger, nullable=False, server_default=text("0")),
    Column("spread", Integer, nullable=False, server_default=text("0")),
    Column("real_volume", BigInteger, nullable=False, server_default=text("0")),
    # The key's order serves get_bars: one symbol and timeframe, a time range.
    PrimaryKeyConstraint("symbol", "timeframe", "time"),
)

system_config = Table(
    "system_config",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", JSONB, nullable=False),
    _tstz("updated_at", nullable=False, now=True),
    Column("updated_by", Text),
)

strategy_config = Table(
    "strategy_config",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("strategy", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("timeframe", Text, nullable=False),
    # A new row does not trade until someone enables it.
    Column("enabled", Boolean, nullable=False, server_default=text("false")),
    Column("params", JSONB, nullable=False, server_default=_EMPTY_JSONB),
    Column("risk_multiplier", Numeric, nullable=False, server_default=text("1")),
    _tstz("updated_at", nullable=False, now=True),
    Column("updated_by", Text),
    # Break-even and trailing-stop settings (``engine.management.TradeManagement``).
    Column("management", JSONB, nullable=False, server_default=_EMPTY_JSONB),
    UniqueConstraint("strategy", "symbol", "timeframe"),
    CheckConstraint("risk_multiplier >= 0", name="risk_multiplier_not_negative"),
)

system_logs = Table(
    "system_logs",
    metadata,
    Column("id", BigInteger, primary_key=True),
    _tstz("time", nullable=False, now=True),
    Column("level", Text, nullable=False),
    Column("component", Text, nullable=False),
    Column("event", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("context", JSONB, nullable=False, server_default=_EMPTY_JSONB),
    Column("actor", Text),  # who: a username, "system", a strategy name
    Column("source_ip", Text),
    CheckConstraint(sql_in("level", LOG_LEVELS), name="level"),
)
Index("ix_system_logs_time", system_logs.c.time.desc())
Index("ix_system_logs_level_time", system_logs.c.level, system_logs.c.time)
Index("ix_system_logs_component_time", system_logs.c.component, system_logs.c.time)

users = Table(
    "users",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("username", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    _tstz("created_at", nullable=False, now=True),
    _tstz("last_login_at"),
    Column("failed_logins", Integer, nullable=False, server_default=text("0")),
    _tstz("locked_until"),
    # Multi-factor: the TOTP secret, sealed (forexbot.database.encryption), and the last
    # 30-second step a code was accepted for (a code works once).
    Column("totp_secret", Text),
    Column("totp_last_step", BigInteger),
    CheckConstraint(sql_in("role", USER_ROLES), name="role"),
    CheckConstraint("btrim(username) <> ''", name="username_not_blank"),
    CheckConstraint("failed_logins >= 0", name="failed_logins_not_negative"),
)
# "Admin" and "admin" are one user: uniqueness and lookups both go through lower(username).
Index("uq_users_username_lower", func.lower(users.c.username), unique=True)

# Refresh tokens: only a SHA-256 of each is stored. A login starts a family; every refresh
# marks its token used and issues the next in the family; a used token presented again means
# it was stolen, and revokes the whole family (see forexbot.database.refresh_tokens).
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("family", Text, nullable=False),
    Column("token_hash", Text, nullable=False),
    _tstz("issued_at", nullable=False, now=True),
    _tstz("expires_at", nullable=False),
    _tstz("used_at"),
    _tstz("revoked_at"),
    Column("revoked_reason", Text),
    Column("source_ip", Text),
)
Index("uq_refresh_tokens_token_hash", refresh_tokens.c.token_hash, unique=True)
Index("ix_refresh_tokens_family", refresh_tokens.c.family)
Index("ix_refresh_tokens_user_id", refresh_tokens.c.user_id)

# API keys for scripts: only a SHA-256 of each key is stored; ``scope`` is the highest role the
# key acts with (never above its user's role); ``prefix`` lets a person tell keys apart.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("key_hash", Text, nullable=False),
    Column("scope", Text, nullable=False),
    _tstz("created_at", nullable=False, now=True),
    _tstz("expires_at"),
    _tstz("last_used_at"),
    _tstz("revoked_at"),
    CheckConstraint(sql_in("scope", USER_ROLES), name="scope"),
    CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
)
Index("uq_api_keys_key_hash", api_keys.c.key_hash, unique=True)
Index("ix_api_keys_user_id", api_keys.c.user_id)

# Recovery codes of multi-factor sign-in: hashed, each usable once.
recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("code_hash", Text, nullable=False),
    _tstz("used_at"),
)
Index("uq_recovery_codes_user_id_code_hash", recovery_codes.c.user_id, recovery_codes.c.code_hash,
      unique=True)  # fmt: skip

# Web Push subscriptions (one per browser endpoint) and alert preferences, per user.
push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("endpoint", Text, nullable=False),
    Column("p256dh", Text, nullable=False),
    Column("auth", Text, nullable=False),
    Column("device", Text),
    _tstz("created_at", nullable=False, now=True),
)
Index("uq_push_subscriptions_endpoint", push_subscriptions.c.endpoint, unique=True)
Index("ix_push_subscriptions_user_id", push_subscriptions.c.user_id)

ALERT_LEVELS = ("on", "silent", "off")

notification_preferences = Table(
    "notification_preferences",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("alert_type", Text, nullable=False),
    Column("level", Text, nullable=False),
    PrimaryKeyConstraint("user_id", "alert_type"),
    CheckConstraint(sql_in("level", ALERT_LEVELS), name="level"),
)

# The account over time (``forexbot.monitoring.equity_history``): at most one sample per
# trading-clock minute, kept 35 days; the dashboard's equity curves.
equity_samples = Table(
    "equity_samples",
    metadata,
    _tstz("time", nullable=False),
    Column("balance", Numeric, nullable=False),
    Column("equity", Numeric, nullable=False),
    Column("margin", Numeric, nullable=False),
    Column("floating_profit", Numeric, nullable=False),
    PrimaryKeyConstraint("time"),
)

"""Initial schema: trades, performance_metrics, market_data, system_config, strategy_config,
system_logs, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Migrations are frozen snapshots: tables and constraints are written out here with explicit
names, never imported from ``forexbot.database.tables`` (which describes the latest schema).
CHECK names are wrapped in ``op.f()``: Alembic applies the target metadata's naming convention
(``ck_<table>_<name>``) to operations, and ``op.f`` marks a name as final.
See that module for the reasons behind the column types.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY_JSONB = sa.text("'{}'::jsonb")


def _tstz(name: str, *, nullable: bool = True, now: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if now else None,
    )


def upgrade() -> None:
    op.create_table(
        "trades",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("client_order_id", sa.Text(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("timeframe", sa.Text()),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default=sa.text("'intent'")),
        sa.Column("volume", sa.Numeric(), nullable=False),
        sa.Column("requested_price", sa.Numeric()),
        sa.Column("entry_price", sa.Numeric()),
        sa.Column("sl", sa.Numeric()),
        sa.Column("tp", sa.Numeric()),
        sa.Column("exit_price", sa.Numeric()),
        sa.Column("profit", sa.Numeric()),
        sa.Column("swap", sa.Numeric()),
        sa.Column("commission", sa.Numeric()),
        sa.Column("mt5_order", sa.BigInteger()),
        sa.Column("mt5_position", sa.BigInteger()),
        _tstz("signal_time"),
        _tstz("open_time"),
        _tstz("close_time"),
        sa.Column("close_reason", sa.Text()),
        sa.Column("confidence", sa.Double()),
        sa.Column("reason", sa.Text()),
        sa.Column(
            "market_condition",
            postgresql.JSONB(),
            nullable=False,
            server_default=_EMPTY_JSONB,
        ),
        sa.Column(
            "execution_details",
            postgresql.JSONB(),
            nullable=False,
            server_default=_EMPTY_JSONB,
        ),
        sa.Column("reject_code", sa.Integer()),
        sa.Column("reject_message", sa.Text()),
        _tstz("created_at", nullable=False, now=True),
        _tstz("updated_at", nullable=False, now=True),
        sa.PrimaryKeyConstraint("id", name="pk_trades"),
        sa.UniqueConstraint("client_order_id", name="uq_trades_client_order_id"),
        sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f("ck_trades_side")),
        sa.CheckConstraint(
            "status IN ('intent', 'submitted', 'open', 'closing', 'closed', 'rejected', "
            "'cancelled')",
            name=op.f("ck_trades_status"),
        ),
        sa.CheckConstraint("volume > 0", name=op.f("ck_trades_volume_positive")),
        sa.CheckConstraint(
            "confidence IS NULL OR (confidence >= 0 AND confidence <= 1)",
            name=op.f("ck_trades_confidence_range"),
        ),
    )
    op.create_index("ix_trades_status", "trades", ["status"])
    op.create_index("ix_trades_symbol_open_time", "trades", ["symbol", sa.text("open_time DESC")])
    op.create_index("ix_trades_strategy", "trades", ["strategy"])
    op.create_index("ix_trades_created_at", "trades", [sa.text("created_at DESC")])
    op.create_index("ix_trades_mt5_position", "trades", ["mt5_position"])

    op.create_table(
        "performance_metrics",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("period", sa.Text(), nullable=False),
        _tstz("period_start", nullable=False),
        sa.Column("strategy", sa.Text()),
        sa.Column("symbol", sa.Text()),
        sa.Column("trades_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("wins", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("losses", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("win_rate", sa.Double()),
        sa.Column("profit_factor", sa.Double()),
        sa.Column("expectancy", sa.Numeric()),
        sa.Column("net_profit", sa.Numeric(), nullable=False, server_default=sa.text("0")),
        sa.Column("max_drawdown_pct", sa.Double()),
        sa.Column("sharpe", sa.Double()),
        _tstz("computed_at", nullable=False, now=True),
        sa.PrimaryKeyConstraint("id", name="pk_performance_metrics"),
        sa.CheckConstraint(
            "period IN ('daily', 'weekly', 'monthly', 'all')",
            name=op.f("ck_performance_metrics_period"),
        ),
        sa.CheckConstraint(
            "trades_count >= 0 AND wins >= 0 AND losses >= 0 AND wins + losses <= trades_count",
            name=op.f("ck_performance_metrics_counts"),
        ),
        sa.CheckConstraint(
            "win_rate IS NULL OR (win_rate >= 0 AND win_rate <= 1)",
            name=op.f("ck_performance_metrics_win_rate"),
        ),
        sa.CheckConstraint(
            "strategy IS NULL OR strategy <> ''",
            name=op.f("ck_performance_metrics_strategy_not_empty"),
        ),
        sa.CheckConstraint(
            "symbol IS NULL OR symbol <> ''", name=op.f("ck_performance_metrics_symbol_not_empty")
        ),
    )
    op.create_index(
        "uq_performance_metrics_key",
        "performance_metrics",
        [
            "period",
            "period_start",
            sa.text("COALESCE(strategy, '')"),
            sa.text("COALESCE(symbol, '')"),
        ],
        unique=True,
    )

    op.create_table(
        "market_data",
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("timeframe", sa.Text(), nullable=False),
        _tstz("time", nullable=False),
        sa.Column("open", sa.Double(), nullable=False),
        sa.Column("high", sa.Double(), nullable=False),
        sa.Column("low", sa.Double(), nullable=False),
        sa.Column("close", sa.Double(), nullable=False),
        sa.Column("tick_volume", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("spread", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("real_volume", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("symbol", "timeframe", "time", name="pk_market_data"),
    )

    op.create_table(
        "system_config",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", postgresql.JSONB(), nullable=False),
        _tstz("updated_at", nullable=False, now=True),
        sa.Column("updated_by", sa.Text()),
        sa.PrimaryKeyConstraint("key", name="pk_system_config"),
    )

    op.create_table(
        "strategy_config",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("timeframe", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("params", postgresql.JSONB(), nullable=False, server_default=_EMPTY_JSONB),
        sa.Column("risk_multiplier", sa.Numeric(), nullable=False, server_default=sa.text("1")),
        _tstz("updated_at", nullable=False, now=True),
        sa.Column("updated_by", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_strategy_config"),
        sa.UniqueConstraint(
            "strategy", "symbol", "timeframe", name="uq_strategy_config_strategy_symbol_timeframe"
        ),
        sa.CheckConstraint(
            "risk_multiplier >= 0", name=op.f("ck_strategy_config_risk_multiplier_not_negative")
        ),
    )

    op.create_table(
        "system_logs",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        _tstz("time", nullable=False, now=True),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("component", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("context", postgresql.JSONB(), nullable=False, server_default=_EMPTY_JSONB),
        sa.Column("actor", sa.Text()),
        sa.Column("source_ip", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_system_logs"),
        sa.CheckConstraint(
            "level IN ('debug', 'info', 'warning', 'error', 'critical')",
            name=op.f("ck_system_logs_level"),
        ),
    )
    op.create_index("ix_system_logs_time", "system_logs", [sa.text("time DESC")])
    op.create_index("ix_system_logs_level_time", "system_logs", ["level", "time"])
    op.create_index("ix_system_logs_component_time", "system_logs", ["component", "time"])

    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        _tstz("created_at", nullable=False, now=True),
        _tstz("last_login_at"),
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default=sa.text("0")),
        _tstz("locked_until"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.CheckConstraint("role IN ('admin', 'trader', 'viewer')", name=op.f("ck_users_role")),
        sa.CheckConstraint("btrim(username) <> ''", name=op.f("ck_users_username_not_blank")),
        sa.CheckConstraint("failed_logins >= 0", name=op.f("ck_users_failed_logins_not_negative")),
    )
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)


def downgrade() -> None:
    for table in (
        "users",
        "system_logs",
        "strategy_config",
        "system_config",
        "market_data",
        "performance_metrics",
        "trades",
    ):
        op.drop_table(table)

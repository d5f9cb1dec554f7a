"""Alembic migrations: what upgrade creates, that downgrade undoes it, and that the SQLAlchemy
tables the repositories use describe exactly the migrated schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database import migrate
from forexbot.database.migrate import current_revision, downgrade, head_revision, upgrade
from forexbot.database.tables import metadata
from forexbot.errors import DatabaseError

from ._support import on_connection, run_blocking

pytestmark = pytest.mark.db

TABLES = {
    "trades",
    "performance_metrics",
    "market_data",
    "system_config",
    "strategy_config",
    "system_logs",
    "users",
    "trade_transitions",
    "refresh_tokens",
    "api_keys",
    "recovery_codes",
    "push_subscriptions",
    "notification_preferences",
    "equity_samples",
}

INDEXES = {
    "ix_trades_status",
    "ix_trades_symbol_open_time",
    "ix_trades_strategy",
    "ix_trades_created_at",
    "ix_trades_mt5_position",
    "ix_trade_transitions_trade_id",
    "uq_trades_client_order_id",
    "uq_performance_metrics_key",
    "uq_strategy_config_strategy_symbol_timeframe",
    "ix_system_logs_time",
    "ix_system_logs_level_time",
    "ix_system_logs_component_time",
    "uq_users_username_lower",
    "uq_refresh_tokens_token_hash",
    "ix_refresh_tokens_family",
    "ix_refresh_tokens_user_id",
    "uq_api_keys_key_hash",
    "ix_api_keys_user_id",
    "uq_recovery_codes_user_id_code_hash",
}


def tables_of(url: str) -> set[str]:
    return set(on_connection(url, lambda conn: inspect(conn).get_table_names()))


def index_definitions(url: str) -> dict[str, str]:
    rows = on_connection(
        url,
        lambda conn: conn.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
        ).all(),
    )
    return dict(rows)


HEAD = "0007"
PUSH_TABLES = {"push_subscriptions", "notification_preferences"}
EQUITY_TABLES = {"equity_samples"}


def test_head_is_the_equity_samples_revision() -> None:
    assert head_revision() == HEAD


def test_upgrade_creates_the_tables_and_their_indexes(empty_database_url: str) -> None:
    assert current_revision(empty_database_url) is None
    run_blocking(lambda: upgrade(empty_database_url))
    assert tables_of(empty_database_url) == TABLES | {"alembic_version"}
    indexes = index_definitions(empty_database_url)
    assert set(indexes) >= INDEXES
    assert "(symbol, open_time DESC)" in indexes["ix_trades_symbol_open_time"]
    assert "lower(username)" in indexes["uq_users_username_lower"]
    assert indexes["uq_users_username_lower"].startswith("CREATE UNIQUE INDEX")
    assert "COALESCE(strategy, ''::text)" in indexes["uq_performance_metrics_key"]
    assert current_revision(empty_database_url) == HEAD


def test_upgrade_twice_is_a_no_op(migrated_database_url: str) -> None:
    run_blocking(lambda: upgrade(migrated_database_url))
    assert current_revision(migrated_database_url) == HEAD
    assert tables_of(migrated_database_url) == TABLES | {"alembic_version"}


def test_downgrade_to_base_removes_everything_and_upgrade_works_again(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    run_blocking(lambda: upgrade(url))
    run_blocking(lambda: downgrade(url, "base"))
    assert tables_of(url) == {"alembic_version"}
    assert current_revision(url) is None
    run_blocking(lambda: upgrade(url))
    assert tables_of(url) == TABLES | {"alembic_version"}
    assert current_revision(url) == HEAD


def test_tables_module_matches_the_migrated_schema(migrated_database_url: str) -> None:
    def diff(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))

    assert on_connection(migrated_database_url, diff) == []


def test_check_constraints_match_the_migrated_schema(migrated_database_url: str) -> None:
    # Alembic's autogenerate does not compare CHECK constraints: compare their names here.
    def reflected(conn: Connection) -> set[str]:
        inspector = inspect(conn)
        return {
            str(check["name"])
            for table in TABLES
            for check in inspector.get_check_constraints(table)
        }

    declared = {
        str(constraint.name)
        for table in metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
    assert declared == on_connection(migrated_database_url, reflected)
    assert "ck_trades_status" in declared


async def test_check_constraint_refuses_an_unknown_trade_status(db_engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError, match="ck_trades_status"):
        async with db_engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO trades (client_order_id, strategy, symbol, side, status, volume)"
                    " VALUES ('c1', 's', 'EURUSD', 'buy', 'lost', 0.1)"
                )
            )


def test_downgrade_of_the_lifecycle_revision_keeps_the_initial_schema(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    run_blocking(lambda: upgrade(url))
    run_blocking(lambda: downgrade(url, "0001"))
    later = {"trade_transitions", "refresh_tokens", "api_keys", "recovery_codes"}
    later |= PUSH_TABLES | EQUITY_TABLES
    assert tables_of(url) == (TABLES - later) | {"alembic_version"}
    columns = on_connection(
        url, lambda conn: {c["name"] for c in inspect(conn).get_columns("trades")}
    )
    assert "closed_volume" not in columns
    run_blocking(lambda: upgrade(url))
    assert current_revision(url) == HEAD


async def test_closed_volume_cannot_exceed_the_volume(db_engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError, match="ck_trades_closed_volume_range"):
        async with db_engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO trades (client_order_id, strategy, symbol, side, volume,"
                    " closed_volume) VALUES ('c1', 's', 'EURUSD', 'buy', 0.3, 0.30000000000000004)"
                )
            )


async def test_performance_key_treats_null_as_all_not_as_distinct(db_engine: AsyncEngine) -> None:
    insert = text(
        "INSERT INTO performance_metrics (period, period_start, strategy, symbol)"
        " VALUES ('daily', '2024-01-01T00:00Z', NULL, 'EURUSD')"
    )
    async with db_engine.begin() as conn:
        await conn.execute(insert)
    with pytest.raises(IntegrityError, match="uq_performance_metrics_key"):
        async with db_engine.begin() as conn:
            await conn.execute(insert)


async def test_migrate_refuses_to_run_on_the_event_loop(migrated_database_url: str) -> None:
    with pytest.raises(DatabaseError, match=r"asyncio.to_thread"):
        upgrade(migrated_database_url)


def test_unknown_revision_is_a_database_error(migrated_database_url: str) -> None:
    with pytest.raises(DatabaseError, match=r"migration downgrade failed.*nope"):
        run_blocking(lambda: downgrade(migrated_database_url, "nope"))


def test_unreachable_server_is_a_database_error_without_password() -> None:
    url = "postgresql://trader:hunter2@127.0.0.1:1/fx"
    with pytest.raises(DatabaseError, match=r"trader@127.0.0.1:1/fx") as caught:
        run_blocking(lambda: current_revision(url))
    assert "hunter2" not in str(caught.value)


def test_migrations_dir_defaults_to_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(migrate.MIGRATIONS_DIR_ENV, raising=False)
    assert migrate.migrations_dir() == Path(__file__).resolve().parents[2] / "migrations"


def test_missing_migrations_dir_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(migrate.MIGRATIONS_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(DatabaseError, match="FOREXBOT_MIGRATIONS_DIR"):
        migrate.migrations_dir()


def test_migrations_dir_override_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text("")
    monkeypatch.setenv(migrate.MIGRATIONS_DIR_ENV, str(tmp_path))
    assert migrate.migrations_dir() == tmp_path


def test_downgrade_of_the_push_revision_drops_only_its_tables(empty_database_url: str) -> None:
    url = empty_database_url
    run_blocking(lambda: upgrade(url))
    run_blocking(lambda: downgrade(url, "0005"))
    assert tables_of(url) == (TABLES - PUSH_TABLES - EQUITY_TABLES) | {"alembic_version"}
    run_blocking(lambda: upgrade(url))
    assert current_revision(url) == HEAD


def test_downgrade_of_the_refresh_tokens_revision_drops_only_that_table(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    run_blocking(lambda: upgrade(url))
    run_blocking(lambda: downgrade(url, "0002"))
    later = {"refresh_tokens", "api_keys", "recovery_codes"} | PUSH_TABLES | EQUITY_TABLES
    assert tables_of(url) == (TABLES - later) | {"alembic_version"}
    run_blocking(lambda: upgrade(url))
    assert current_revision(url) == HEAD


def test_downgrade_of_the_equity_revision_drops_only_its_table(empty_database_url: str) -> None:
    url = empty_database_url
    run_blocking(lambda: upgrade(url))
    run_blocking(lambda: downgrade(url, "0006"))
    assert tables_of(url) == (TABLES - EQUITY_TABLES) | {"alembic_version"}
    assert current_revision(url) == "0006"
    run_blocking(lambda: upgrade(url))
    assert current_revision(url) == HEAD


def test_equity_samples_are_keyed_by_time_with_exact_money(migrated_database_url: str) -> None:
    def shape(conn: Connection) -> tuple[list[str], dict[str, str]]:
        inspector = inspect(conn)
        key = inspector.get_pk_constraint("equity_samples")["constrained_columns"]
        columns = {c["name"]: str(c["type"]) for c in inspector.get_columns("equity_samples")}
        return key, columns

    key, columns = on_connection(migrated_database_url, shape)
    assert key == ["time"]
    assert columns == {
        "time": "TIMESTAMP",
        "balance": "NUMERIC",
        "equity": "NUMERIC",
        "margin": "NUMERIC",
        "floating_profit": "NUMERIC",
    }

"""The ``strategy_config`` table: run-time strategy settings that outlive a restart.

A row exists once someone changed an instance at run time (API); from then on the row wins
over ``config/strategies.yaml`` for that (strategy, symbol, timeframe), so a change made from a
phone is not undone by the next restart. Writes are upserts on that triple.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database._convert import as_utc, to_decimal
from forexbot.database._errors import database_errors
from forexbot.database.tables import strategy_config


@dataclass(frozen=True, slots=True)
class StrategyConfigRecord:
    """One row of ``strategy_config``."""

    strategy: str
    symbol: str
    timeframe: str
    enabled: bool
    params: dict[str, Any]
    risk_multiplier: Decimal
    updated_at: datetime | None
    updated_by: str | None
    management: dict[str, Any] = field(default_factory=dict)


class StrategyConfigRepository:
    """Reads and upserts ``strategy_config``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def all(self) -> list[StrategyConfigRecord]:
        stmt = select(strategy_config).order_by(strategy_config.c.id)
        with database_errors("reading strategy settings"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).mappings().all()
        return [
            StrategyConfigRecord(
                strategy=row["strategy"],
                symbol=row["symbol"],
                timeframe=row["timeframe"],
                enabled=bool(row["enabled"]),
                params=dict(row["params"] or {}),
                risk_multiplier=Decimal(row["risk_multiplier"]),
                updated_at=as_utc(row["updated_at"]),
                updated_by=row["updated_by"],
                management=dict(row["management"] or {}),
            )
            for row in rows
        ]

    async def save(
        self,
        *,
        strategy: str,
        symbol: str,
        timeframe: str,
        enabled: bool,
        params: Mapping[str, Any],
        risk_multiplier: float | Decimal,
        updated_by: str | None,
        management: Mapping[str, Any] | None = None,
    ) -> None:
        """Insert or replace the settings of one instance (``management``: its break-even and
        trailing-stop settings; ``None`` stores none, so the file's apply)."""
        values = {
            "strategy": strategy,
            "symbol": symbol,
            "timeframe": timeframe,
            "enabled": enabled,
            "params": dict(params),
            "risk_multiplier": to_decimal(risk_multiplier, name="risk_multiplier"),
            "updated_by": updated_by,
            "management": dict(management or {}),
        }
        stmt = insert(strategy_config).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["strategy", "symbol", "timeframe"],
            set_={
                "enabled": stmt.excluded.enabled,
                "params": stmt.excluded.params,
                "risk_multiplier": stmt.excluded.risk_multiplier,
                "management": stmt.excluded.management,
                "updated_by": stmt.excluded.updated_by,
                "updated_at": func.now(),
            },
        )
        with database_errors("saving strategy settings"):
            async with self._engine.begin() as conn:
                await conn.execute(stmt)

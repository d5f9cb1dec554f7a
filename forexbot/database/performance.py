"""The ``performance_metrics`` table: one row per period, strategy and symbol.

Rules enforced:

* A row is keyed by (period, period start, strategy, symbol), ``NULL`` strategy or symbol
  meaning *all*; writing the same key again replaces its figures (the upsert uses the table's
  ``COALESCE`` key, so "all" rows do not duplicate).
* Periods are ``daily``, ``weekly``, ``monthly`` and ``all``; ``all`` starts at the epoch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database._convert import require_aware
from forexbot.database._errors import database_errors
from forexbot.database.tables import METRIC_PERIODS, performance_metrics

_FIGURES = (
    "trades_count", "wins", "losses", "win_rate", "profit_factor", "expectancy", "net_profit",
    "max_drawdown_pct", "sharpe",
)  # fmt: skip


class PerformanceRepository:
    """Writes and reads ``performance_metrics``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def store(self, period: str, start: datetime, rows: Sequence[Mapping[str, Any]]) -> None:
        """Upsert ``rows`` (each: ``strategy``, ``symbol`` and the figures) for one period."""
        if period not in METRIC_PERIODS:
            raise ValueError(f"period must be one of {METRIC_PERIODS}, got {period!r}")
        if not rows:
            return
        values = [
            {
                "period": period,
                "period_start": require_aware(start, name="start"),
                "strategy": row.get("strategy"),
                "symbol": row.get("symbol"),
                **{k: row[k] for k in _FIGURES},
                "computed_at": func.now(),
            }
            for row in rows
        ]
        stmt = pg_insert(performance_metrics).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[
                performance_metrics.c.period,
                performance_metrics.c.period_start,
                func.coalesce(performance_metrics.c.strategy, text("''")),
                func.coalesce(performance_metrics.c.symbol, text("''")),
            ],
            set_={**{k: stmt.excluded[k] for k in _FIGURES}, "computed_at": func.now()},
        )
        with database_errors(f"storing {period} performance"):
            async with self._engine.begin() as conn:
                await conn.execute(stmt)

    async def rows(self, period: str, start: datetime) -> list[dict[str, Any]]:
        """The stored rows of one period, "all" rows first."""
        stmt = (
            select(performance_metrics)
            .where(
                performance_metrics.c.period == period,
                performance_metrics.c.period_start == require_aware(start, name="start"),
            )
            .order_by(
                performance_metrics.c.strategy.nulls_first(),
                performance_metrics.c.symbol.nulls_first(),
            )
        )
        with database_errors(f"reading {period} performance"):
            async with self._engine.connect() as conn:
                return [dict(r) for r in (await conn.execute(stmt)).mappings()]

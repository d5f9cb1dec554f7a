"""The ``equity_samples`` table: the account over time, for the equity curves.

Rules enforced:

* A sample is keyed by its time (UTC, from the trading clock); writing a sample whose time is
  already stored changes nothing (a batch retried after a lost answer does not fail).
* A batch of any size is written: in statements of at most :data:`ROWS_PER_STATEMENT` rows
  (one statement's bind parameters are capped at 32,767 by PostgreSQL's protocol, so the
  sampler's full backlog of 10,000 samples after an outage could never be written in one), all
  in one transaction — the whole batch is stored or none of it.
* Money is exact (``NUMERIC``, written through its shortest ``repr``); read back as ``float``,
  which is what the API and the charts use.
* Reading downsamples in the database: the **last** sample of each ``step``-second bucket
  (buckets aligned on the Unix epoch, so minutes and hours are UTC minutes and hours), oldest
  first, at most ``limit`` buckets (the newest), so a month of minute samples comes back as
  one point per hour without sending 43,200 rows to Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, literal_column, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database._convert import epoch_to_datetime, to_decimal
from forexbot.database._errors import database_errors
from forexbot.database.tables import equity_samples

_MONEY = ("balance", "equity", "margin", "floating_profit")

#: Rows per INSERT: 5 parameters each, far below PostgreSQL's 32,767 per statement.
ROWS_PER_STATEMENT = 1_000


@dataclass(frozen=True, slots=True)
class EquitySample:
    """The account at ``time`` (UTC epoch seconds), in the account currency."""

    time: float
    balance: float
    equity: float
    margin: float
    floating_profit: float


class EquitySampleRepository:
    """Writes, reads (downsampled) and prunes ``equity_samples``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, samples: Sequence[EquitySample]) -> int:
        """Insert ``samples`` in one transaction (statements of at most
        :data:`ROWS_PER_STATEMENT` rows); how many were new."""
        if not samples:
            return 0
        rows = [
            {
                "time": epoch_to_datetime(s.time),
                **{name: to_decimal(getattr(s, name), name=name) for name in _MONEY},
            }
            for s in samples
        ]
        new = 0
        with database_errors("storing equity samples"):
            async with self._engine.begin() as conn:
                for first in range(0, len(rows), ROWS_PER_STATEMENT):
                    stmt = (
                        pg_insert(equity_samples)
                        .values(rows[first : first + ROWS_PER_STATEMENT])
                        .on_conflict_do_nothing(index_elements=["time"])
                    )
                    new += (await conn.execute(stmt)).rowcount
        return new

    async def downsampled(
        self, start: float, end: float, *, step: int, limit: int
    ) -> list[EquitySample]:
        """The last sample of each ``step``-second bucket with a sample in ``[start, end]``,
        oldest first; only the newest ``limit`` buckets."""
        if step < 1 or limit < 1:
            raise ValueError(f"step and limit must be ≥ 1, got {step} and {limit}")
        t = equity_samples.c
        # A literal, not a parameter: DISTINCT ON and ORDER BY must be the same expression.
        bucket = func.floor(func.extract("epoch", t.time) / literal_column(str(int(step))))
        newest = (
            select(t.time, *(t[name] for name in _MONEY))
            .where(t.time >= epoch_to_datetime(start), t.time <= epoch_to_datetime(end))
            .ext(distinct_on(bucket))
            .order_by(bucket.desc(), t.time.desc())
            .limit(limit)
            .subquery()
        )
        stmt = select(newest).order_by(newest.c.time)
        with database_errors("reading equity samples"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).mappings().all()
        return [
            EquitySample(row["time"].timestamp(), *(float(row[name]) for name in _MONEY))
            for row in rows
        ]

    async def delete_before(self, cutoff: float) -> int:
        """Delete the samples older than ``cutoff``; how many."""
        stmt = delete(equity_samples).where(equity_samples.c.time < epoch_to_datetime(cutoff))
        with database_errors("deleting old equity samples"):
            async with self._engine.begin() as conn:
                return (await conn.execute(stmt)).rowcount

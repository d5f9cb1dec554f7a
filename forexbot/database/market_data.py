"""The ``market_data`` table: bars kept for restarts, charts and backtests.

Rules enforced:

* **One round trip per batch, whatever its size**: the bars travel as one array per column and
  are expanded server-side with ``unnest`` (also immune to PostgreSQL's 32 767 bind-parameter
  limit), then ``INSERT … ON CONFLICT (symbol, timeframe, time) DO UPDATE``.
* **Idempotent**: writing the same bars again changes nothing. The ``DO UPDATE`` only touches
  rows whose values differ (``IS DISTINCT FROM``), so re-sending overlapping history does not
  rewrite, bloat or re-WAL unchanged rows; the count returned is the rows inserted or changed.
* **Last one wins inside a batch**: a batch holding the same bar twice (a bar re-sent after an
  update) keeps the later one; PostgreSQL would otherwise refuse the whole batch.
* Prices are ``double precision`` (see :mod:`forexbot.database.tables`): a bar read back is
  bit-identical to the bar written.
* **Bulk imports** (:meth:`MarketDataRepository.import_bars`, ``forexbot data import``) go
  through ``COPY`` into a temporary table and the same idempotent upsert, in one transaction:
  a million bars in seconds, and importing a file twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    BigInteger,
    Double,
    Integer,
    Text,
    bindparam,
    column,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TIMESTAMP
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.database._convert import epoch_to_datetime, to_datetime
from forexbot.database._errors import database_errors
from forexbot.database.tables import market_data
from forexbot.domain.market import Bar, Timeframe
from forexbot.errors import DatabaseError

_VALUE_COLUMNS = ("open", "high", "low", "close", "tick_volume", "spread", "real_volume")
_ARRAY_TYPES: dict[str, ARRAY[Any]] = {
    "symbol": ARRAY(Text),
    "timeframe": ARRAY(Text),
    "time": ARRAY(TIMESTAMP(timezone=True)),
    "open": ARRAY(Double),
    "high": ARRAY(Double),
    "low": ARRAY(Double),
    "close": ARRAY(Double),
    "tick_volume": ARRAY(BigInteger),
    "spread": ARRAY(Integer),
    "real_volume": ARRAY(BigInteger),
}


class MarketDataRepository:
    """Writes and reads bars."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def upsert_bars(self, bars: Sequence[Bar]) -> int:
        """Insert or update ``bars`` in one statement; return how many rows were written."""
        latest: dict[tuple[str, str, int], Bar] = {}
        for bar in bars:
            latest[(bar.symbol, bar.timeframe.name, bar.time)] = bar
        if not latest:
            return 0
        rows = list(latest.values())
        arrays = {
            "symbol": [bar.symbol for bar in rows],
            "timeframe": [bar.timeframe.name for bar in rows],
            "time": [epoch_to_datetime(bar.time) for bar in rows],
            **{name: [getattr(bar, name) for bar in rows] for name in _VALUE_COLUMNS},
        }
        source = (
            func.unnest(
                *(bindparam(name, arrays[name], type_=_ARRAY_TYPES[name]) for name in arrays)
            )
            .table_valued(*(column(name) for name in arrays))
            .render_derived(name="bars", with_types=False)
        )
        stmt = pg_insert(market_data).from_select(
            list(arrays), select(*(source.c[name] for name in arrays))
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[market_data.c.symbol, market_data.c.timeframe, market_data.c.time],
            set_={name: stmt.excluded[name] for name in _VALUE_COLUMNS},
            where=or_(
                *(
                    market_data.c[name].is_distinct_from(stmt.excluded[name])
                    for name in _VALUE_COLUMNS
                )
            ),
        )
        with database_errors(f"writing {len(rows)} bars"):
            async with self._engine.begin() as conn:
                result = await conn.execute(stmt)
        return int(result.rowcount)

    async def get_bars(
        self,
        symbol: str,
        timeframe: Timeframe,
        start: datetime | int,
        end: datetime | int,
    ) -> list[Bar]:
        """Bars of ``symbol``/``timeframe`` opening in ``[start, end)``, oldest first.

        ``start`` and ``end`` are tz-aware datetimes or UTC epoch seconds (the domain's unit).
        The half-open range lets a caller page through history without overlap.
        """
        start_ = to_datetime(start, name="start")
        end_ = to_datetime(end, name="end")
        stmt = (
            select(market_data)
            .where(
                market_data.c.symbol == symbol,
                market_data.c.timeframe == timeframe.name,
                market_data.c.time >= start_,
                market_data.c.time < end_,
            )
            .order_by(market_data.c.time)
        )
        with database_errors(f"reading {symbol} {timeframe.name} bars"):
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).mappings().all()
        return [
            Bar(
                symbol=row["symbol"],
                timeframe=timeframe,
                time=int(row["time"].timestamp()),
                open=row["open"],
                high=row["high"],
                low=row["low"],
                close=row["close"],
                tick_volume=row["tick_volume"],
                spread=row["spread"],
                real_volume=row["real_volume"],
            )
            for row in rows
        ]

    async def import_bars(
        self, symbol: str, timeframe: Timeframe, bars: NDArray[np.void], *, batch: int = 200_000
    ) -> int:
        """Load ``bars`` (MetaTrader's ``RATES_DTYPE``, ``time`` in UTC epoch seconds) with
        ``COPY``; returns the rows inserted or changed (0 for a re-import of the same bars)."""
        if not len(bars):
            return 0
        columns = ("symbol", "timeframe", "time", *_VALUE_COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _VALUE_COLUMNS)
        distinct = " OR ".join(
            f"market_data.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in _VALUE_COLUMNS
        )
        upsert = text(
            f"INSERT INTO market_data ({', '.join(columns)}) "  # fixed names only
            f"SELECT {', '.join(columns)} FROM market_data_import "
            f"ON CONFLICT (symbol, timeframe, time) DO UPDATE SET {updates} WHERE {distinct}"
        )
        with database_errors(f"importing {len(bars)} {symbol} {timeframe.name} bars"):
            async with self._engine.begin() as conn:
                # Through SQLAlchemy first: this opens the transaction the staging table
                # lives in (it is dropped at commit).
                await conn.execute(
                    text(
                        "CREATE TEMP TABLE market_data_import "
                        "(LIKE market_data INCLUDING DEFAULTS) ON COMMIT DROP"
                    )
                )
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection
                for lo in range(0, len(bars), batch):
                    part = bars[lo : lo + batch]
                    times = [datetime.fromtimestamp(int(t), tz=UTC) for t in part["time"]]
                    records = zip(
                        [symbol] * len(part),
                        [timeframe.name] * len(part),
                        times,
                        part["open"].tolist(),
                        part["high"].tolist(),
                        part["low"].tolist(),
                        part["close"].tolist(),
                        part["tick_volume"].astype(np.int64).tolist(),
                        part["spread"].astype(np.int64).tolist(),
                        part["real_volume"].astype(np.int64).tolist(),
                        strict=True,
                    )
                    try:
                        await driver.copy_records_to_table(
                            "market_data_import", records=records, columns=columns
                        )
                    except asyncpg.PostgresError as exc:
                        raise DatabaseError(f"copying bars failed: {exc}") from exc
                result = await conn.execute(upsert)
        return int(result.rowcount)

    async def timeframes(self, symbol: str) -> list[str]:
        """The timeframes stored for ``symbol``."""
        stmt = select(market_data.c.timeframe).where(market_data.c.symbol == symbol).distinct()
        with database_errors(f"listing the timeframes of {symbol}"):
            async with self._engine.connect() as conn:
                return sorted(str(t) for t in (await conn.execute(stmt)).scalars())

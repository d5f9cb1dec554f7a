"""Bars stored in ``market_data`` as a backtest's data (``--data db``, the API's ``"db"``).

Rules:

* The stored M1 bars are used when they cover the test (every timeframe is then derived from
  them exactly as the terminal derives its own); else the strategy's own timeframe when that
  covers it. *Covers* means the bars reach back to the test's start and on to within a week
  of its end: a test must not silently run on a fraction of its period while its statistics
  speak of all of it.
* Nothing covering the test is an :class:`InvalidInputError` naming what is stored, and
  ``forexbot data import``.
* At most :data:`MAX_BARS` bars are loaded (a decade of M1 is about 3.7 million); past that,
  test a shorter period or store a longer timeframe.
* The bars are handed to the simulated terminal in broker server time, like an MT5 export.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from forexbot.clock import iso_utc
from forexbot.connectors.mt5sim.replay import ReplayBars
from forexbot.connectors.mt5sim.structures import RATES_DTYPE
from forexbot.connectors.mt5sim.timeutil import to_server_array
from forexbot.database.market_data import MarketDataRepository
from forexbot.domain.market import Bar, Timeframe
from forexbot.errors import InvalidInputError

MAX_BARS = 4_000_000
#: Stored data may end this long before the end of the test (a weekend, a holiday week).
END_SLACK = 7 * 86_400


def _array(bars: Sequence[Bar]) -> NDArray[np.void]:
    out = np.zeros(len(bars), dtype=RATES_DTYPE)
    for i, b in enumerate(bars):
        out[i] = (b.time, b.open, b.high, b.low, b.close, b.tick_volume, b.spread, b.real_volume)
    out["time"] = to_server_array(out["time"].astype(np.int64))
    return out


async def stored_bars(
    repository: MarketDataRepository,
    symbol: str,
    timeframe: Timeframe,
    start: float,
    end: float,
    warmup_bars: int,
) -> ReplayBars:
    """The stored bars of a test (see the module docstring)."""
    stored = await repository.timeframes(symbol)
    candidates = [tf for tf in (Timeframe.M1, timeframe) if tf.name in stored]
    if not candidates:
        have = ", ".join(stored) or "none"
        raise InvalidInputError(
            f"no {symbol} bars in market_data for M1 or {timeframe.name} (stored timeframes: "
            f"{have}); load some with `forexbot data import`"
        )
    lead = max(warmup_bars * timeframe.seconds * 3, 7 * 86_400)
    found: list[str] = []
    for chosen in dict.fromkeys(candidates):
        span = (end - start + lead) / chosen.seconds
        if span > MAX_BARS * 1.5:
            found.append(f"{chosen.name}: more than {MAX_BARS:,} bars for this period")
            continue
        bars = await repository.get_bars(symbol, chosen, int(start - lead), int(end))
        if len(bars) > MAX_BARS:
            found.append(f"{chosen.name}: {len(bars):,} bars, more than {MAX_BARS:,}")
            continue
        if bars and bars[0].time <= start and bars[-1].time >= end - END_SLACK:
            return ReplayBars(await asyncio.to_thread(_array, bars), chosen.seconds)
        found.append(
            f"{chosen.name}: "
            + (f"{iso_utc(bars[0].time)} to {iso_utc(bars[-1].time)}" if bars else "none")
        )
    raise InvalidInputError(
        f"the stored {symbol} bars do not cover the test ({iso_utc(start)} to {iso_utc(end)}); "
        f"stored: {'; '.join(found)}. Import more with `forexbot data import` or test a "
        "shorter period"
    )

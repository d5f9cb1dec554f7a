"""A fixed spread laid over any feed: the backtester's spread assumption.

``SimulatedTerminal(fixed_spread={"EURUSD": 12})`` quotes EURUSD with an ask exactly 12 points
above the bid, whatever the feed says: every tick's ask is rewritten to ``bid + 12 points``
(on the price grid) and every M1 bar carries spread 12. The bid path is untouched, so bars and
signals stay the same and only the cost of trading changes. Symbols not named keep the feed's
own spread.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from .feed import LRU, PriceFeed, ticks_of_minutes
from .symbols import Catalogue


class FixedSpreadFeed:
    """``inner`` with the spread of some symbols fixed (see the module docstring)."""

    def __init__(
        self,
        inner: PriceFeed,
        catalogue: Catalogue,
        spreads: Mapping[str, int],
        cache_days: int = 256,
    ) -> None:
        for symbol, points in spreads.items():
            if catalogue.get(symbol) is None:
                raise ValueError(f"cannot fix the spread of {symbol!r}: unknown symbol")
            if points < 0:
                raise ValueError(f"the spread of {symbol} must not be negative, got {points}")
        self._inner = inner
        self._catalogue = catalogue
        self._spreads = dict(spreads)
        self._days: LRU[tuple[str, int], NDArray[np.void]] = LRU(cache_days)
        self._minutes: LRU[tuple[str, int, int], NDArray[np.void]] = LRU(4_096)

    def day_bars(self, symbol: str, day: int) -> NDArray[np.void]:
        bars = self._inner.day_bars(symbol, day)
        points = self._spreads.get(symbol)
        if points is None or not len(bars):
            return bars
        cached = self._days.get((symbol, day))
        if cached is None:
            cached = bars.copy()
            cached["spread"] = points
            cached.flags.writeable = False
            self._days.put((symbol, day), cached)
        return cached

    def minute_ticks(self, symbol: str, first: int, stop: int) -> NDArray[np.void]:
        points = self._spreads.get(symbol)
        if points is None:
            return self._inner.minute_ticks(symbol, first, stop)
        cached = self._minutes.get((symbol, first, stop))
        if cached is not None:
            return cached
        ticks = self._inner.minute_ticks(symbol, first, stop)
        spec = self._catalogue.get(symbol)
        assert spec is not None  # checked in the constructor
        out = ticks.copy()
        out["ask"] = np.round(out["bid"] + points * spec.point, spec.digits)
        out.flags.writeable = False
        self._minutes.put((symbol, first, stop), out)
        return out

    def ticks_of_minutes(self, symbol: str, minutes: NDArray[np.int64]) -> NDArray[np.void]:
        """The ticks of ``minutes`` (increasing), the ask rewritten as :meth:`minute_ticks`
        does (not cached: a caller reading scattered minutes reads each once)."""
        ticks = ticks_of_minutes(self._inner, symbol, minutes)
        points = self._spreads.get(symbol)
        if points is None:
            return ticks
        spec = self._catalogue.get(symbol)
        assert spec is not None  # checked in the constructor
        out = ticks.copy()
        out["ask"] = np.round(out["bid"] + points * spec.point, spec.digits)
        out.flags.writeable = False
        return out

    def is_open(self, symbol: str, server_seconds: float) -> bool:
        return self._inner.is_open(symbol, server_seconds)

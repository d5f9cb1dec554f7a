"""The market-data source behind the simulated terminal.

:class:`PriceFeed` is the small interface the terminal needs: a server day's complete M1 bars,
the ticks of a run of minutes, and whether a symbol trades at a time. Everything else (higher
timeframes, "now" truncation, tick queries) is derived from it in :mod:`series`, so a replay
feed reading MetaTrader CSV exports only has to implement these three methods.

:class:`GeneratedFeed` implements it with the deterministic models of :mod:`models` (forex
crosses are built tick by tick from their USD legs, :mod:`cross`, so EURJPY is always
EURUSD x USDJPY); :class:`~.replay.ReplayFeed` replays MT5 CSV exports over it. It caches
generated days (bars plus the :class:`DayPlan` that regenerates any minute) and generated
minutes in bounded LRU caches, so polling the last minutes of thirty symbols costs almost
nothing and memory stays bounded however long a backtest runs.

:class:`VariantFeed` lays a catalogue's symbol variants (``EURUSD.pro``, see :mod:`symbols`)
over any feed: it asks the feed below for the variant's market (``EURUSD``), so a variant
quotes exactly its market's ticks and bars (generated, or replayed) from the same caches.
Feeds laid over it (a fixed spread) still see the variant's own name.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Protocol, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from .cross import CrossBuilder, cross_legs
from .grid import MinuteGrid, m1_from_ticks
from .models import DayPlan, PriceModel, model_for
from .structures import RATES_DTYPE, TICKS_DTYPE
from .symbols import Catalogue
from .timeutil import MINUTES_PER_DAY

K = TypeVar("K")
V = TypeVar("V")


class PriceFeed(Protocol):
    """Market data in server time; every array is MetaTrader's structured dtype."""

    def day_bars(self, symbol: str, day: int) -> NDArray[np.void]:
        """All M1 bars of server day ``day`` (days since 1970-01-01), complete, in order."""
        ...

    def minute_ticks(self, symbol: str, first: int, stop: int) -> NDArray[np.void]:
        """Every tick of minutes ``first`` to ``stop - 1`` (server epoch // 60), in order."""
        ...

    def is_open(self, symbol: str, server_seconds: float) -> bool:
        """Whether the symbol's market is open (quoting and tradable) at that time."""
        ...


class LRU(Generic[K, V]):
    """A small bounded least-recently-used cache."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._data: OrderedDict[K, V] = OrderedDict()

    @property
    def capacity(self) -> int:
        return self._capacity

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._capacity:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


_EMPTY_BARS = np.zeros(0, dtype=RATES_DTYPE)
_EMPTY_TICKS = np.zeros(0, dtype=TICKS_DTYPE)
_EMPTY_BARS.flags.writeable = False
_EMPTY_TICKS.flags.writeable = False


class GeneratedFeed:
    """Deterministic generated history for the catalogue's symbols, for any date.

    Two feeds with the same seed return identical data; arrays handed out are read-only
    views of the caches (copy before modifying). Memory stays bounded: about 80 KB per cached
    day (256 days) and 1.5-3 KB per cached minute of ticks (4,096 minutes). Not thread-safe:
    the terminal serialises access.
    """

    def __init__(
        self,
        seed: int,
        catalogue: Catalogue,
        *,
        day_cache: int = 256,
        minute_cache: int = 4_096,
    ) -> None:
        self.seed = seed
        self._catalogue = catalogue
        self._models: dict[str, PriceModel] = {}
        self._days: LRU[tuple[str, int], tuple[DayPlan, NDArray[np.void]]] = LRU(day_cache)
        self._minutes: LRU[tuple[str, int], NDArray[np.void]] = LRU(minute_cache)
        self._crosses: dict[str, CrossBuilder | None] = {}
        self._cross_bars: LRU[tuple[str, int], NDArray[np.void]] = LRU(day_cache)
        # Today's and yesterday's ticks of every cross: a poll visits them all in turn, and an
        # LRU smaller than that cycle would recompute every cross on every poll (~4 MB each).
        crosses = sum(
            1
            for spec in catalogue.all()
            if not spec.market and cross_legs(spec, catalogue) is not None
        )
        self._cross_ticks: LRU[tuple[str, int], NDArray[np.void]] = LRU(max(16, 2 * crosses))
        # Their times as a contiguous array: searching the strided ``time_msc`` field of a
        # day's ticks copied it first (~100 µs per search).
        self._cross_msc: LRU[tuple[str, int], NDArray[np.int64]] = LRU(max(16, 2 * crosses))

    def model(self, symbol: str) -> PriceModel:
        model = self._models.get(symbol)
        if model is None:
            spec = self._catalogue.get(symbol)
            if spec is None:
                raise KeyError(symbol)
            model = self._models[symbol] = model_for(spec, self.seed)
        return model

    def is_open(self, symbol: str, server_seconds: float) -> bool:
        return self.model(symbol).is_open(server_seconds)

    def _day(self, symbol: str, day: int) -> tuple[DayPlan, NDArray[np.void]] | None:
        return self._planned(symbol, day)[0]

    def _planned(
        self, symbol: str, day: int
    ) -> tuple[tuple[DayPlan, NDArray[np.void]] | None, MinuteGrid | None]:
        """((plan, M1 bars) or None when closed, the day's grid if it was just generated)."""
        model = self.model(symbol)
        if not model.trades_on(day):
            return None, None
        cached = self._days.get((symbol, day))
        grid = None
        if cached is None:
            plan, grid = model.plan(day)
            bars = grid.bars()
            bars.flags.writeable = False
            cached = (plan, bars)
            self._days.put((symbol, day), cached)
        return cached, grid

    def day_bars(self, symbol: str, day: int) -> NDArray[np.void]:
        if self._cross(symbol) is not None:
            return self._cross_day(symbol, day)[1]
        cached = self._day(symbol, day)
        return _EMPTY_BARS if cached is None else cached[1]

    # --- crosses (see :mod:`cross`) -------------------------------------------------------
    def _cross(self, symbol: str) -> CrossBuilder | None:
        if symbol not in self._crosses:
            spec = self._catalogue.get(symbol)
            legs = None if spec is None else cross_legs(spec, self._catalogue)
            self._crosses[symbol] = (
                None
                if spec is None or legs is None
                else CrossBuilder(spec, legs, self._leg_day_ticks, self.seed)
            )
        return self._crosses[symbol]

    def _leg_day_ticks(self, symbol: str, day: int) -> NDArray[np.void]:
        cached, grid = self._planned(symbol, day)
        if cached is None:
            return _EMPTY_TICKS
        if grid is None:
            grid = self.model(symbol).grid(cached[0], 0, MINUTES_PER_DAY)
        return grid.ticks()

    def _cross_day(self, symbol: str, day: int) -> tuple[NDArray[np.void], NDArray[np.void]]:
        """(ticks, M1 bars) of a cross's day; ticks are cached for a few days, bars longer."""
        builder = self._cross(symbol)
        assert builder is not None
        if not self.model(symbol).trades_on(day):
            return _EMPTY_TICKS, _EMPTY_BARS
        ticks = self._cross_ticks.get((symbol, day))
        bars = self._cross_bars.get((symbol, day))
        if ticks is None:
            ticks = builder.day_ticks(day)
            ticks.flags.writeable = False
            self._cross_ticks.put((symbol, day), ticks)
        if bars is None:
            bars = m1_from_ticks(ticks, builder.spec.point)
            bars.flags.writeable = False
            self._cross_bars.put((symbol, day), bars)
        return ticks, bars

    def _cross_times(self, symbol: str, day: int, ticks: NDArray[np.void]) -> NDArray[np.int64]:
        """The day's tick times, contiguous (kept beside the ticks)."""
        msc = self._cross_msc.get((symbol, day))
        if msc is None or len(msc) != len(ticks):
            msc = np.array(ticks["time_msc"], dtype=np.int64)
            self._cross_msc.put((symbol, day), msc)
        return msc

    def minute_ticks(self, symbol: str, first: int, stop: int) -> NDArray[np.void]:
        parts: list[NDArray[np.void]] = []
        if self._cross(symbol) is not None:
            for day in range(first // MINUTES_PER_DAY, (stop - 1) // MINUTES_PER_DAY + 1):
                ticks = self._cross_day(symbol, day)[0]
                msc = self._cross_times(symbol, day, ticks)
                lo, hi = np.searchsorted(msc, first * 60_000), np.searchsorted(msc, stop * 60_000)
                if hi > lo:
                    parts.append(ticks[lo:hi])
            return _joined(parts)
        minute = first
        while minute < stop:
            day = minute // MINUTES_PER_DAY
            day_stop = min(stop, (day + 1) * MINUTES_PER_DAY)
            parts.extend(self._ticks_in_day(symbol, day, minute, day_stop))
            minute = day_stop
        return _joined(parts)

    def _ticks_in_day(self, symbol: str, day: int, first: int, stop: int) -> list[NDArray[np.void]]:
        cached = self._day(symbol, day)
        if cached is None:
            return []
        plan = cached[0]
        parts: list[NDArray[np.void]] = []
        minute = first
        while minute < stop:
            ticks = self._minutes.get((symbol, minute))
            if ticks is not None:
                parts.append(ticks)
                minute += 1
                continue
            # Generate the run of uncached minutes in one vectorised call.
            run_end = minute + 1
            while run_end < stop and self._minutes.get((symbol, run_end)) is None:
                run_end += 1
            grid = self.model(symbol).grid(plan, minute - day * MINUTES_PER_DAY, run_end - minute)
            generated = grid.ticks()
            generated.flags.writeable = False
            bounds = np.concatenate(([0], np.cumsum(grid.counts())))
            for i, m in enumerate(range(minute, run_end)):
                chunk = generated[bounds[i] : bounds[i + 1]]
                chunk.flags.writeable = False
                self._minutes.put((symbol, m), chunk)
            parts.append(generated)
            minute = run_end
        return parts

    def ticks_of_minutes(self, symbol: str, minutes: NDArray[np.int64]) -> NDArray[np.void]:
        """Every tick of ``minutes`` (increasing server minutes, not necessarily consecutive),
        in order: what joining their :meth:`minute_ticks` gives. A day's minutes are generated
        in one vectorised call (:meth:`PriceModel.rows_grid`) however far apart they are, and
        not cached: a backtest's quotes at its decisions need two minutes each, read once,
        which one call per minute generated at ~0.3 ms apiece."""
        if self._cross(symbol) is not None or not len(minutes):
            return _runs_of_minutes(self, symbol, minutes)
        parts: list[NDArray[np.void]] = []
        days = minutes // MINUTES_PER_DAY
        bounds = np.flatnonzero(np.r_[True, days[1:] != days[:-1], True])
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            day = int(days[lo])
            cached = self._day(symbol, day)
            if cached is not None:
                rows = minutes[lo:hi] - day * MINUTES_PER_DAY
                parts.append(self.model(symbol).rows_grid(cached[0], rows).ticks())
        return _joined(parts)


class VariantFeed:
    """``inner`` answering for each symbol variant with its market's data (see the module
    docstring); base symbols pass through unchanged."""

    def __init__(self, inner: PriceFeed, catalogue: Catalogue) -> None:
        self._inner = inner
        self._market = {spec.name: spec.market for spec in catalogue.all() if spec.market}

    def day_bars(self, symbol: str, day: int) -> NDArray[np.void]:
        return self._inner.day_bars(self._market.get(symbol, symbol), day)

    def minute_ticks(self, symbol: str, first: int, stop: int) -> NDArray[np.void]:
        return self._inner.minute_ticks(self._market.get(symbol, symbol), first, stop)

    def is_open(self, symbol: str, server_seconds: float) -> bool:
        return self._inner.is_open(self._market.get(symbol, symbol), server_seconds)

    def ticks_of_minutes(self, symbol: str, minutes: NDArray[np.int64]) -> NDArray[np.void]:
        return ticks_of_minutes(self._inner, self._market.get(symbol, symbol), minutes)


class MinuteSetFeed(Protocol):
    """A feed that reads the ticks of scattered minutes at once (see :func:`ticks_of_minutes`)."""

    def ticks_of_minutes(self, symbol: str, minutes: NDArray[np.int64]) -> NDArray[np.void]: ...


def ticks_of_minutes(feed: PriceFeed, symbol: str, minutes: NDArray[np.int64]) -> NDArray[np.void]:
    """Every tick of ``minutes`` (increasing server minutes) from ``feed``, in order: the
    feed's own :meth:`~GeneratedFeed.ticks_of_minutes` where it has one, else
    :meth:`~PriceFeed.minute_ticks` of each run of consecutive minutes."""
    reader = getattr(feed, "ticks_of_minutes", None)
    if reader is not None:
        return cast("MinuteSetFeed", feed).ticks_of_minutes(symbol, minutes)
    return _runs_of_minutes(feed, symbol, minutes)


def _runs_of_minutes(feed: PriceFeed, symbol: str, minutes: NDArray[np.int64]) -> NDArray[np.void]:
    if not len(minutes):
        return _EMPTY_TICKS
    breaks = np.flatnonzero(np.r_[True, minutes[1:] != minutes[:-1] + 1, True])
    parts = [
        feed.minute_ticks(symbol, int(minutes[lo]), int(minutes[hi - 1]) + 1)
        for lo, hi in zip(breaks[:-1].tolist(), breaks[1:].tolist(), strict=True)
    ]
    return _joined([part for part in parts if len(part)])


def _joined(parts: list[NDArray[np.void]]) -> NDArray[np.void]:
    if not parts:
        return _EMPTY_TICKS
    return parts[0] if len(parts) == 1 else np.concatenate(parts)

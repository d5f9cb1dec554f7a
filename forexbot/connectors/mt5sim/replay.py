"""Replaying MetaTrader 5 CSV exports as the terminal's market data (a :class:`PriceFeed`).

``SimulatedTerminal(replay={"EURUSD": "EURUSD_M1_2024.csv"})``, or
``ReplayFeed.from_files({...})`` for the feed alone. Each symbol takes one export or a list of
them (same kind, and for bars the same timeframe; they must not overlap). Rules:

* **A bars export comes back exactly**: ``copy_rates_*`` for the export's timeframe returns its
  bars (same open, high, low, close, tick_volume, spread, real_volume); longer timeframes are
  their aggregates; shorter ones and ticks are synthesised inside each bar (:mod:`intrabar`),
  staying within its range, so SL/TP and pending orders trigger as the bars say. The
  timeframe is the ``timeframe`` argument, else the MT5 export's file name
  (``EURUSD_H1_202401020000_202401312300.csv``), else the largest timeframe the bar times are
  aligned on and spaced by. W1/MN1 exports cannot be replayed (their bars do not divide into
  days): export D1 or shorter.
* **A ticks export comes back exactly** through ``copy_ticks_*``, and the M1 bars (so every
  timeframe) are built from those ticks the way the terminal builds its own.
* **Times** in the files are broker server time and are used as they are: the simulator's
  server clock (New York + 7 h) is assumed to be the broker's.
* **Outside the data** a replayed symbol has no ticks: before its first bar or tick it has no
  history and no quote; after its last one its quote stays at the last tick (like a weekend)
  and the market is closed (``order_send`` gets 10018). The clock is not stopped: a backtest
  reads :attr:`ReplayFeed.end` (or ``SimulatedTerminal.replay_end``) to know when to stop.
  Within the data, the market is closed in every hole of at least 15 minutes and one bar
  (weekends, holidays, session breaks, a missing H1 bar): from the end of the last bar before
  it to the first bar after it. Shorter holes (quiet minutes in M1 data) stay open.
* **Symbol variants** (``EURUSD.pro``, :mod:`symbols`) quote their market's replayed data;
  a variant itself cannot be replayed.
* **Other symbols** keep the statistical feed (``fallback``), so currency conversions and the
  rest of the catalogue keep working; with ``fallback=None`` they are absent (no quotes).
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from . import intrabar
from .feed import LRU, PriceFeed
from .grid import m1_from_ticks
from .mt5csv import Export, ReplayDataError, read_export
from .rng import derive_key
from .structures import RATES_DTYPE, TICKS_DTYPE
from .symbols import Catalogue, SymbolSpec
from .timeutil import DAY, FIXED_TIMEFRAMES

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class ReplayBars:
    """Bars already in memory (``RATES_DTYPE``, server time, in order) of ``period`` seconds:
    bars read from the database, say, replayed exactly like an export of them."""

    bars: NDArray[np.void]
    period: int


ReplaySource = PathLike | Sequence[PathLike] | ReplayBars
Array = NDArray[np.void]

_TIMEFRAME_NAMES = {
    "M1": 60, "M2": 120, "M3": 180, "M4": 240, "M5": 300, "M6": 360, "M10": 600, "M12": 720,
    "M15": 900, "M20": 1200, "M30": 1800, "H1": 3600, "H2": 7200, "H3": 10800, "H4": 14400,
    "H6": 21600, "H8": 28800, "H12": 43200, "D1": DAY, "W1": -1, "MN1": -1, "MN": -1,
}  # fmt: skip
_NAME_TOKEN = re.compile(r"(?:^|[_\-. ])(" + "|".join(_TIMEFRAME_NAMES) + r")(?=$|[_\-. ])")


class ReplaySeries(Protocol):
    """One symbol's replayed data; ``start``/``end`` bound it in server seconds."""

    start: int
    end: int

    def day_bars(self, day: int) -> Array: ...

    def minute_ticks(self, first: int, stop: int) -> Array: ...

    def trades_on(self, day: int) -> bool: ...

    def is_open(self, server_seconds: float) -> bool: ...

    def are_open(self, server_seconds: NDArray[np.float64]) -> NDArray[np.bool_]: ...


#: Days of longer bars expanded into M1 bars in one call (see BarSeries._expand_from).
_EXPAND_DAYS = 32

#: A hole in replayed data at least this long (and at least one bar) is a closed market.
CLOSED_GAP = 15 * 60


def covered(times: NDArray[np.int64], period: int, server_seconds: float) -> bool:
    """Whether bars opening at ``times`` (each ``period`` long) say the market is open at
    ``server_seconds``: inside a bar, or in a hole between bars shorter than
    :data:`CLOSED_GAP` (a quiet minute is not a closed market; a session break is)."""
    # The same index as searching the float, without casting the whole array to floats.
    i = int(np.searchsorted(times, math.floor(server_seconds), side="right")) - 1
    if i < 0:
        return False
    end = int(times[i]) + period
    if server_seconds < end:
        return True
    return i + 1 < len(times) and int(times[i + 1]) - end < CLOSED_GAP


def covered_all(
    times: NDArray[np.int64], period: int, server_seconds: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """:func:`covered` at each of ``server_seconds`` at once, with the same arithmetic."""
    i = np.searchsorted(times, np.floor(server_seconds).astype(np.int64), side="right") - 1
    known = i >= 0
    safe = np.maximum(i, 0)
    end = times[safe] + period
    following = np.minimum(safe + 1, len(times) - 1)
    quiet = (safe + 1 < len(times)) & (times[following] - end < CLOSED_GAP)
    result: NDArray[np.bool_] = known & ((server_seconds < end) | quiet)
    return result


def _frozen(array: Array) -> Array:
    array.flags.writeable = False
    return array


class BarSeries:
    """Bars of one timeframe; M1 bars and ticks inside them are synthesised on demand."""

    def __init__(
        self, bars: Array, period: int, spec: SymbolSpec, key: int, cache_days: int = 256
    ) -> None:
        self._bars = _frozen(bars)
        self._period = period
        self._spec = spec
        self._key = key
        self._times = np.ascontiguousarray(bars["time"])  # searched on every is_open
        self._bar_days = self._times // DAY
        self.start = int(bars["time"][0])
        self.end = int(bars["time"][-1]) + period
        self._days: LRU[int, Array] = LRU(cache_days)
        self._minutes: LRU[int, Array] = LRU(4_096)

    def trades_on(self, day: int) -> bool:
        return bool(np.searchsorted(self._bar_days, day, side="right") > self._first(day))

    def is_open(self, server_seconds: float) -> bool:
        return covered(self._times, self._period, server_seconds)

    def are_open(self, server_seconds: NDArray[np.float64]) -> NDArray[np.bool_]:
        return covered_all(self._times, self._period, server_seconds)

    def _first(self, day: int) -> int:
        return int(np.searchsorted(self._bar_days, day))

    def day_bars(self, day: int) -> Array:
        lo, hi = self._first(day), int(np.searchsorted(self._bar_days, day, side="right"))
        if self._period == 60 or lo == hi:
            return self._bars[lo:hi]
        cached = self._days.get(day)
        if cached is None:
            cached = self._expand_from(day, lo)
        return cached

    def _expand_from(self, day: int, lo: int) -> Array:
        """The M1 bars of ``day``'s bars, expanded with the next days' (up to a quarter of the
        cache) in one call, each day cached: a backtest reads its days in turn, and one call
        a day cost more than its arithmetic."""
        ahead = max(1, min(_EXPAND_DAYS, self._days.capacity // 4))
        stop = int(np.searchsorted(self._bar_days, day + ahead))
        bars = self._bars[lo:stop]
        minutes = self._period // 60
        expanded = intrabar.expand_many(bars, minutes, self._key, self._spec.digits)
        ends = np.cumsum(intrabar.m1_counts(bars, minutes))
        days = self._bar_days[lo:stop]
        cuts = np.flatnonzero(days[1:] != days[:-1]) + 1  # the first bar of each next day
        edges = [0, *ends[cuts - 1].tolist(), len(expanded)]
        firsts = [int(days[0]), *days[cuts].tolist()]
        wanted = expanded[: edges[1]]
        for i, bar_day in enumerate(firsts):
            part = _frozen(expanded[edges[i] : edges[i + 1]])
            self._days.put(int(bar_day), part)
            if bar_day == day:
                wanted = part
        return wanted

    def minute_ticks(self, first: int, stop: int) -> Array:
        parts: list[Array] = []
        for day in range(first // 1440, (stop - 1) // 1440 + 1):
            bars = self.day_bars(day)
            minutes = bars["time"] // 60
            lo = int(np.searchsorted(minutes, first))
            hi = int(np.searchsorted(minutes, stop))
            for i in range(lo, hi):
                parts.append(self._ticks(int(minutes[i]), bars[i]))
        if not parts:
            return np.zeros(0, dtype=TICKS_DTYPE)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def m1_span(self, start: int, stop: int) -> Array | None:
        """The M1 bars opening in ``[start, stop)`` (server seconds) when the bars are M1: a
        read-only view of them, which is what joining their :meth:`day_bars` gives."""
        if self._period != 60:
            return None
        times = self._times
        return self._bars[int(np.searchsorted(times, start)) : int(np.searchsorted(times, stop))]

    def opening_tick(self, minute: int) -> Array | None:
        """The first tick of ``minute`` (at its start), or ``None`` when it has no bar."""
        bars = self.day_bars(minute // 1440)
        i = int(np.searchsorted(bars["time"], minute * 60))
        if i == len(bars) or int(bars["time"][i]) != minute * 60:
            return None
        return intrabar.first_tick(bars[i], self._spec.digits, self._spec.point)

    def opening_ticks(self, minutes: NDArray[np.int64]) -> tuple[NDArray[np.bool_], Array]:
        """:meth:`opening_tick` of each of ``minutes`` (increasing) at once: whether the
        minute has a bar, and the tick (zeros where it has none)."""
        out = np.zeros(len(minutes), dtype=TICKS_DTYPE)
        have = np.zeros(len(minutes), dtype=np.bool_)
        if not len(minutes):
            return have, out
        days = minutes // 1440
        bounds = np.flatnonzero(np.r_[True, days[1:] != days[:-1], True])
        spec = self._spec
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            bars = self.day_bars(int(days[lo]))
            if not len(bars):
                continue
            starts = minutes[lo:hi] * 60
            i = np.minimum(np.searchsorted(bars["time"], starts), len(bars) - 1)
            found = bars["time"][i] == starts
            have[lo:hi] = found
            rows = bars[i[found]]
            # intrabar.first_tick, bar by bar: the open, ask = open + the bar's spread
            bid = rows["open"].astype(np.float64)
            ask = np.round(bid + rows["spread"].astype(np.int64) * spec.point, spec.digits)
            ticks = out[lo:hi]
            ticks["time_msc"][found] = starts[found] * 1000
            ticks["time"][found] = starts[found]
            ticks["bid"][found] = bid
            ticks["ask"][found] = ask
            ticks["flags"][found] = intrabar.BOTH_FLAGS
        return have, out

    def _ticks(self, minute: int, bar: Array) -> Array:
        cached = self._minutes.get(minute)
        if cached is None:
            spec = self._spec
            cached = _frozen(intrabar.ticks(bar, self._key, spec.digits, spec.point))
            self._minutes.put(minute, cached)
        return cached


class TickSeries:
    """Ticks as exported; M1 bars built from them once, at load."""

    def __init__(self, ticks: Array, spec: SymbolSpec) -> None:
        self._ticks = _frozen(ticks)
        self._msc = np.ascontiguousarray(ticks["time_msc"])
        self._m1 = _frozen(m1_from_ticks(ticks, spec.point))
        self._m1_times = np.ascontiguousarray(self._m1["time"])
        self._bar_days = self._m1_times // DAY
        self.start = int(ticks["time"][0])
        self.end = int(ticks["time_msc"][-1]) // 1000 + 1

    def trades_on(self, day: int) -> bool:
        lo = np.searchsorted(self._bar_days, day)
        return bool(np.searchsorted(self._bar_days, day, side="right") > lo)

    def is_open(self, server_seconds: float) -> bool:
        return covered(self._m1_times, 60, server_seconds)

    def are_open(self, server_seconds: NDArray[np.float64]) -> NDArray[np.bool_]:
        return covered_all(self._m1_times, 60, server_seconds)

    def day_bars(self, day: int) -> Array:
        lo = int(np.searchsorted(self._bar_days, day))
        return self._m1[lo : int(np.searchsorted(self._bar_days, day, side="right"))]

    def minute_ticks(self, first: int, stop: int) -> Array:
        msc = self._msc
        lo = int(np.searchsorted(msc, first * 60_000))
        return self._ticks[lo : int(np.searchsorted(msc, stop * 60_000))]


_EMPTY_BARS = _frozen(np.zeros(0, dtype=RATES_DTYPE))
_EMPTY_TICKS = _frozen(np.zeros(0, dtype=TICKS_DTYPE))


class ReplayFeed:
    """Replayed symbols over an optional fallback feed; see the module docstring."""

    def __init__(self, series: Mapping[str, ReplaySeries], fallback: PriceFeed | None) -> None:
        self._series = dict(series)
        self._fallback = fallback

    @classmethod
    def from_files(
        cls,
        files: Mapping[str, ReplaySource],
        *,
        catalogue: Catalogue | None = None,
        fallback: PriceFeed | None = None,
        seed: int = 0,
        timeframe: int | None = None,
        cache_days: int = 256,
    ) -> ReplayFeed:
        """Load MT5 exports per symbol; raises :class:`ReplayDataError` on unusable input."""
        catalogue = catalogue or Catalogue()
        if timeframe is not None and timeframe not in FIXED_TIMEFRAMES:
            raise ReplayDataError(f"cannot replay timeframe {timeframe}: use M1 to D1 bars")
        series: dict[str, ReplaySeries] = {}
        for symbol, source in files.items():
            spec = catalogue.get(symbol)
            if spec is None:
                raise ReplayDataError(f"cannot replay {symbol!r}: not a symbol of the simulator")
            if spec.market:
                raise ReplayDataError(
                    f"cannot replay {symbol!r}: it quotes {spec.market}'s prices, replay "
                    f"{spec.market} instead"
                )
            if isinstance(source, ReplayBars):
                series[symbol] = _bar_series(symbol, source, spec, seed, cache_days)
                continue
            paths = [source] if isinstance(source, str | os.PathLike) else list(source)
            if not paths:
                raise ReplayDataError(f"no file given for {symbol}")
            exports = sorted((read_export(p) for p in paths), key=_first_time)
            series[symbol] = _series(symbol, exports, spec, seed, timeframe, cache_days)
        return cls(series, fallback)

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(self._series)

    def span(self, symbol: str) -> tuple[int, int] | None:
        """(first, end) of a replayed symbol's data in server seconds (end exclusive)."""
        s = self._series.get(symbol)
        return None if s is None else (s.start, s.end)

    @property
    def end(self) -> int | None:
        """Server time (seconds) after which no replayed symbol has data."""
        return max((s.end for s in self._series.values()), default=None)

    def day_bars(self, symbol: str, day: int) -> Array:
        s = self._series.get(symbol)
        if s is not None:
            return s.day_bars(day)
        return self._fallback.day_bars(symbol, day) if self._fallback else _EMPTY_BARS

    def minute_ticks(self, symbol: str, first: int, stop: int) -> Array:
        s = self._series.get(symbol)
        if s is not None:
            return s.minute_ticks(first, stop)
        return self._fallback.minute_ticks(symbol, first, stop) if self._fallback else _EMPTY_TICKS

    def m1_span(self, symbol: str, start: int, stop: int) -> Array | None:
        """The complete M1 bars opening in ``[start, stop)`` (server seconds) of a symbol
        replayed from M1 bars, as a read-only view (not a copy of a million bars): what
        joining its ``day_bars`` over the span gives. ``None`` for other data."""
        s = self._series.get(symbol)
        return s.m1_span(start, stop) if isinstance(s, BarSeries) else None

    def opening_tick(self, symbol: str, minute: int) -> Array | None:
        """The tick at the start of ``minute`` (server epoch // 60) of a symbol replayed from
        bars, so the last tick at that instant: ``minute_ticks(symbol, minute, minute + 1)[:1]``
        without synthesising the minute's other ticks. ``None`` when the minute has no bar or
        the symbol is not replayed from bars (ask the ticks then)."""
        s = self._series.get(symbol)
        return s.opening_tick(minute) if isinstance(s, BarSeries) else None

    def opening_ticks(
        self, symbol: str, minutes: NDArray[np.int64]
    ) -> tuple[NDArray[np.bool_], Array] | None:
        """:meth:`opening_tick` at each of ``minutes`` (increasing) in one pass: (whether
        the minute has a bar, the ticks, zeros where it has none); ``None`` when the symbol is
        not replayed from bars."""
        s = self._series.get(symbol)
        return s.opening_ticks(minutes) if isinstance(s, BarSeries) else None

    def are_open(self, symbol: str, server_seconds: NDArray[np.float64]) -> NDArray[np.bool_]:
        """:meth:`is_open` at each of ``server_seconds`` (increasing) at once."""
        s = self._series.get(symbol)
        if s is None:
            opened = [self.is_open(symbol, float(t)) for t in server_seconds.tolist()]
            return np.array(opened, dtype=np.bool_)
        inside = (s.start <= server_seconds) & (server_seconds < s.end)
        result: NDArray[np.bool_] = inside & s.are_open(server_seconds)
        return result

    def is_open(self, symbol: str, server_seconds: float) -> bool:
        s = self._series.get(symbol)
        if s is None:
            return self._fallback.is_open(symbol, server_seconds) if self._fallback else False
        return s.start <= server_seconds < s.end and s.is_open(server_seconds)


def _first_time(export: Export) -> int:
    return int(export.data["time"][0])


def _series(
    symbol: str,
    exports: list[Export],
    spec: SymbolSpec,
    seed: int,
    timeframe: int | None,
    cache_days: int = 256,
) -> ReplaySeries:
    kinds = {e.kind for e in exports}
    if len(kinds) > 1:
        names = ", ".join(str(e.path) for e in exports)
        raise ReplayDataError(f"{symbol}: cannot mix bars and ticks exports ({names})")
    for before, after in itertools.pairwise(exports):
        last = before.data["time_msc" if before.kind == "ticks" else "time"][-1]
        first = after.data["time_msc" if after.kind == "ticks" else "time"][0]
        if first <= last:
            raise ReplayDataError(f"{after.path} overlaps {before.path}")
    data = exports[0].data if len(exports) == 1 else np.concatenate([e.data for e in exports])
    if exports[0].kind == "ticks":
        return TickSeries(data, spec)
    periods = {_period(e, timeframe) for e in exports}
    if len(periods) > 1:
        raise ReplayDataError(f"{symbol}: the exports have different timeframes")
    key = derive_key(seed, symbol, "replay")
    return BarSeries(data, periods.pop(), spec, key, cache_days)


def _bar_series(
    symbol: str, source: ReplayBars, spec: SymbolSpec, seed: int, cache_days: int
) -> BarSeries:
    bars = source.bars
    if source.period not in FIXED_TIMEFRAMES.values():
        raise ReplayDataError(f"cannot replay {source.period} s bars of {symbol}: use M1 to D1")
    if bars.dtype != RATES_DTYPE or not len(bars):
        raise ReplayDataError(f"no bars of {symbol} to replay")
    if np.any(np.diff(bars["time"]) <= 0):
        raise ReplayDataError(f"the bars of {symbol} are not in time order")
    return BarSeries(bars, source.period, spec, derive_key(seed, symbol, "replay"), cache_days)


def bars_period(export: Export) -> int:
    """The period in seconds of a bars export, from its file name or else its bar spacing
    (:class:`ReplayDataError` for W1/MN1 or bars off their period's boundaries)."""
    return _period(export, None)


def _period(export: Export, timeframe: int | None) -> int:
    """The bars' period in seconds: the argument, the file name, or the spacing."""
    times = export.data["time"]
    if timeframe is not None:
        period = FIXED_TIMEFRAMES[timeframe]
    else:
        tokens = _NAME_TOKEN.findall(export.path.stem)
        period = _TIMEFRAME_NAMES[tokens[0]] if tokens else _inferred(times)
        if period < 0:
            raise ReplayDataError(f"{export.path}: W1/MN1 bars cannot be replayed, export D1")
    misaligned = np.flatnonzero(times % period)
    if misaligned.size:
        when = np.datetime64(int(times[misaligned[0]]), "s")
        raise ReplayDataError(f"{export.path}: bar at {when} is not on a {period} s boundary")
    return period


def _inferred(times: NDArray[np.int64]) -> int:
    spacing = int(np.diff(times).min()) if len(times) > 1 else DAY
    for period in sorted(FIXED_TIMEFRAMES.values(), reverse=True):
        if period <= spacing and not np.any(times % period):
            return period
    return 60


__all__ = [
    "BarSeries",
    "ReplayDataError",
    "ReplayFeed",
    "ReplaySeries",
    "ReplaySource",
    "TickSeries",
]

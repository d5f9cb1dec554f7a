"""Liquidity analyser: the current spread and tick volume against their typical values.

Rules, on closed bars (causal: the reading at bar *t* uses bars ≤ *t* only):

* ``typical_spread[t]`` and ``typical_volume[t]`` are the medians of ``spread`` and
  ``tick_volume`` over the previous ``lookback`` bars ``t-lookback .. t-1`` (the current bar is
  what is being judged, so it is left out).
* ``spread_ratio = spread[t] / typical_spread[t]`` and
  ``volume_ratio = tick_volume[t] / typical_volume[t]``; a typical value of 0 gives a ratio of
  1 when the current value is 0 too, +∞ otherwise. A live quote's spread (in points) may be
  passed to replace the bar's.
* **Thin** when ``spread_ratio ≥ thin_spread_ratio`` or ``volume_ratio ≤ thin_volume_ratio``;
  **deep** when ``spread_ratio ≤ deep_spread_ratio`` and ``volume_ratio ≥ deep_volume_ratio``;
  **normal** otherwise.

Parameters (:class:`LiquidityParams`): ``lookback`` 50, ``thin_spread_ratio`` 1.5,
``thin_volume_ratio`` 0.5, ``deep_spread_ratio`` 1.0, ``deep_volume_ratio`` 1.5.

Two faces: :func:`analyse_liquidity` over a frame (``np.median``), and :class:`LiquidityStream`
one bar at a time in O(``lookback``) (:class:`RollingMedian`, a sorted copy of the window, with
``np.median``'s rule for an even count: the mean ``(a + b) / 2`` of the two middle values, the
same IEEE operations), equal bit for bit.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, model_validator


class LiquidityLevel(StrEnum):
    THIN = "thin"
    NORMAL = "normal"
    DEEP = "deep"


class LiquidityParams(BaseModel):
    """Parameters of the liquidity analyser."""

    model_config = {"extra": "forbid", "frozen": True}

    lookback: int = Field(50, ge=2, le=10_000)
    thin_spread_ratio: float = Field(1.5, gt=0)
    thin_volume_ratio: float = Field(0.5, ge=0)
    deep_spread_ratio: float = Field(1.0, gt=0)
    deep_volume_ratio: float = Field(1.5, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> LiquidityParams:
        if self.deep_spread_ratio >= self.thin_spread_ratio:
            raise ValueError(
                f"deep_spread_ratio ({self.deep_spread_ratio}) must be below "
                f"thin_spread_ratio ({self.thin_spread_ratio})"
            )
        if self.thin_volume_ratio >= self.deep_volume_ratio:
            raise ValueError(
                f"thin_volume_ratio ({self.thin_volume_ratio}) must be below "
                f"deep_volume_ratio ({self.deep_volume_ratio})"
            )
        return self

    @property
    def min_bars(self) -> int:
        """Bars needed for a reading on the last one."""
        return self.lookback + 1


@dataclass(frozen=True, slots=True)
class LiquidityReading:
    """Liquidity at one closed bar."""

    spread: float
    typical_spread: float
    spread_ratio: float
    tick_volume: float
    typical_volume: float
    volume_ratio: float
    level: LiquidityLevel


def ratio(current: float, typical: float) -> float:
    """``current / typical`` with 0/0 = 1 and x/0 = +∞."""
    if typical == 0:
        return 1.0 if current == 0 else math.inf
    return current / typical


def level_of(spread_ratio: float, volume_ratio: float, params: LiquidityParams) -> LiquidityLevel:
    """The liquidity level for the two ratios."""
    if spread_ratio >= params.thin_spread_ratio or volume_ratio <= params.thin_volume_ratio:
        return LiquidityLevel.THIN
    if spread_ratio <= params.deep_spread_ratio and volume_ratio >= params.deep_volume_ratio:
        return LiquidityLevel.DEEP
    return LiquidityLevel.NORMAL


def reading_of(
    spread: float,
    typical_spread: float,
    volume: float,
    typical_volume: float,
    params: LiquidityParams,
) -> LiquidityReading:
    """The reading for the current spread and volume against their typical values."""
    s_ratio = ratio(spread, typical_spread)
    v_ratio = ratio(volume, typical_volume)
    return LiquidityReading(
        spread=spread,
        typical_spread=typical_spread,
        spread_ratio=s_ratio,
        tick_volume=volume,
        typical_volume=typical_volume,
        volume_ratio=v_ratio,
        level=level_of(s_ratio, v_ratio, params),
    )


def analyse_liquidity(
    bars: pd.DataFrame,
    params: LiquidityParams | None = None,
    *,
    current_spread: float | None = None,
) -> LiquidityReading:
    """The reading on the last bar of ``bars`` (``ValueError`` if too few bars)."""
    p = params or LiquidityParams()
    if len(bars) < p.min_bars:
        raise ValueError(f"liquidity needs at least {p.min_bars} bars, got {len(bars)}")
    spreads = bars["spread"].to_numpy(dtype="float64")
    volumes = bars["tick_volume"].to_numpy(dtype="float64")
    return reading_of(
        float(spreads[-1]) if current_spread is None else float(current_spread),
        float(np.median(spreads[-p.lookback - 1 : -1])),
        float(volumes[-1]),
        float(np.median(volumes[-p.lookback - 1 : -1])),
        p,
    )


class RollingMedian:
    """``np.median`` of the last ``size`` values pushed (NaN-free values only)."""

    __slots__ = ("_size", "_sorted", "_window")

    def __init__(self, size: int) -> None:
        self._size = size
        self._window: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._window)

    def push(self, value: float) -> None:
        """Add a value, dropping the oldest beyond ``size``."""
        self._window.append(value)
        insort(self._sorted, value)
        if len(self._window) > self._size:
            del self._sorted[bisect_left(self._sorted, self._window.popleft())]

    def median(self) -> float:
        """The median of the values held (at least one)."""
        values, mid = self._sorted, len(self._sorted) // 2
        if len(values) % 2:
            return values[mid]
        return (values[mid - 1] + values[mid]) / 2


class LiquidityStream:
    """:func:`analyse_liquidity` one bar at a time: ``update`` gives the reading on the bar, as
    the frame face gives it on the last of every bar fed so far (``None`` before
    ``min_bars``)."""

    __slots__ = ("_params", "_spreads", "_volumes")

    def __init__(self, params: LiquidityParams) -> None:
        self._params = params
        self._spreads = RollingMedian(params.lookback)
        self._volumes = RollingMedian(params.lookback)

    def update(
        self, spread: float, volume: float, current_spread: float | None = None
    ) -> LiquidityReading | None:
        """Add the next bar's spread and tick volume; the reading on it (the medians are of
        the bars before it), with ``current_spread`` standing for the bar's if given."""
        reading = None
        if len(self._spreads) == self._params.lookback:
            reading = reading_of(
                spread if current_spread is None else float(current_spread),
                self._spreads.median(),
                volume,
                self._volumes.median(),
                self._params,
            )
        self._spreads.push(spread)
        self._volumes.push(volume)
        return reading

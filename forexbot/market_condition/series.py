"""The market condition detector's vectorised face: every bar of a frame at once.

The backtester asks for the condition at thousands of decision points of one long series.
Running :func:`~forexbot.market_condition.detector.detect` at each over a frame of bars costs
about a millisecond a call; :class:`ConditionSeries` computes each analyser's indicators over
the whole frame once, in O(n) (times the look-back windows), and then builds the condition
at any bar on request from that bar's values.

The promise: ``ConditionSeries(bars, …).at(i, current_spread)`` is exactly — every field
equal, floats to the last bit — ``detect(bars.iloc[: i + 1], …, current_spread=…)``, i.e.
the condition at bar *i* judged on every bar from the frame's first up to *i*, and also what
a :class:`~forexbot.market_condition.stream.ConditionStream` fed from the same first bar gives
on bar *i*. It holds because the indicators are causal and computed by the same functions
(:func:`~forexbot.market_condition.trend.trend_series`, the ATR of
:func:`~forexbot.market_condition.volatility.atr_percentile`; a prefix's values are the
whole series' values up to it), the ATR's percentile rank and the typical spread and volume
(``np.median`` of the ``lookback`` values before each bar) are computed for the bar asked
(:func:`~forexbot.market_condition.rolling.rank_at` and
:func:`~forexbot.market_condition.rolling.median_before`, compiled, bit for bit the numpy
definitions: a backtest asks for a few thousand bars of a million, where sliding windows over
every bar cost ~0.2 s), and the readings go through the same ``reading_of`` functions and
:func:`condition_of`.

Before ``min_bars`` bars :meth:`ConditionSeries.at` gives ``None`` (where :func:`detect`
raises); past it, it raises the ``ValueError`` :func:`detect` raises where an indicator is
undefined (a flat market makes the trend slope 0/0), with the same message.
"""

from __future__ import annotations

from datetime import UTC

import numpy as np
import numpy.typing as npt
import pandas as pd

from forexbot.domain.market import Timeframe
from forexbot.indicators import compiled
from forexbot.market_condition import liquidity, trend, volatility
from forexbot.market_condition.detector import DetectorParams, MarketCondition, condition_of
from forexbot.market_condition.rolling import median_before, previous_medians, rank_at

__all__ = ["ConditionSeries", "previous_medians"]

FloatArray = npt.NDArray[np.float64]


class ConditionSeries:
    """The market condition at every bar of one frame of bars, computed once."""

    __slots__ = (
        "_adx",
        "_atr",
        "_minus",
        "_params",
        "_plus",
        "_slope",
        "_spreads",
        "_symbol",
        "_synthetic",
        "_timeframe",
        "_times",
        "_volumes",
    )

    def __init__(
        self,
        bars: pd.DataFrame,
        symbol: str,
        timeframe: Timeframe,
        params: DetectorParams | None = None,
        *,
        synthetic: bool = False,
    ) -> None:
        """``bars``: the columns :func:`~forexbot.market_condition.detector.detect` reads,
        oldest first; every bar's condition is judged from the first row on."""
        p = params or DetectorParams()
        self._symbol = symbol
        self._timeframe = timeframe
        self._params = p
        self._synthetic = synthetic
        self._times = bars["time"]
        high = bars["high"].to_numpy(dtype="float64")
        low = bars["low"].to_numpy(dtype="float64")
        close = bars["close"].to_numpy(dtype="float64")
        t = trend.trend_series(high, low, close, p.trend)
        self._adx, self._plus, self._minus, self._slope = t.adx, t.plus_di, t.minus_di, t.slope
        # volatility.atr_percentile's ATR; its rank and the typical spread and volume are
        # computed for the bars asked (rolling.rank_at, rolling.median_before)
        self._atr = compiled.atr(high, low, close, p.volatility.atr_period)
        self._spreads = bars["spread"].to_numpy(dtype="float64")
        self._volumes = bars["tick_volume"].to_numpy(dtype="float64")

    def __len__(self) -> int:
        return len(self._spreads)

    def at(self, i: int, current_spread: float | None = None) -> MarketCondition | None:
        """The condition on bar ``i`` (0-based, non-negative) as :func:`detect` gives it over
        bars ``0 .. i``; ``None`` before ``min_bars`` bars. ``current_spread`` (points) stands
        for the bar's spread in its own liquidity reading, as in :func:`detect`."""
        if not 0 <= i < len(self._spreads):
            raise IndexError(f"bar {i} out of range for {len(self._spreads)} bars")
        bars = i + 1
        p = self._params
        if bars < p.min_bars:
            return None
        # detect()'s order: the trend reading first, so the same error wins
        trend_reading = trend.reading_of(
            float(self._adx[i]),
            float(self._plus[i]),
            float(self._minus[i]),
            float(self._slope[i]),
            p.trend,
            bars,
        )
        vol_reading = volatility.reading_of(
            float(self._atr[i]), rank_at(self._atr, p.volatility.lookback, i), p.volatility, bars
        )
        liq_reading = liquidity.reading_of(
            float(self._spreads[i]) if current_spread is None else float(current_spread),
            median_before(self._spreads, p.liquidity.lookback, i),
            float(self._volumes[i]),
            median_before(self._volumes, p.liquidity.lookback, i),
            p.liquidity,
        )
        return condition_of(
            self._symbol,
            self._timeframe,
            pd.Timestamp(self._times.array[i]).to_pydatetime().astimezone(UTC),
            trend_reading,
            vol_reading,
            liq_reading,
            synthetic=self._synthetic,
        )

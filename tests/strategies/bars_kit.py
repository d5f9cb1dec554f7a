"""Bar builders shared by the strategy tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forexbot.domain.market import Bar, Timeframe

T0 = 1_700_000_100 - 1_700_000_100 % 900
WICK = 0.25


def bars_from_closes(closes: Sequence[float] | np.ndarray, symbol: str = "TEST") -> list[Bar]:
    """M15 bars whose open is the previous close and whose wicks stick out by ``WICK``."""
    bars = []
    prev = float(closes[0])
    for i, raw in enumerate(closes):
        c = float(raw)
        bars.append(
            Bar(
                symbol=symbol,
                timeframe=Timeframe.M15,
                time=T0 + 900 * i,
                open=prev,
                high=max(prev, c) + WICK,
                low=min(prev, c) - WICK,
                close=c,
                tick_volume=10,
            )
        )
        prev = c
    return bars


def bars_from_ohlc(
    rows: Sequence[tuple[float, float, float, float]], symbol: str = "TEST"
) -> list[Bar]:
    """M15 bars from explicit ``(open, high, low, close)`` rows."""
    return [
        Bar(
            symbol=symbol,
            timeframe=Timeframe.M15,
            time=T0 + 900 * i,
            open=o,
            high=h,
            low=lo,
            close=c,
            tick_volume=10,
        )
        for i, (o, h, lo, c) in enumerate(rows)
    ]


def mirrored(bars: list[Bar], pivot: float = 500.0) -> list[Bar]:
    """Price reflected around ``pivot``: highs become lows, ATR is unchanged."""
    return [
        Bar(
            symbol=b.symbol,
            timeframe=b.timeframe,
            time=b.time,
            open=pivot - b.open,
            high=pivot - b.low,
            low=pivot - b.high,
            close=pivot - b.close,
            tick_volume=b.tick_volume,
        )
        for b in bars
    ]


def random_walk(seed: int, n: int, step: float = 0.0008, wick: float = 0.0003) -> list[Bar]:
    """EURUSD-like M15 bars: a Gaussian random walk of closes with random wicks."""
    rng = np.random.default_rng(seed)
    close = 1.1 + np.cumsum(rng.normal(0.0, step, n))
    highs = np.abs(rng.normal(0.0, wick, n))
    lows = np.abs(rng.normal(0.0, wick, n))
    bars = []
    prev = 1.1
    for i in range(n):
        c = float(close[i])
        bars.append(
            Bar(
                symbol="EURUSD",
                timeframe=Timeframe.M15,
                time=T0 + 900 * i,
                open=prev,
                high=max(prev, c) + float(highs[i]),
                low=min(prev, c) - float(lows[i]),
                close=c,
                tick_volume=10,
            )
        )
        prev = c
    return bars


def fired(frame: pd.DataFrame) -> list[int]:
    """Indices of the bars with a signal."""
    return [int(i) for i in np.flatnonzero(frame["signal"].to_numpy() != 0)]

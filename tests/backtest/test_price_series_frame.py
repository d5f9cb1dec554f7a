"""The strategy's DataFrame of a PriceSeries holds its bars, and what a strategy writes into
the frame never changes the series the backtest trades on."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forexbot.backtest.prices import PriceSeries
from forexbot.domain.market import Timeframe


def _series() -> PriceSeries:
    close = np.array([1.1, 1.2, 1.3])
    return PriceSeries(
        symbol="EURUSD",
        timeframe=Timeframe.M1,
        time=np.array([1_700_000_000, 1_700_000_060, 1_700_000_120], dtype=np.int64),
        open=close - 0.05,
        high=close + 0.1,
        low=close - 0.1,
        close=close,
        tick_volume=np.array([5, 6, 7], dtype=np.int64),
        spread=np.array([1, 2, 3], dtype=np.int64),
        real_volume=np.zeros(3, dtype=np.int64),
        first=0,
    )


def test_the_frame_holds_the_bars() -> None:
    frame = _series().frame()
    assert frame["close"].tolist() == [1.1, 1.2, 1.3]
    assert frame["spread"].tolist() == [1, 2, 3]
    assert frame["time"].iloc[1] == pd.Timestamp(1_700_000_060, unit="s", tz="UTC")


def test_writing_into_the_frame_leaves_the_series_unchanged() -> None:
    series = _series()
    frame = series.frame()
    frame.loc[0, "close"] = 9.0
    frame["high"] *= 2
    frame.iloc[2, frame.columns.get_loc("tick_volume")] = 0
    assert series.close.tolist() == [1.1, 1.2, 1.3]
    assert series.high.tolist() == [1.2000000000000002, 1.3, 1.4000000000000001]
    assert series.tick_volume.tolist() == [5, 6, 7]

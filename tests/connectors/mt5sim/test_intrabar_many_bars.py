"""The M1 bars inside many longer bars computed at once: bit for bit each bar's own
expansion joined in order, whatever the bars' shapes (flat bars, one tick, fewer ticks than
turning points, more ticks than minutes), periods and digits; the interpolation it uses row
by row is numpy's; and a replayed day read in any order, expanded with the days after it,
is its own bars' expansion."""

from __future__ import annotations

import numpy as np
import pytest

from forexbot.connectors.mt5sim import intrabar
from forexbot.connectors.mt5sim.replay import BarSeries
from forexbot.connectors.mt5sim.structures import RATES_DTYPE
from forexbot.connectors.mt5sim.symbols import Catalogue

HOUR_2024 = 1_704_067_200 // 3_600 * 3_600


def _bars(n: int, seed: int, period: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bars = np.zeros(n, dtype=RATES_DTYPE)
    bars["time"] = HOUR_2024 + np.arange(n) * period
    o = np.round(1.08 + rng.normal(scale=1e-3, size=n), 5)
    c = np.where(rng.random(n) < 0.15, o, np.round(o + rng.normal(scale=3e-4, size=n), 5))
    bars["open"], bars["close"] = o, c
    bars["high"] = np.maximum(o, c) + np.round(rng.random(n) * 2e-4, 5) * (rng.random(n) < 0.7)
    bars["low"] = np.minimum(o, c) - np.round(rng.random(n) * 2e-4, 5) * (rng.random(n) < 0.7)
    few = rng.integers(0, 6, n)  # 0 and 1 tick, fewer ticks than turning points
    bars["tick_volume"] = np.where(rng.random(n) < 0.3, few, rng.integers(0, 5_000, n))
    bars["real_volume"] = rng.integers(0, 10**6, n)
    bars["spread"] = rng.integers(0, 30, n)
    return bars


@pytest.mark.parametrize(("minutes", "digits"), [(60, 5), (240, 5), (5, 3), (1_440, 2)])
def test_many_bars_expand_as_each_bar_does(minutes: int, digits: int) -> None:
    bars = _bars(3_000, minutes, minutes * 60)
    expected = np.concatenate([intrabar.expand(bar, minutes, 91, digits) for bar in bars])
    assert intrabar.expand_many(bars, minutes, 91, digits).tobytes() == expected.tobytes()


def test_one_bar_and_no_bars_expand_as_expand_does() -> None:
    bars = _bars(1, 4, 3_600)
    expected = intrabar.expand(bars[0], 60, 5, 5)
    assert intrabar.expand_many(bars, 60, 5, 5).tobytes() == expected.tobytes()
    assert len(intrabar.expand_many(bars[:0], 60, 5, 5)) == 0


def test_rows_interpolate_as_numpy_does() -> None:
    rng = np.random.default_rng(9)
    for n, anchors in ((2, 2), (61, 2), (61, 3), (61, 4), (5, 4), (1_441, 4)):
        positions = np.floor(np.arange(anchors) * (n - 1) / (anchors - 1) + 0.5).astype(np.int64)
        steps = np.arange(n, dtype=np.float64)
        values = np.round(1.0 + rng.normal(scale=1e-3, size=(200, anchors)), 5)
        got = intrabar._interp_rows(steps, positions, values)
        for row, expected in zip(got, values, strict=True):
            assert row.tobytes() == np.interp(steps, positions, expected).tobytes()


@pytest.mark.parametrize("cache_days", [1, 4, 256])
@pytest.mark.parametrize("period", [3_600, 14_400])
def test_replayed_days_read_in_any_order_are_their_bars_expanded(
    cache_days: int, period: int
) -> None:
    # Longer bars are expanded several days at a time into a bounded cache: whatever the
    # order days are read in, a day is its own bars' expansion.
    bars = _bars(1_500, period, period)
    keep = np.random.default_rng(period).random(len(bars)) < 0.8  # holes in the days
    bars = bars[keep]
    spec = Catalogue().get("EURUSD")
    assert spec is not None
    series = BarSeries(bars, period, spec, 17, cache_days)
    days = bars["time"] // 86_400
    order = np.random.default_rng(cache_days).permutation(np.arange(days[0] - 1, days[-1] + 2))
    for day in [*order.tolist(), *order.tolist()]:
        own = bars[days == day]
        got = series.day_bars(day)
        if not len(own):
            assert len(got) == 0
            continue
        expected = np.concatenate([intrabar.expand(b, period // 60, 17, spec.digits) for b in own])
        assert got.tobytes() == expected.tobytes()

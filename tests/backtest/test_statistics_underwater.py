"""The longest drawdown duration over whole arrays is the point-by-point loop's, to the bit,
on random curves with ties, plateaus, recoveries and a curve that ends under water."""

from __future__ import annotations

import numpy as np
import pytest

from forexbot.backtest.statistics import (
    EquityCurve,
    _longest_underwater,
    _longest_underwater_loop,
)


def _curve(rng: np.random.Generator, n: int, kind: str) -> EquityCurve:
    time = np.cumsum(rng.integers(1, 4, n) * 60.0) + 1_700_000_000.0
    if kind == "steps":  # few values: many ties with the peak
        equity = 10_000.0 + rng.integers(-3, 4, n).cumsum().clip(-5, 5).astype(np.float64)
    elif kind == "walk":
        equity = 10_000.0 + np.round(np.cumsum(rng.normal(size=n)), 2)
    else:  # rising: new peaks almost every point
        equity = 10_000.0 + np.arange(n) - (rng.random(n) < 0.1)
    return EquityCurve(time, equity)


@pytest.mark.parametrize("kind", ["steps", "walk", "rising"])
def test_the_array_form_is_the_loop(kind: str) -> None:
    rng = np.random.default_rng(len(kind))
    for n in (1, 2, 3, 10, 500):
        for _ in range(40):
            curve = _curve(rng, n, kind)
            end = float(curve.time[-1]) + 3_600.0
            got = _longest_underwater(curve, end)
            assert got.hex() == _longest_underwater_loop(curve, end).hex()


def test_a_curve_ending_under_water_counts_up_to_the_end() -> None:
    curve = EquityCurve(np.array([0.0, 60.0, 120.0, 180.0]), np.array([10.0, 12.0, 11.0, 11.5]))
    assert _longest_underwater(curve, 600.0) == 540.0


def test_a_curve_with_nan_goes_point_by_point() -> None:
    curve = EquityCurve(np.array([0.0, 60.0, 120.0, 180.0]), np.array([10.0, np.nan, 9.0, 10.0]))
    assert _longest_underwater(curve, 600.0) == _longest_underwater_loop(curve, 600.0) == 180.0

"""Every strategy on real market data: EURUSD hourly bars, April 2017 – February 2018, as
shipped by the ``backtesting`` package (a test-only dependency). The two faces must agree and
no signal may depend on a later bar, on real prices as on generated ones."""

from __future__ import annotations

from datetime import UTC

import pytest
from backtesting.test import EURUSD
from bars_kit import assert_faces_agree, assert_no_look_ahead

from forexbot.domain.market import Bar, Timeframe
from forexbot.strategies import STRATEGIES, create

# Minimum signals on the 5,000 bars (no look-ahead) and on the last 1,000 (live agreement):
# what the defaults produce on this data, rounded down, so the checks cannot pass vacuously.
MINIMUMS = {"ma_rsi": (5, 1), "stochastic_cross": (100, 10), "break_and_retest": (20, 3),
            "jhook": (20, 3), "sma_cross": (200, 40)}  # fmt: skip


def eurusd_bars() -> list[Bar]:
    frame = EURUSD.tz_localize(UTC)
    return [
        Bar("EURUSD", Timeframe.H1, int(ts.timestamp()), float(row.Open), float(row.High),
            float(row.Low), float(row.Close), int(row.Volume))
        for ts, row in zip(frame.index, frame.itertuples(index=False), strict=True)
    ]  # fmt: skip


BARS = eurusd_bars()


def test_every_registered_strategy_is_covered() -> None:
    assert set(MINIMUMS) == set(STRATEGIES)


@pytest.mark.parametrize("name", sorted(MINIMUMS))
def test_no_look_ahead_on_real_eurusd(name: str) -> None:
    assert_no_look_ahead(create(name), BARS, minimum=MINIMUMS[name][0])


@pytest.mark.parametrize("name", sorted(MINIMUMS))
def test_live_and_vectorised_faces_agree_on_real_eurusd(name: str) -> None:
    live, reference = create(name), create(name)
    tail = BARS[-(live.window_bars + 1000) :]
    assert_faces_agree(live, reference, tail, minimum=MINIMUMS[name][1])

"""Specification of the break-and-retest strategy.

Rules (``forexbot/strategies/break_and_retest_strategy.py``): a swing high at *i* (``high[i]``
the max of ``high[i-k .. i+k]``) becomes the active resistance at bar ``i + k``; a close above it
by ``break_buffer_atr × ATR`` is a breakout at bar *b*; the first later bar within
``max_retest_bars`` whose low touches ``level + retest_tolerance_atr × ATR`` buys if it closes
above the level and voids the setup otherwise; the stop is the lowest low since the breakout minus
``stop_buffer_atr × ATR``, the target at ``reward_risk`` R. Sells mirror on swing lows.

The hand-built sequences use ``k = 2``, ATR(3), buffer 0.1, tolerance 0.2, N = 5, stop buffer 0.2.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib
from bars_kit import bars_from_ohlc, fired, mirrored

from forexbot.domain.market import Bar
from forexbot.domain.trading import Side
from forexbot.errors import InvalidInputError
from forexbot.strategies import create
from forexbot.strategies.base_strategy import SIGNAL_COLUMNS, bars_to_frame
from forexbot.strategies.break_and_retest_strategy import BreakAndRetestStrategy

PARAMS: dict[str, Any] = {
    "swing_strength": 2,
    "atr_period": 3,
    "break_buffer_atr": 0.1,
    "retest_tolerance_atr": 0.2,
    "max_retest_bars": 5,
    "stop_buffer_atr": 0.2,
}
LEVEL = 106.0
BREAK = 10

# Swing high 106 at bar 5, confirmed at bar 7; a pullback; bar 10 closes at 106.8 (> 106 + 0.1 ATR).
SETUP = [
    (100.0, 101.0, 99.5, 100.5),
    (100.5, 102.0, 100.0, 101.5),
    (101.5, 103.0, 101.0, 102.5),
    (102.5, 104.0, 102.0, 103.5),
    (103.5, 105.0, 103.0, 104.5),
    (104.5, 106.0, 104.0, 105.5),
    (105.5, 105.8, 104.5, 105.0),
    (105.0, 105.5, 104.0, 104.5),
    (104.5, 105.0, 103.5, 104.0),
    (104.0, 105.2, 103.8, 105.0),
    (105.0, 107.0, 104.8, 106.8),
]
AWAY = (106.8, 108.0, 106.6, 107.8)  # low 106.6 stays above 106 + 0.2 ATR: no touch
DRIFT = (107.8, 108.5, 107.2, 107.9)
RETEST = (107.9, 108.0, 106.1, 107.5)  # touches 106.1, closes back above 106
FAILED = (107.8, 108.0, 105.6, 105.8)  # closes back below 106
RECOVER = (105.8, 107.5, 105.9, 107.3)  # a touch that holds, but after the setup is void


def run(tail: list[tuple[float, float, float, float]]) -> tuple[list[Bar], pd.DataFrame]:
    bars = bars_from_ohlc(SETUP + tail)
    return bars, BreakAndRetestStrategy(**PARAMS).signals(bars_to_frame(bars))


def atr(bars: list[Bar]) -> np.ndarray:
    high = np.array([b.high for b in bars])
    low = np.array([b.low for b in bars])
    close = np.array([b.close for b in bars])
    return talib.ATR(high, low, close, timeperiod=3)


def test_the_setup_is_what_it_claims() -> None:
    bars, _ = run([AWAY, RETEST])
    a = atr(bars)

    assert max(b.high for b in bars[3:8]) == bars[5].high == LEVEL
    assert bars[BREAK].close >= LEVEL + 0.1 * a[BREAK]
    assert all(b.close <= LEVEL for b in bars[:BREAK])
    assert bars[BREAK + 1].low > LEVEL + 0.2 * a[BREAK + 1]
    assert bars[BREAK + 2].low <= LEVEL + 0.2 * a[BREAK + 2]


def test_retest_that_holds_buys_with_stop_below_the_retest_swing() -> None:
    bars, out = run([AWAY, RETEST, (107.5, 109.0, 107.3, 108.8)])
    t = BREAK + 2
    a = atr(bars)
    sl = 106.1 - 0.2 * a[t]

    assert tuple(out.columns) == SIGNAL_COLUMNS
    assert fired(out) == [t]
    row = out.iloc[t]
    assert int(row["signal"]) == 1
    assert row["entry"] == 107.5
    assert row["sl"] == pytest.approx(sl, abs=1e-12)
    assert row["tp"] == pytest.approx(107.5 + 2 * (107.5 - sl), abs=1e-9)
    assert row["confidence"] == pytest.approx((107.5 - 106.1) / (108.0 - 106.1))
    assert "resistance 106.00000" in row["reason"]
    assert out.drop(index=t)["entry"].isna().all()


def test_stop_is_the_lowest_low_since_the_breakout_not_just_the_retest_bar() -> None:
    # Bar 11 dips to 106.45 (above the touch zone at its ATR); bar 12, a wide bar whose ATR
    # widens the zone, touches higher, at 106.5.
    a11 = atr(bars_from_ohlc([*SETUP, (106.8, 108.0, 106.45, 107.8)]))[11]
    assert LEVEL + 0.2 * a11 < 106.45
    bars, out = run([(106.8, 108.0, 106.45, 107.8), (107.8, 111.0, 106.5, 107.6)])
    a = atr(bars)
    assert LEVEL + 0.2 * a[12] >= 106.5

    assert fired(out) == [12]
    assert out["sl"].iloc[12] == pytest.approx(106.45 - 0.2 * a[12], abs=1e-12)


def test_retest_closing_back_through_the_level_voids_the_setup() -> None:
    _, out = run([AWAY, FAILED, RECOVER, (107.3, 108.0, 106.2, 107.8)])

    assert fired(out) == []


def test_retest_on_the_last_bar_of_the_window_fires() -> None:
    _, out = run([AWAY, DRIFT, DRIFT, DRIFT, RETEST])

    assert fired(out) == [BREAK + 5]
    assert out["entry"].iloc[BREAK + 5] == 107.5


def test_retest_after_max_retest_bars_does_not_fire() -> None:
    _, out = run([AWAY, DRIFT, DRIFT, DRIFT, DRIFT, RETEST])

    assert fired(out) == []


def test_no_retest_touch_gives_no_signal() -> None:
    _, out = run([AWAY, DRIFT, (107.9, 109.0, 107.5, 108.9), (108.9, 110.0, 108.5, 109.8)])

    assert fired(out) == []


def test_close_above_the_level_by_less_than_the_buffer_is_not_a_breakout() -> None:
    # Bar 10 closes at 106.05: above 106, but by less than 0.1 ATR; then a "retest".
    rows = [*SETUP[:BREAK], (105.0, 106.3, 104.8, 106.05), (106.05, 106.4, 105.95, 106.2)]
    bars = bars_from_ohlc(rows)
    assert bars[BREAK].close < LEVEL + 0.1 * atr(bars)[BREAK]

    assert fired(BreakAndRetestStrategy(**PARAMS).signals(bars_to_frame(bars))) == []


def test_sell_mirrors_the_buy() -> None:
    bars = mirrored(bars_from_ohlc([*SETUP, AWAY, RETEST]))
    a = atr(bars)
    t = BREAK + 2

    out = BreakAndRetestStrategy(**PARAMS).signals(bars_to_frame(bars))

    assert fired(out) == [t]
    row = out.iloc[t]
    sl = (500.0 - 106.1) + 0.2 * a[t]
    assert int(row["signal"]) == -1
    assert row["entry"] == 500.0 - 107.5
    assert row["sl"] == pytest.approx(sl, abs=1e-9)
    assert row["tp"] == pytest.approx(row["entry"] - 2 * (sl - row["entry"]), abs=1e-9)
    assert "support" in row["reason"]


def test_on_bar_returns_the_buy_on_its_bar_only() -> None:
    bars = bars_from_ohlc([*SETUP, AWAY, RETEST, (107.5, 109.0, 107.3, 108.8)])
    strategy = BreakAndRetestStrategy(**PARAMS)

    got = [(i, s) for i, b in enumerate(bars) if (s := strategy.on_bar(b)) is not None]

    assert [i for i, _ in got] == [BREAK + 2]
    sig = got[0][1]
    assert sig.side is Side.BUY
    assert sig.strategy == "break_and_retest"
    assert sig.entry == 107.5


# --- parameters -------------------------------------------------------------------------------


def test_tolerance_wider_than_buffer_plus_one_atr_is_refused_naming_both() -> None:
    with pytest.raises(InvalidInputError) as info:
        BreakAndRetestStrategy(break_buffer_atr=0.1, retest_tolerance_atr=1.5)

    message = str(info.value)
    assert "retest_tolerance_atr" in message
    assert "break_buffer_atr" in message


@pytest.mark.parametrize(
    "bad",
    [{"swing_strength": 0}, {"max_retest_bars": 0}, {"reward_risk": 0}, {"break_buffer_atr": -1}],
)
def test_out_of_range_parameter_is_refused_naming_it(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match=next(iter(bad))):
        BreakAndRetestStrategy(**bad)


def test_unknown_parameter_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="swing"):
        BreakAndRetestStrategy(swing=3)


def test_warmup() -> None:
    assert BreakAndRetestStrategy().warmup_bars == 17
    assert BreakAndRetestStrategy(swing_strength=20).warmup_bars == 43


def test_registered_under_its_name() -> None:
    assert isinstance(create("break_and_retest"), BreakAndRetestStrategy)

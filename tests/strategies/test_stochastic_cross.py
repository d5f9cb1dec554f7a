"""Specification of the stochastic-cross strategy.

Rules (``forexbot/strategies/stochastic_cross_strategy.py``), defaults: slow STOCH(14, 3, 3)
with SMA smoothing; buy at bar *t* when ``%K[t-1] ≤ %D[t-1]``, ``%K[t] > %D[t]`` and
``min(%K[t-1], %D[t-1]) < 20``; sell is the mirror with 80; optional ``close`` vs
``SMA(trend_filter_period)`` filter; entry is the close, the stop ``1.5 × ATR14`` away, the target
at 2R; confidence ``(20 − min(%K, %D)[t-1]) / 20`` for a buy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import talib
from bars_kit import bars_from_closes, fired, mirrored, random_walk

from forexbot.domain.market import Bar
from forexbot.domain.trading import Side
from forexbot.errors import InvalidInputError
from forexbot.strategies import create
from forexbot.strategies.base_strategy import SIGNAL_COLUMNS, bars_to_frame
from forexbot.strategies.stochastic_cross_strategy import StochasticCrossStrategy


def indicators(bars: list[Bar]) -> dict[str, np.ndarray]:
    """The default parameters' indicators, computed independently of the strategy."""
    close = np.array([b.close for b in bars])
    high = np.array([b.high for b in bars])
    low = np.array([b.low for b in bars])
    k, d = talib.STOCH(high, low, close, 14, 3, 0, 3, 0)
    return {
        "close": close,
        "k": k,
        "d": d,
        "atr": talib.ATR(high, low, close, timeperiod=14),
        "sma50": talib.SMA(close, timeperiod=50),
    }


# --- hand-built sequences ---------------------------------------------------------------------

# 60 bars up by 1 (%K = %D ≈ 98), 6 bars down by 2 (%K to ≈ 7), then up by 2.
UP = [100.0 + i for i in range(60)]
PULLBACK = bars_from_closes(
    [*UP, *(159.0 - 2 * j for j in range(1, 7)), *(147.0 + 2 * j for j in range(1, 4))]
)
TOP_SELL = 60  # first down bar: %K drops below %D from ≈ 98
BUY = 67  # %K 7.5 → 18.0 crosses above %D 13.1 → 11.4

# Same uptrend, but a pullback of 4 bars by 1 only takes %K down to ≈ 69 before it turns up.
SHALLOW = bars_from_closes(
    [*UP, *(159.0 - j for j in range(1, 5)), *(155.0 + 2 * j for j in range(1, 4))]
)

# 60 bars down by 1, 3 by 2, then up by 2: an oversold cross below the SMA50.
DOWN = bars_from_closes(
    [*(300.0 - i for i in range(60)), *(241.0 - 2 * j for j in range(1, 4))]
    + [235.0 + 2 * j for j in range(1, 4)]
)
DOWN_BUY = 63


def test_the_pullback_sequence_is_what_it_claims() -> None:
    ind = indicators(PULLBACK)
    k, d = ind["k"], ind["d"]

    assert k[BUY - 1] <= d[BUY - 1]
    assert k[BUY] > d[BUY]
    assert min(k[BUY - 1], d[BUY - 1]) < 20
    assert k[TOP_SELL - 1] >= d[TOP_SELL - 1]
    assert k[TOP_SELL] < d[TOP_SELL]
    assert max(k[TOP_SELL - 1], d[TOP_SELL - 1]) > 80
    assert ind["close"][BUY] > ind["sma50"][BUY]


def test_cross_up_out_of_oversold_buys_with_atr_stop_and_2r_target() -> None:
    ind = indicators(PULLBACK)
    out = StochasticCrossStrategy().signals(bars_to_frame(PULLBACK))

    assert tuple(out.columns) == SIGNAL_COLUMNS
    assert len(out) == len(PULLBACK)
    assert fired(out) == [TOP_SELL, BUY]
    row = out.iloc[BUY]
    entry = ind["close"][BUY]
    sl = entry - 1.5 * ind["atr"][BUY]
    assert int(row["signal"]) == 1
    assert row["entry"] == entry == 151.0
    assert row["sl"] == pytest.approx(sl, abs=1e-12)
    assert row["tp"] == pytest.approx(entry + 2 * (entry - sl), abs=1e-9)
    assert row["confidence"] == pytest.approx((20 - ind["k"][BUY - 1]) / 20)
    assert "crossed above" in row["reason"]
    assert "oversold" in row["reason"]


def test_cross_down_out_of_overbought_sells() -> None:
    ind = indicators(PULLBACK)
    row = StochasticCrossStrategy().signals(bars_to_frame(PULLBACK)).iloc[TOP_SELL]
    entry = ind["close"][TOP_SELL]

    assert int(row["signal"]) == -1
    assert row["entry"] == entry
    assert row["sl"] == pytest.approx(entry + 1.5 * ind["atr"][TOP_SELL], abs=1e-12)
    assert row["tp"] == pytest.approx(entry - 3.0 * ind["atr"][TOP_SELL], abs=1e-9)
    expected = (max(ind["k"][TOP_SELL - 1], ind["d"][TOP_SELL - 1]) - 80) / 20
    assert row["confidence"] == pytest.approx(expected)


def test_sell_mirrors_the_buy() -> None:
    bars = mirrored(PULLBACK)
    ind = indicators(bars)
    out = StochasticCrossStrategy().signals(bars_to_frame(bars))

    assert fired(out) == [TOP_SELL, BUY]
    assert [int(s) for s in out["signal"].iloc[[TOP_SELL, BUY]]] == [1, -1]
    row = out.iloc[BUY]
    assert row["entry"] == 500.0 - 151.0
    assert row["sl"] == pytest.approx(row["entry"] + 1.5 * ind["atr"][BUY], abs=1e-9)
    assert row["tp"] == pytest.approx(row["entry"] - 3.0 * ind["atr"][BUY], abs=1e-9)


def test_oversold_level_is_a_strict_bound_on_the_previous_bar() -> None:
    frame = bars_to_frame(PULLBACK)
    depth = float(indicators(PULLBACK)["k"][BUY - 1])  # min(%K, %D) before the cross

    at = StochasticCrossStrategy(oversold=depth).signals(frame)
    above = StochasticCrossStrategy(oversold=depth + 0.01).signals(frame)

    assert BUY not in fired(at)
    assert BUY in fired(above)


def test_cross_up_from_a_shallow_pullback_is_not_a_buy() -> None:
    ind = indicators(SHALLOW)
    k, d = ind["k"], ind["d"]
    crosses = [t for t in range(30, len(SHALLOW)) if k[t - 1] <= d[t - 1] and k[t] > d[t]]
    assert crosses, "the sequence must contain an upward cross"
    assert all(25 < min(k[t - 1], d[t - 1]) < 80 for t in crosses)

    out = StochasticCrossStrategy().signals(bars_to_frame(SHALLOW))

    assert (out["signal"] != 1).all()


def test_cross_down_inside_the_oversold_zone_is_not_a_signal() -> None:
    ind = indicators(DOWN)
    k, d = ind["k"], ind["d"]
    assert k[61] < d[61] < 20  # %K has turned below %D inside the zone

    out = StochasticCrossStrategy().signals(bars_to_frame(DOWN))

    assert fired(out) == [DOWN_BUY]


def test_trend_filter_keeps_the_buy_above_the_sma_and_drops_the_counter_trend_ones() -> None:
    ind = indicators(DOWN)
    assert ind["close"][DOWN_BUY] < ind["sma50"][DOWN_BUY]
    filtered = StochasticCrossStrategy(trend_filter_period=50)

    assert fired(filtered.signals(bars_to_frame(DOWN))) == []
    out = filtered.signals(bars_to_frame(PULLBACK))
    assert fired(out) == [BUY]  # the top sell is above the SMA50: filtered out
    assert "SMA50" in out["reason"].iloc[BUY]


def test_on_bar_returns_the_signals_on_their_bars() -> None:
    strategy = StochasticCrossStrategy()

    got = [(i, s) for i, b in enumerate(PULLBACK) if (s := strategy.on_bar(b)) is not None]

    assert [i for i, _ in got] == [TOP_SELL, BUY]
    sig = got[1][1]
    assert sig.side is Side.BUY
    assert sig.strategy == "stochastic_cross"
    assert sig.bar_time == PULLBACK[BUY].time
    assert sig.entry == PULLBACK[BUY].close


# --- parameters -------------------------------------------------------------------------------


def test_oversold_not_below_overbought_is_refused_naming_both() -> None:
    with pytest.raises(InvalidInputError) as info:
        StochasticCrossStrategy(oversold=70, overbought=60)

    message = str(info.value)
    assert "oversold" in message
    assert "overbought" in message
    assert "stochastic_cross" in message


def test_trend_filter_period_of_one_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="trend_filter_period"):
        StochasticCrossStrategy(trend_filter_period=1)


@pytest.mark.parametrize(
    "bad", [{"fastk_period": 0}, {"oversold": 0}, {"overbought": 100}, {"atr_multiplier": 0}]
)
def test_out_of_range_parameter_is_refused_naming_it(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match=next(iter(bad))):
        StochasticCrossStrategy(**bad)


def test_unknown_parameter_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="fastk"):
        StochasticCrossStrategy(fastk=5)


def test_warmup_covers_the_indicators() -> None:
    assert StochasticCrossStrategy().warmup_bars == 19
    assert StochasticCrossStrategy(trend_filter_period=100).warmup_bars == 100
    # The first bar a default signal can appear on is warmup_bars - 1.
    frame = bars_to_frame(random_walk(4, 400))
    _k, d = talib.STOCH(
        frame["high"].to_numpy(),
        frame["low"].to_numpy(),
        frame["close"].to_numpy(),
        14,
        3,
        0,
        3,
        0,
    )
    assert np.isnan(d[16])
    assert not np.isnan(d[17])


def test_registered_under_its_name() -> None:
    assert isinstance(create("stochastic_cross"), StochasticCrossStrategy)

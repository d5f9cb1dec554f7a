"""Specification of the MA+RSI strategy and the two faces of :class:`Strategy`.

Rules (``forexbot/strategies/ma_rsi_strategy.py``): buy at bar *t* when ``SMA20 > SMA50``,
``close > SMA50`` and ``RSI14[t-1] < 40 ≤ RSI14[t]``; sell is the mirror with 60; entry is the
close, the stop ``1.5 × ATR14`` away, the target at 2R.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib
from bars_kit import bars_from_closes, mirrored

from forexbot.domain.market import Bar
from forexbot.domain.trading import Side
from forexbot.errors import InvalidInputError
from forexbot.strategies import create
from forexbot.strategies.base_strategy import SIGNAL_COLUMNS, bars_to_frame
from forexbot.strategies.ma_rsi_strategy import MaRsiStrategy


def pullback_closes(dip: float, n_dips: int, recovery: tuple[float, ...]) -> list[float]:
    """80 bars rising by 1, ``n_dips`` bars falling by ``dip``, then the ``recovery`` moves."""
    closes = [100.0 + i for i in range(80)]
    for _ in range(n_dips):
        closes.append(closes[-1] - dip)
    for move in recovery:
        closes.append(closes[-1] + move)
    return closes


def indicators(bars: list[Bar]) -> dict[str, np.ndarray]:
    """The default parameters' indicators, computed independently of the strategy."""
    close = np.array([b.close for b in bars])
    high = np.array([b.high for b in bars])
    low = np.array([b.low for b in bars])
    return {
        "close": close,
        "fast": talib.SMA(close, timeperiod=20),
        "slow": talib.SMA(close, timeperiod=50),
        "rsi": talib.RSI(close, timeperiod=14),
        "atr": talib.ATR(high, low, close, timeperiod=14),
    }


def fired(frame: pd.DataFrame) -> list[int]:
    return [int(i) for i in np.flatnonzero(frame["signal"].to_numpy() != 0)]


# --- hand-built sequences ---------------------------------------------------------------------

# Uptrend, 8 bars down by 2 take RSI14 to ~38, a +3 bar brings it back to ~47, then a +1 bar.
BUY_BARS = bars_from_closes(pullback_closes(2.0, 8, (3.0, 1.0)))
BUY_BAR = 88


def test_the_buy_sequence_is_what_it_claims() -> None:
    ind = indicators(BUY_BARS)
    t = BUY_BAR

    assert ind["rsi"][t - 1] < 40 <= ind["rsi"][t]
    assert ind["fast"][t] > ind["slow"][t]
    assert ind["close"][t] > ind["slow"][t]


def test_rsi_recovering_above_40_in_an_uptrend_gives_exactly_one_buy() -> None:
    out = MaRsiStrategy().signals(bars_to_frame(BUY_BARS))

    assert fired(out) == [BUY_BAR]
    assert int(out["signal"].iloc[BUY_BAR]) == 1


def test_buy_entry_is_the_close_and_stop_is_one_and_a_half_atr_below() -> None:
    ind = indicators(BUY_BARS)
    t = BUY_BAR
    entry = ind["close"][t]
    sl = entry - 1.5 * ind["atr"][t]

    row = MaRsiStrategy().signals(bars_to_frame(BUY_BARS)).iloc[t]

    assert row["entry"] == entry
    assert row["sl"] == pytest.approx(sl, abs=1e-12)
    assert row["tp"] == pytest.approx(entry + 2 * (entry - sl), abs=1e-9)
    assert row["sl"] < row["entry"] < row["tp"]


def test_signal_columns_and_one_row_per_bar() -> None:
    out = MaRsiStrategy().signals(bars_to_frame(BUY_BARS))

    assert tuple(out.columns) == SIGNAL_COLUMNS
    assert len(out) == len(BUY_BARS)
    quiet = out.drop(index=BUY_BAR)
    assert (quiet["signal"] == 0).all()
    assert quiet["entry"].isna().all()


def test_buy_confidence_is_the_ma_distance_in_atrs_capped_at_one() -> None:
    ind = indicators(BUY_BARS)
    t = BUY_BAR
    expected = min(1.0, abs(ind["fast"][t] - ind["slow"][t]) / ind["atr"][t])

    row = MaRsiStrategy().signals(bars_to_frame(BUY_BARS)).iloc[t]

    assert row["confidence"] == pytest.approx(expected)
    assert "RSI14" in row["reason"]


def test_rsi_dipping_only_to_41_gives_no_signal() -> None:
    bars = bars_from_closes(pullback_closes(2.1, 7, (3.0, 1.0)))
    ind = indicators(bars)
    assert 40 < np.nanmin(ind["rsi"][60:]) < 42  # the near miss really is near
    assert (ind["fast"][60:] > ind["slow"][60:]).all()

    assert fired(MaRsiStrategy().signals(bars_to_frame(bars))) == []


def test_rsi_crossing_40_up_in_a_downtrend_is_not_a_buy() -> None:
    closes = [300.0 - i for i in range(80)] + [220.0 + 1.5 * k for k in range(8)]
    bars = bars_from_closes(closes)
    ind = indicators(bars)
    rsi = ind["rsi"]
    crossings = [t for t in range(60, len(bars)) if rsi[t - 1] < 40 <= rsi[t]]
    assert crossings, "the sequence must contain an upward RSI crossing"
    assert all(ind["fast"][t] < ind["slow"][t] for t in crossings)

    out = MaRsiStrategy().signals(bars_to_frame(bars))

    assert (out["signal"] != 1).all()


def test_sell_mirrors_the_buy() -> None:
    bars = mirrored(BUY_BARS)
    ind = indicators(bars)
    t = BUY_BAR
    assert ind["rsi"][t - 1] > 60 >= ind["rsi"][t]
    entry = ind["close"][t]
    sl = entry + 1.5 * ind["atr"][t]

    out = MaRsiStrategy().signals(bars_to_frame(bars))

    assert fired(out) == [t]
    row = out.iloc[t]
    assert int(row["signal"]) == -1
    assert row["entry"] == entry
    assert row["sl"] == pytest.approx(sl, abs=1e-12)
    assert row["tp"] == pytest.approx(entry - 2 * (sl - entry), abs=1e-9)


def test_on_bar_returns_the_buy_signal_on_its_bar_only() -> None:
    strategy = MaRsiStrategy()

    signals = [(i, s) for i, b in enumerate(BUY_BARS) if (s := strategy.on_bar(b)) is not None]

    assert [i for i, _ in signals] == [BUY_BAR]
    sig = signals[0][1]
    bar = BUY_BARS[BUY_BAR]
    assert sig.side is Side.BUY
    assert sig.strategy == "ma_rsi"
    assert sig.symbol == "TEST"
    assert sig.timeframe == "M15"
    assert sig.bar_time == bar.time
    assert sig.entry == bar.close


def test_on_bar_ignores_a_bar_already_seen() -> None:
    strategy = MaRsiStrategy()
    strategy.warm_up(BUY_BARS[:BUY_BAR])

    assert strategy.on_bar(BUY_BARS[BUY_BAR]) is not None
    assert strategy.on_bar(BUY_BARS[BUY_BAR]) is None


def test_warm_up_history_lets_the_first_live_bar_signal() -> None:
    strategy = MaRsiStrategy()

    strategy.warm_up(BUY_BARS[:BUY_BAR])
    sig = strategy.on_bar(BUY_BARS[BUY_BAR])

    assert sig is not None
    assert sig.bar_time == BUY_BARS[BUY_BAR].time


# --- parameters and the registry -------------------------------------------------------------


def test_fast_period_not_below_slow_period_is_refused_naming_both() -> None:
    with pytest.raises(InvalidInputError) as info:
        create("ma_rsi", fast_period=60)

    message = str(info.value)
    assert "fast_period" in message
    assert "slow_period" in message
    assert "60" in message


def test_out_of_range_parameter_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInputError, match="rsi_period"):
        create("ma_rsi", rsi_period=1)


def test_unknown_parameter_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInputError, match="fast_perod"):
        create("ma_rsi", fast_perod=10)


def test_unknown_strategy_name_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInputError) as info:
        create("macd_magic")

    message = str(info.value)
    assert "macd_magic" in message
    assert "ma_rsi" in message


def test_create_applies_valid_parameters() -> None:
    strategy = create("ma_rsi", fast_period=10, slow_period=30)

    assert isinstance(strategy, MaRsiStrategy)
    assert strategy.params.fast_period == 10
    assert strategy.params.slow_period == 30
    assert strategy.warmup_bars == 31

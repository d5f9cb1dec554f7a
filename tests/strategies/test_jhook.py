"""Specification of the J-Hook strategy (``forexbot/strategies/jhook_pattern_strategy.py``).

Buy at bar *t*: impulse peak ``b`` = first highest high of the 11 bars before *t*, origin ``a``
= first lowest low of ``b−8 .. b`` with ``a < b`` and ``high[b] − low[a] ≥ 2 × ATR14[b]``; the
pullback after ``b`` retraces 38.2–61.8 % of the impulse without reaching the origin; the first
close above the pullback's high since its low is the entry; stop 0.1 ATR below the pullback
low, target the pullback low plus the impulse. Sell is the mirror.

The hand-built pattern: 30 flat bars (99.5–100.5), a 4-bar impulse (bars 30–33, peak 33), a
3-bar pullback (bars 34–36, low on bar 36), the hook bar 37, then 3 quiet bars.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib
from bars_kit import mirrored, noisy_walk

from forexbot.domain.market import Bar, Timeframe
from forexbot.domain.trading import Side
from forexbot.errors import InvalidInputError
from forexbot.strategies import create
from forexbot.strategies.base_strategy import SIGNAL_COLUMNS, bars_to_frame
from forexbot.strategies.jhook_pattern_strategy import JHookStrategy

T0 = 1_700_000_100 - 1_700_000_100 % 900
ORIGIN_LOW = 99.5
PEAK_BAR = 33
PULLBACK_BAR = 36
HOOK_BAR = 37

Ohlc = tuple[float, float, float, float]


def to_bars(rows: list[Ohlc], symbol: str = "TEST") -> list[Bar]:
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


def jhook_rows(retracement: float, step: float = 1.5) -> list[Ohlc]:
    """The pattern with a pullback whose low retraces exactly ``retracement`` of the impulse."""
    rows: list[Ohlc] = [(100.0, 100.5, ORIGIN_LOW, 100.0)] * 30
    prev = 100.0
    for _ in range(4):
        c = prev + step
        rows.append((prev, c + 0.2, prev - 0.2, c))
        prev = c
    top = rows[PEAK_BAR][1]
    low_p = top - retracement * (top - ORIGIN_LOW)
    for k in (1, 2, 3):
        lo = top - (top - low_p) * k / 3
        hi = min(max(prev, lo + 1.2), top - 0.1)
        c = lo + 0.15
        rows.append((prev, hi, lo, c))
        prev = c
    trigger = rows[PULLBACK_BAR][1]
    rows.append((prev, trigger + 0.5, prev - 0.1, trigger + 0.4))
    prev = trigger + 0.4
    rows.extend([(prev, prev + 0.2, prev - 0.2, prev)] * 3)
    return rows


def jhook_bars(retracement: float, step: float = 1.5) -> list[Bar]:
    return to_bars(jhook_rows(retracement, step))


def atr14(bars: list[Bar]) -> np.ndarray:
    return talib.ATR(
        np.array([b.high for b in bars]),
        np.array([b.low for b in bars]),
        np.array([b.close for b in bars]),
        timeperiod=14,
    )


def fired(frame: pd.DataFrame) -> list[int]:
    return [int(i) for i in np.flatnonzero(frame["signal"].to_numpy() != 0)]


def run(bars: list[Bar], **params: float) -> pd.DataFrame:
    return JHookStrategy(**params).signals(bars_to_frame(bars))


HALF = jhook_bars(0.5)


# --- the pattern ----------------------------------------------------------------------------


def test_the_half_pullback_sequence_is_what_it_claims() -> None:
    atr = atr14(HALF)
    top = HALF[PEAK_BAR].high
    impulse = top - ORIGIN_LOW

    assert max(b.high for b in HALF[23:HOOK_BAR]) == top
    assert min(b.low for b in HALF[PEAK_BAR + 1 : HOOK_BAR]) == HALF[PULLBACK_BAR].low
    assert (top - HALF[PULLBACK_BAR].low) / impulse == pytest.approx(0.5, abs=1e-12)
    assert impulse >= 2 * atr[PEAK_BAR]
    assert HALF[HOOK_BAR].close > HALF[PULLBACK_BAR].high


def test_a_half_pullback_hooking_back_up_gives_exactly_one_buy_on_the_hook_bar() -> None:
    out = run(HALF)

    assert fired(out) == [HOOK_BAR]
    assert int(out["signal"].iloc[HOOK_BAR]) == 1


def test_buy_entry_stop_and_target() -> None:
    atr = atr14(HALF)
    low_p = HALF[PULLBACK_BAR].low
    impulse = HALF[PEAK_BAR].high - ORIGIN_LOW

    row = run(HALF).iloc[HOOK_BAR]

    assert row["entry"] == HALF[HOOK_BAR].close
    assert row["sl"] == pytest.approx(low_p - 0.1 * atr[HOOK_BAR], abs=1e-12)
    assert row["tp"] == pytest.approx(low_p + impulse, abs=1e-12)
    assert row["sl"] < row["entry"] < row["tp"]


def test_buy_confidence_is_the_impulse_over_twice_the_required_size_capped() -> None:
    atr = atr14(HALF)
    impulse = HALF[PEAK_BAR].high - ORIGIN_LOW

    row = run(HALF, impulse_atr=3.0).iloc[HOOK_BAR]

    assert row["confidence"] == pytest.approx(min(1.0, impulse / (6.0 * atr[PEAK_BAR])))
    assert 0 < row["confidence"] < 1
    assert run(HALF).iloc[HOOK_BAR]["confidence"] == 1.0


def test_buy_reason_describes_the_pattern() -> None:
    reason = run(HALF).iloc[HOOK_BAR]["reason"]

    assert reason.startswith("bullish J-hook: impulse 6.70000")
    assert "pullback 50.0%" in reason
    assert "close above the pullback's high" in reason


def test_signal_columns_and_one_row_per_bar() -> None:
    out = run(HALF)

    assert tuple(out.columns) == SIGNAL_COLUMNS
    assert len(out) == len(HALF)
    quiet = out.drop(index=HOOK_BAR)
    assert (quiet["signal"] == 0).all()
    assert quiet["entry"].isna().all()


@pytest.mark.parametrize("retracement", [0.39, 0.45, 0.55, 0.61])
def test_pullbacks_inside_the_band_fire(retracement: float) -> None:
    assert fired(run(jhook_bars(retracement))) == [HOOK_BAR]


def test_the_sell_mirrors_the_buy() -> None:
    bars = mirrored(HALF)
    buy = run(HALF).iloc[HOOK_BAR]

    out = run(bars)

    assert fired(out) == [HOOK_BAR]
    row = out.iloc[HOOK_BAR]
    assert int(row["signal"]) == -1
    assert row["entry"] == bars[HOOK_BAR].close
    assert row["sl"] == pytest.approx(500.0 - buy["sl"], abs=1e-9)
    assert row["tp"] == pytest.approx(500.0 - buy["tp"], abs=1e-9)
    assert row["tp"] < row["entry"] < row["sl"]
    assert row["confidence"] == buy["confidence"]
    assert row["reason"].startswith("bearish J-hook")


# --- near misses --------------------------------------------------------------------------------


def test_an_80_percent_pullback_does_not_fire() -> None:
    bars = jhook_bars(0.8)
    assert bars[HOOK_BAR].close > bars[PULLBACK_BAR].high  # the hook itself is there

    assert fired(run(bars)) == []


def test_a_pullback_just_deeper_than_61_8_percent_does_not_fire() -> None:
    assert fired(run(jhook_bars(0.62))) == []


def test_a_shallow_30_percent_pullback_does_not_fire() -> None:
    assert fired(run(jhook_bars(0.3))) == []


def test_a_pullback_breaking_the_origin_does_not_fire_even_allowing_full_retracement() -> None:
    bars = jhook_bars(1.075)
    assert bars[PULLBACK_BAR].low < ORIGIN_LOW

    assert fired(run(bars, max_retracement=1.0)) == []


def test_a_pullback_back_to_the_origin_exactly_does_not_hold_it() -> None:
    bars = jhook_bars(1.0)
    assert bars[PULLBACK_BAR].low == ORIGIN_LOW

    assert fired(run(bars, max_retracement=1.0)) == []


def test_a_pullback_stopping_short_of_the_origin_fires_when_allowed() -> None:
    assert fired(run(jhook_bars(0.985), max_retracement=1.0)) == [HOOK_BAR]


SMALL_STEP = 0.28


def small_impulse_ratio() -> float:
    bars = jhook_bars(0.5, step=SMALL_STEP)
    return float((bars[PEAK_BAR].high - ORIGIN_LOW) / atr14(bars)[PEAK_BAR])


def test_an_impulse_below_two_atr_does_not_fire() -> None:
    ratio = small_impulse_ratio()
    assert 1.98 < ratio < 2.0

    assert fired(run(jhook_bars(0.5, step=SMALL_STEP))) == []


def test_the_same_small_impulse_fires_with_a_lower_multiple() -> None:
    assert fired(run(jhook_bars(0.5, step=SMALL_STEP), impulse_atr=1.98)) == [HOOK_BAR]


def test_the_origin_is_searched_only_impulse_bars_back() -> None:
    # With a 1-bar impulse window the origin is bar 32 (low 102.8): the same pullback to
    # 102.85 is then a 98.5 % retracement.
    assert HALF[PEAK_BAR - 1].low == pytest.approx(102.8, abs=1e-12)

    assert fired(run(HALF, impulse_bars=1)) == []


def test_a_hook_bar_closing_at_the_pullback_high_is_not_a_break() -> None:
    rows = jhook_rows(0.5)
    o, _, lo, _ = rows[HOOK_BAR]
    trigger = rows[PULLBACK_BAR][1]
    rows[HOOK_BAR] = (o, trigger + 0.1, lo, trigger)
    rows[HOOK_BAR + 1 :] = [(trigger, trigger + 0.05, trigger - 0.3, trigger - 0.2)] * 3

    assert fired(run(to_bars(rows))) == []


# --- the live face ------------------------------------------------------------------------------


def test_on_bar_returns_the_buy_on_the_hook_bar_only() -> None:
    strategy = JHookStrategy()

    signals = [(i, s) for i, b in enumerate(HALF) if (s := strategy.on_bar(b)) is not None]

    assert [i for i, _ in signals] == [HOOK_BAR]
    sig = signals[0][1]
    assert sig.side is Side.BUY
    assert sig.strategy == "jhook"
    assert sig.bar_time == HALF[HOOK_BAR].time
    assert sig.entry == HALF[HOOK_BAR].close


def test_no_signal_before_the_warm_up() -> None:
    strategy = JHookStrategy()

    assert strategy.warmup_bars == 14 + 10 + 8 + 2
    assert fired(run(HALF[: strategy.warmup_bars - 1])) == []


# --- random walks: the trailing window vs the whole history ---------------------------------------


def test_whole_history_and_windowed_signals_agree_on_most_bars() -> None:
    """The live window and the whole history differ only through ATR's start-up: nearly every
    signal of the whole history is also given by the trailing window."""
    strategy = JHookStrategy()
    window = strategy.window_bars
    bars = noisy_walk(11, window + 600)
    whole = fired(strategy.signals(bars_to_frame(bars)))
    windowed = [
        t
        for t in range(window, len(bars))
        if int(strategy.signals(bars_to_frame(bars[t - window + 1 : t + 1]))["signal"].iloc[-1])
    ]
    late = [t for t in whole if t >= window]

    assert len(late) >= 10
    assert len(set(late) ^ set(windowed)) <= len(late) // 10


# --- parameters -----------------------------------------------------------------------------


def test_min_retracement_not_below_max_is_refused_naming_both() -> None:
    with pytest.raises(InvalidInputError) as info:
        JHookStrategy(min_retracement=0.7)

    message = str(info.value)
    assert "min_retracement" in message
    assert "max_retracement" in message


def test_out_of_range_parameter_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInputError, match="max_retracement"):
        JHookStrategy(max_retracement=1.2)


def test_unknown_parameter_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInputError, match="impulse_atrr"):
        JHookStrategy(impulse_atrr=2.0)


def test_registered_under_its_name() -> None:
    assert isinstance(create("jhook"), JHookStrategy)

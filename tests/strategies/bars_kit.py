"""Bar builders shared by the strategy tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forexbot.domain.market import Bar, Timeframe
from forexbot.domain.trading import Side, Signal
from forexbot.strategies.base_strategy import Strategy, bars_to_frame

T0 = 1_700_000_100 - 1_700_000_100 % 900
WICK = 0.25
#: Tuesday 2026-03-10 from 03:00 UTC: M15 bars from there fall in London/New York hours.
TUESDAY_LONDON = 1_773_111_600


def trending_bars(n: int, symbol: str = "EURUSD") -> list[Bar]:
    """``n`` M15 bars of a steady uptrend with some noise, normal spread and volume, from
    :data:`TUESDAY_LONDON` (the same every call)."""
    rng = np.random.default_rng(4)
    close = 1.08 + np.cumsum(0.0004 + rng.normal(0, 0.0003, n))
    tf = Timeframe.M15
    bars = []
    for i in range(n):
        c = float(close[i])
        o = float(close[i - 1]) if i else c
        bars.append(
            Bar(symbol, tf, TUESDAY_LONDON + i * tf.seconds, o, max(o, c) + 0.0003,
                min(o, c) - 0.0003, c, tick_volume=int(500 + rng.integers(0, 200)), spread=8)
        )  # fmt: skip
    return bars


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


def noisy_walk(seed: int, n: int) -> list[Bar]:
    """Like :func:`random_walk` but drawing each bar's wicks, tick volume and spread in turn
    (the walk the MA+RSI and J-Hook property cases were tuned on)."""
    rng = np.random.default_rng(seed)
    close = 1.1 + np.cumsum(rng.normal(0.0, 0.0008, n))
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
                high=max(prev, c) + abs(float(rng.normal(0.0, 0.0003))),
                low=min(prev, c) - abs(float(rng.normal(0.0, 0.0003))),
                close=c,
                tick_volume=int(rng.integers(1, 500)),
                spread=int(rng.integers(0, 20)),
            )
        )
        prev = c
    return bars


# --- the two properties every strategy must have ----------------------------------------------

PREFIX_CUTS = (1, 2, 5, 12, 40, 60, 500, 1234)


def assert_no_look_ahead(
    strategy: Strategy,
    bars: list[Bar],
    *,
    minimum: int,
    minimum_each_side: int = 0,
    signal_cuts: int = 12,
) -> None:
    """Signals on every prefix of ``bars`` equal the prefix of the signals on all of them.

    Cuts are taken at fixed lengths, at the last bar, and on and just after each of the first
    ``signal_cuts`` signals (a rule peeking one bar ahead changes exactly those rows). At least
    ``minimum`` signals, and ``minimum_each_side`` of each side, must fire so that the check
    cannot pass vacuously.
    """
    frame = bars_to_frame(bars)
    whole = strategy.signals(frame)
    hits = fired(whole)
    side = whole["signal"].to_numpy()
    assert len(hits) >= minimum, (
        f"the walk gave {len(hits)} signals (< {minimum}): the test would mean nothing"
    )
    assert (side == 1).sum() >= minimum_each_side, "too few buys for the test to mean anything"
    assert (side == -1).sum() >= minimum_each_side, "too few sells for the test to mean anything"

    n_bars = len(frame)
    cuts = {c for c in PREFIX_CUTS if c < n_bars} | {n_bars - 1}
    cuts |= set(hits[:signal_cuts]) | {h + 1 for h in hits[:signal_cuts]}
    for n in sorted(cuts):
        prefix = strategy.signals(frame.iloc[:n])
        pd.testing.assert_frame_equal(prefix, whole.iloc[:n], check_exact=True)


def assert_faces_agree(
    live: Strategy,
    reference: Strategy,
    bars: list[Bar],
    *,
    minimum: int,
    history: int | None = None,
) -> None:
    """``live.on_bar`` (after ``warm_up`` on the first ``history`` bars, ``window_bars`` by
    default) gives, bar by bar, exactly what ``reference.signals`` gives over every bar the
    streaming face was fed: the last ``window_bars`` of the history, then the live bars. Sides,
    prices and confidence are compared with ``==`` (to the last bit), reasons as strings. At
    least ``minimum`` signals must fire.
    """
    history = live.window_bars if history is None else history
    assert len(bars) > history, "need bars beyond the history"
    live.warm_up(bars[:history])
    first = max(0, history - live.window_bars)
    frame = reference.signals(bars_to_frame(bars[first:]))

    got: dict[int, Signal] = {}
    expected: dict[int, pd.Series] = {}
    for t in range(history, len(bars)):
        sig = live.on_bar(bars[t])
        if sig is not None:
            got[t] = sig
        row = frame.iloc[t - first]
        if int(row["signal"]) != 0:
            expected[t] = row

    assert len(expected) >= minimum, (
        f"the walk gave {len(expected)} signals (< {minimum}): the test would mean nothing"
    )
    assert sorted(got) == sorted(expected), (
        f"on_bar fired on bars {sorted(got)}, the vectorised face on {sorted(expected)}"
    )
    for t, sig in got.items():
        row = expected[t]
        assert sig.strategy == live.name
        assert sig.symbol == bars[t].symbol
        assert sig.side is Side(int(row["signal"]))
        assert sig.bar_time == bars[t].time
        assert sig.entry == float(row["entry"])
        assert sig.sl == float(row["sl"])
        assert sig.tp == float(row["tp"])
        assert sig.confidence == float(row["confidence"])
        assert sig.reason == row["reason"]

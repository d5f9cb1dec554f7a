"""ConditionStream: bar by bar, exactly what detect() says over every bar fed so far."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise

import numpy as np
import pytest
from condition_kit import DEFAULTS, EURUSD_H1, SMALL, bits
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies.bars_kit import noisy_walk, random_walk

from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim import TIMEFRAME_M15
from forexbot.connectors.mt5sim.mt5csv import read_export
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal
from forexbot.domain.market import Bar, Timeframe
from forexbot.market_condition.detector import DetectorParams, MarketCondition, detect
from forexbot.market_condition.stream import ConditionStream
from forexbot.market_condition.volatility import VolatilityParams
from forexbot.strategies.base_strategy import bars_to_frame

MONDAY_2024_03_04 = int(datetime(2024, 3, 4, tzinfo=UTC).timestamp())


def replay(
    bars: list[Bar],
    params: DetectorParams,
    *,
    symbol: str = "EURUSD",
    timeframe: Timeframe = Timeframe.M15,
    synthetic: bool = False,
    spreads: list[float | None] | None = None,
) -> list[MarketCondition]:
    """Feed ``bars`` to a stream and, on every bar, compare it with detect() over the bars fed
    so far; the conditions on every bar from ``min_bars`` on."""
    stream = ConditionStream(symbol, timeframe, params, synthetic=synthetic)
    out = []
    for i, bar in enumerate(bars):
        live = None if spreads is None else spreads[i]
        got = stream.update(bar, current_spread=live)
        if i + 1 < params.min_bars:
            assert got is None, f"a condition on bar {i} before min_bars={params.min_bars}"
            continue
        want = detect(
            bars_to_frame(bars[: i + 1]),
            symbol,
            timeframe,
            params,
            synthetic=synthetic,
            current_spread=live,
        )
        assert got is not None, f"no condition on bar {i}"
        assert bits(got) == bits(want), f"bar {i}: stream {got} != detect {want}"
        out.append(got)
    return out


def assert_varied(conditions: list[MarketCondition], *, each: int = 1) -> None:
    """Every trend direction and several volatility bands occur, so the equality meant
    something."""
    trends = Counter(c.trend.value for c in conditions)
    bands = Counter(c.volatility.value for c in conditions)
    assert all(trends[d] >= each for d in ("bullish", "bearish", "ranging")), trends
    assert len(bands) >= 2, bands


def with_weekend_gaps(bars: list[Bar], every: int) -> list[Bar]:
    """``bars`` with 48 hours skipped after every ``every``-th bar."""
    return [
        dataclasses.replace(bar, time=bar.time + (i // every) * 172_800)
        for i, bar in enumerate(bars)
    ]


def bars_of(rates: np.ndarray, symbol: str, timeframe: Timeframe) -> list[Bar]:
    """Bars from MetaTrader rates records."""
    return [
        Bar(symbol, timeframe, int(r["time"]), float(r["open"]), float(r["high"]),
            float(r["low"]), float(r["close"]), int(r["tick_volume"]), int(r["spread"]),
            int(r["real_volume"]))
        for r in rates
    ]  # fmt: skip


def simulated(symbol: str, days: int, seed: int) -> list[Bar]:
    """M15 bars of ``symbol`` from the simulated terminal, from Monday 2024-03-04."""
    term = SimulatedTerminal(seed=seed, clock=ManualClock(MONDAY_2024_03_04 + (days + 1) * 86_400))
    assert term.initialize()
    try:
        rates = term.copy_rates_range(
            symbol, TIMEFRAME_M15, MONDAY_2024_03_04, MONDAY_2024_03_04 + days * 86_400 - 1
        )
    finally:
        term.shutdown()
    assert rates is not None
    assert len(rates) > 0
    return bars_of(rates, symbol, Timeframe.M15)


# --- the promise, on several kinds of bars -----------------------------------------------------


def test_a_random_walk_with_default_parameters_matches_detect_on_every_bar() -> None:
    conditions = replay(random_walk(11, 420), DEFAULTS)
    assert len(conditions) == 420 - DEFAULTS.min_bars + 1
    assert_varied(conditions, each=5)


def test_a_noisy_walk_with_live_spreads_matches_detect_on_every_bar() -> None:
    bars = noisy_walk(5, 400)
    rng = np.random.default_rng(5)
    spreads: list[float | None] = [
        None if rng.random() < 0.3 else float(rng.integers(0, 40)) for _ in bars
    ]
    conditions = replay(bars, DEFAULTS, spreads=spreads)
    assert_varied(conditions, each=5)
    assert {c.liquidity.value for c in conditions} == {"thin", "normal", "deep"}


def test_bars_across_forex_weekends_and_48_hour_gaps_match_detect() -> None:
    # continuous M15 bars run through weekends (closed market), the gaps jump over them
    bars = with_weekend_gaps(noisy_walk(8, 700), every=150)
    conditions = replay(bars, SMALL)
    assert_varied(conditions, each=5)
    assert {c.market_open for c in conditions} == {True, False}
    assert {c.favourable for c in conditions} == {True, False}


def test_a_synthetic_index_matches_detect_through_the_weekend() -> None:
    bars = [dataclasses.replace(b, symbol="Volatility 75 Index") for b in noisy_walk(9, 700)]
    conditions = replay(bars, SMALL, symbol="Volatility 75 Index", synthetic=True)
    assert_varied(conditions, each=5)
    assert all(c.market_open for c in conditions)


@pytest.mark.parametrize(
    ("symbol", "synthetic"), [("EURUSD", False), ("Volatility 75 Index", True)]
)
def test_the_simulators_bars_match_detect(symbol: str, synthetic: bool) -> None:
    bars = simulated(symbol, days=8, seed=3)
    conditions = replay(bars[:500], DEFAULTS, symbol=symbol, synthetic=synthetic)
    assert_varied(conditions)


def test_the_eurusd_h1_export_matches_detect() -> None:
    rates = read_export(EURUSD_H1).data
    bars = bars_of(rates, "EURUSD", Timeframe.H1)
    conditions = replay(bars, SMALL, timeframe=Timeframe.H1)
    assert len(conditions) == len(bars) - SMALL.min_bars + 1
    assert_varied(conditions)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    start=st.integers(0, 300),
    synthetic=st.booleans(),
    gap_every=st.sampled_from([0, 37, 96]),
)
def test_a_stream_started_at_any_bar_matches_detect_over_the_bars_it_was_fed(
    seed: int, start: int, synthetic: bool, gap_every: int
) -> None:
    bars = noisy_walk(seed, start + 160)
    if gap_every:
        bars = with_weekend_gaps(bars, gap_every)
    conditions = replay(bars[start:], SMALL, synthetic=synthetic)
    assert len(conditions) == 160 - SMALL.min_bars + 1


# --- edges ---------------------------------------------------------------------------------------


def test_nothing_is_returned_before_min_bars() -> None:
    stream = ConditionStream("EURUSD", Timeframe.M15, DEFAULTS, synthetic=False)
    bars = random_walk(1, DEFAULTS.min_bars)
    assert [stream.update(b) for b in bars[:-1]] == [None] * (DEFAULTS.min_bars - 1)
    last = stream.update(bars[-1])
    assert last is not None
    assert last.bar_time == datetime.fromtimestamp(bars[-1].time, UTC)
    assert stream.bars == DEFAULTS.min_bars


def flat(n: int) -> Iterator[Bar]:
    for i in range(n):
        yield Bar("EURUSD", Timeframe.M15, 1_773_111_600 + 900 * i, 1.1, 1.1, 1.1, 1.1, 10)


def test_a_flat_market_is_refused_like_detect_and_the_stream_goes_on() -> None:
    # zero ATR and an unchanged average: the slope is 0/0, detect() raises, so does the stream
    bars = list(flat(SMALL.min_bars)) + random_walk(2, 40)
    bars = [dataclasses.replace(b, time=1_773_111_600 + 900 * i) for i, b in enumerate(bars)]
    stream = ConditionStream("EURUSD", Timeframe.M15, SMALL, synthetic=False)
    for bar in bars[: SMALL.min_bars - 1]:
        assert stream.update(bar) is None
    with pytest.raises(ValueError, match="trend needs") as raised:
        detect(bars_to_frame(bars[: SMALL.min_bars]), "EURUSD", Timeframe.M15, SMALL)
    with pytest.raises(ValueError, match=str(raised.value)):
        stream.update(bars[SMALL.min_bars - 1])
    conditions = [stream.update(b) for b in bars[SMALL.min_bars :]]
    want = detect(bars_to_frame(bars), "EURUSD", Timeframe.M15, SMALL)
    assert conditions[-1] is not None
    assert bits(conditions[-1]) == bits(want)


def with_quiet_stretches(bars: list[Bar], every: int, length: int) -> list[Bar]:
    """``bars`` where, every ``every`` bars, ``length`` bars repeat one bar's range and close
    (so their true ranges are equal to the last bit)."""
    out: list[Bar] = []
    for i, bar in enumerate(bars):
        if i % every < length and i >= every:
            anchor = out[i - i % every - 1]
            quiet = anchor.close
            out.append(
                dataclasses.replace(
                    anchor, time=bar.time, open=quiet, high=quiet + 0.0010, low=quiet - 0.0010
                )
            )
        else:
            out.append(bar)
    return out


def test_equal_atrs_are_not_counted_below_like_detect() -> None:
    # ATR(1) is the true range itself: a quiet stretch repeats it exactly
    params = SMALL.model_copy(update={"volatility": VolatilityParams(atr_period=1, lookback=10)})
    bars = with_quiet_stretches(noisy_walk(12, 600), every=100, length=40)
    conditions = replay(bars, params)
    ties = sum(c.atr == d.atr for c, d in pairwise(conditions))
    assert ties >= 50, "the quiet stretches gave no repeated ATR: the test would mean nothing"
    assert_varied(conditions)


def test_streams_closing_at_one_instant_share_its_times_and_sessions() -> None:
    # The bar's open and close instants and the sessions at the close depend on the time
    # alone: a burst's streams take them once.
    bars = random_walk(5, 200)
    other = [dataclasses.replace(b, symbol="GBPUSD", close=b.close * 1.2) for b in bars]
    a = replay(bars, SMALL)
    b = replay(other, SMALL, symbol="GBPUSD")
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        assert x.bar_time is y.bar_time
        assert x.evaluated_at is y.evaluated_at
        assert x.sessions is y.sessions

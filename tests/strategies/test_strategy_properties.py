"""The two properties every strategy must have, checked on random walks for every strategy.

* No look-ahead: the vectorised face's signals on a prefix of the bars equal the prefix of its
  signals on all of them.
* The two faces agree: ``on_bar``, fed one closed bar at a time after ``warm_up``, gives
  exactly (every float to the last bit) what ``signals`` gives on that bar over every bar the
  streaming face was fed — whatever bar it starts from.

Each case names the strategy (built through :func:`create`), a parameter set, the walk and its
seed, and the minimum signal counts that keep the checks from passing vacuously. The helpers
live in ``bars_kit``; the tests at the end check that they do catch a peeking strategy and a
live face that drifts from the vectorised one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from bars_kit import assert_faces_agree, assert_no_look_ahead, noisy_walk, random_walk

from forexbot.domain.market import Bar
from forexbot.domain.trading import Signal
from forexbot.strategies import STRATEGIES, create
from forexbot.strategies.base_strategy import bars_to_frame
from forexbot.strategies.ma_rsi_strategy import MaRsiStrategy

Walk = Callable[[int, int], list[Bar]]
PREFIX_BARS = 3000


@dataclass(frozen=True)
class Case:
    strategy: str
    params: dict[str, Any]
    seed: int
    walk: Walk
    minimum: int  # signals over the PREFIX_BARS walk (no-look-ahead test)
    minimum_each_side: int  # buys and sells over that walk
    minimum_live: int  # signals over the bars after the warm-up window (faces test)
    live_bars: int  # bars fed to on_bar after the warm-up window
    label: str = field(default="defaults")


CASES = [
    Case("ma_rsi", {}, 4, noisy_walk, 5, 0, 3, 700),
    Case(
        "ma_rsi",
        {"fast_period": 5, "slow_period": 12, "rsi_period": 5, "atr_period": 5},
        1,
        noisy_walk,
        5,
        0,
        3,
        700,
        "fast",
    ),
    Case("stochastic_cross", {}, 4, random_walk, 20, 1, 10, 500),
    Case("stochastic_cross", {"trend_filter_period": 50}, 5, random_walk, 20, 1, 10, 500, "trend"),
    Case(
        "stochastic_cross",
        {
            "fastk_period": 5,
            "slowk_period": 2,
            "slowd_period": 2,
            "oversold": 25,
            "overbought": 75,
            "atr_period": 5,
        },
        6,
        random_walk,
        20,
        1,
        10,
        500,
        "fast",
    ),
    Case("break_and_retest", {}, 7, random_walk, 20, 1, 4, 600),
    Case(
        "break_and_retest",
        {"swing_strength": 2, "atr_period": 5, "max_retest_bars": 15, "retest_tolerance_atr": 0.3},
        8,
        random_walk,
        50,
        1,
        10,
        600,
        "fast",
    ),
    Case("sma_cross", {}, 4, random_walk, 150, 70, 20, 600),
    Case(
        "sma_cross",
        {"fast_period": 5, "slow_period": 40, "atr_period": 5},
        5,
        noisy_walk,
        50,
        20,
        10,
        600,
        "wide",
    ),
    Case("jhook", {}, 4, noisy_walk, 20, 5, 5, 600),
    Case(
        "jhook",
        {"atr_period": 5, "impulse_atr": 3.0, "impulse_bars": 4, "max_pullback_bars": 5},
        1,
        noisy_walk,
        20,
        5,
        5,
        600,
        "tight",
    ),
]
PARAMS = [pytest.param(c, id=f"{c.strategy}-{c.label}-seed{c.seed}") for c in CASES]


def test_every_registered_strategy_has_a_case() -> None:
    assert {c.strategy for c in CASES} == set(STRATEGIES)


@pytest.mark.parametrize("case", PARAMS)
def test_no_look_ahead_signals_on_a_prefix_equal_the_prefix_of_signals(case: Case) -> None:
    assert_no_look_ahead(
        create(case.strategy, **case.params),
        case.walk(case.seed, PREFIX_BARS),
        minimum=case.minimum,
        minimum_each_side=case.minimum_each_side,
    )


@pytest.mark.parametrize("case", PARAMS)
def test_streaming_face_equals_the_vectorised_face_on_every_bar(case: Case) -> None:
    live = create(case.strategy, **case.params)
    reference = create(case.strategy, **case.params)
    bars = case.walk(case.seed, live.window_bars + case.live_bars)

    assert_faces_agree(live, reference, bars, minimum=case.minimum_live)


@pytest.mark.parametrize("case", PARAMS)
def test_streaming_face_equals_the_vectorised_face_from_any_starting_bar(case: Case) -> None:
    """A short history (the face starts cold, before the warm-up is complete) and a long one
    (only its last ``window_bars`` are kept), at cut points drawn from the case's seed."""
    rng = np.random.default_rng(case.seed)
    probe = create(case.strategy, **case.params)
    window = probe.window_bars
    bars = case.walk(case.seed + 100, 2 * window + case.live_bars)
    cold = int(rng.integers(1, probe.warmup_bars + 1))
    for history in (cold, int(rng.integers(window, 2 * window))):
        live = create(case.strategy, **case.params)
        assert_faces_agree(live, probe, bars, minimum=1, history=history)


@pytest.mark.parametrize("case", PARAMS)
def test_changing_parameters_keeps_the_streaming_face_equal_to_the_vectorised_face(
    case: Case,
) -> None:
    """``with_params`` restarts the face from the bars kept so far: the copy agrees with the
    vectorised face over them and every bar after."""
    original = create(case.strategy, **case.params)
    bars = case.walk(case.seed, original.window_bars + case.live_bars)
    half = original.window_bars + case.live_bars // 2
    original.warm_up(bars[: original.window_bars])
    for bar in bars[original.window_bars : half]:
        original.on_bar(bar)
    changed = original.with_params(**case.params)
    kept = bars[half - original.window_bars : half]
    frame = changed.signals(bars_to_frame(kept + bars[half:]))
    got = [changed.on_bar(bar) for bar in bars[half:]]
    assert any(got)
    assert [0 if s is None else s.side.value for s in got] == frame["signal"].tolist()[len(kept) :]


# --- the checks catch what they are for ------------------------------------------------------

FAST_MA_RSI = CASES[1]


class PeekingMaRsi(MaRsiStrategy):
    """Signals one bar early: the signal of bar t+1 shown on bar t."""

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        out = super().signals(bars)
        side = out["signal"].to_numpy()
        out["signal"] = np.append(side[1:], 0).astype(side.dtype)
        return out


class ForgetfulMaRsi(MaRsiStrategy):
    """A live face that drops every other signal."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._seen = 0

    def on_bar(self, bar: Bar) -> Signal | None:
        sig = super().on_bar(bar)
        if sig is None:
            return None
        self._seen += 1
        return sig if self._seen % 2 else None


def test_the_look_ahead_check_catches_a_strategy_peeking_one_bar_ahead() -> None:
    case = FAST_MA_RSI
    with pytest.raises(AssertionError, match="DataFrame"):
        assert_no_look_ahead(
            PeekingMaRsi(**case.params),
            case.walk(case.seed, PREFIX_BARS),
            minimum=case.minimum,
        )


def test_the_faces_check_catches_a_live_face_that_disagrees() -> None:
    case = FAST_MA_RSI
    live = ForgetfulMaRsi(**case.params)
    bars = case.walk(case.seed, live.window_bars + case.live_bars)
    with pytest.raises(AssertionError, match="on_bar fired on bars"):
        assert_faces_agree(live, MaRsiStrategy(**case.params), bars, minimum=case.minimum_live)

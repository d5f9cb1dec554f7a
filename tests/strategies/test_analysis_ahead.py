"""Analysis ahead of the close: a bar analysed while forming is adopted only when it closes
equal, and adopting never changes what the strategies say.

Each parity test runs two managers over the same bars: one that analyses every bar at its
close, one that is also shown forming bars first (the exact bar, a bar a tick would still
change, or nothing). Signals, suppressions and conditions must be equal, bar for bar.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import types
from collections import deque
from enum import Enum
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import pytest_asyncio
from bars_kit import noisy_walk
from pydantic import BaseModel
from test_manager import History, Recorder, drained

from forexbot.domain.market import Bar, Timeframe
from forexbot.events.bus import EventBus
from forexbot.events.types import BarEvent, FormingBarsEvent
from forexbot.market_condition.detector import DetectorParams
from forexbot.market_condition.stream import ConditionStream
from forexbot.strategies import STRATEGIES as STRATEGIES_BY_NAME
from forexbot.strategies import create
from forexbot.strategies.base_strategy import Strategy, StrategyParams, empty_signals
from forexbot.strategies.control import StrategyControl
from forexbot.strategies.manager import StrategyInstance, StrategyManager
from forexbot.strategies.regime import ANY_TREND, Regime
from forexbot.strategies.speculation import fork

STRATEGIES = ("ma_rsi", "stochastic_cross", "break_and_retest", "jhook", "sma_cross")
HISTORY = 320


@pytest_asyncio.fixture(loop_scope="function")
async def bus() -> EventBus:
    bus = EventBus()
    bus.start()
    return bus


def nudged(bar: Bar) -> Bar:
    """``bar`` before its last tick: that tick moved the close (and maybe the high)."""
    close = bar.close - 0.00007
    return dataclasses.replace(
        bar, close=close, low=min(bar.low, close), tick_volume=bar.tick_volume - 1
    )


def instances(names: tuple[str, ...] = STRATEGIES) -> list[StrategyInstance]:
    return [StrategyInstance(create(name), "EURUSD", Timeframe.M15) for name in names]


async def run_both(
    bars: list[Bar], choose: random.Random
) -> tuple[StrategyManager, Recorder, StrategyManager, Recorder]:
    """The reference manager and the one shown forming bars, over the same live bars."""
    plain_bus, ahead_bus = EventBus(), EventBus()
    plain_bus.start()
    ahead_bus.start()
    plain_rec, ahead_rec = Recorder(plain_bus), Recorder(ahead_bus)
    plain = StrategyManager(instances(), History(bars[:HISTORY]), plain_bus)
    ahead = StrategyManager(instances(), History(bars[:HISTORY]), ahead_bus)
    await plain.warm_up()
    await ahead.warm_up()
    for bar in bars[HISTORY:]:
        shown = choose.choice(("exact", "exact", "nudged", "nudged-then-exact", "none"))
        if shown in ("nudged", "nudged-then-exact"):
            await ahead.on_forming(FormingBarsEvent((nudged(bar),)))
        if shown in ("exact", "nudged-then-exact"):
            await ahead.on_forming(FormingBarsEvent((bar,)))
        await plain.on_bar(BarEvent(bar))
        await ahead.on_bar(BarEvent(bar))
    await drained(plain_bus)
    await drained(ahead_bus)
    return plain, plain_rec, ahead, ahead_rec


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_adopted_analysis_says_what_the_analysis_at_the_close_says(seed: int) -> None:
    bars = noisy_walk(seed, HISTORY + 400)
    plain, plain_rec, ahead, ahead_rec = await run_both(bars, random.Random(seed))
    assert [e.signal for e in ahead_rec.signals] == [e.signal for e in plain_rec.signals]
    assert [e.condition for e in ahead_rec.conditions] == [
        e.condition for e in plain_rec.conditions
    ]
    assert [(i.bars_seen, i.signals, i.suppressed, i.errors) for i in ahead.instances] == [
        (i.bars_seen, i.signals, i.suppressed, i.errors) for i in plain.instances
    ]
    assert len(plain_rec.signals) + sum(i.suppressed for i in plain.instances) > 10
    # About three bars in five closed as speculated (exact, or nudged then exact).
    assert 0.45 * 400 < ahead.adopted < 0.75 * 400


async def test_a_bar_that_changed_after_its_speculation_is_analysed_at_its_close(
    bus: EventBus,
) -> None:
    bars = noisy_walk(5, HISTORY + 30)
    manager = StrategyManager(instances(), History(bars[:HISTORY]), bus)
    await manager.warm_up()
    for bar in bars[HISTORY:]:
        await manager.on_forming(FormingBarsEvent((nudged(bar),)))
        await manager.on_bar(BarEvent(bar))
    assert manager.adopted == 0
    assert manager.speculated == 30
    for instance in manager.instances:
        assert instance.bars_seen == 30
        assert instance.strategy._window[-1] == bars[-1]


async def test_speculating_leaves_the_live_state_as_it_was(bus: EventBus) -> None:
    bars = noisy_walk(6, HISTORY + 1)
    manager = StrategyManager(instances(), History(bars[:HISTORY]), bus)
    await manager.warm_up()
    live = [instance.strategy for instance in manager.instances]
    windows = [list(strategy._window) for strategy in live]
    await manager.on_forming(FormingBarsEvent((bars[-1],)))
    assert [instance.strategy for instance in manager.instances] == live
    assert [list(strategy._window) for strategy in live] == windows
    assert manager.bars("EURUSD", bars[-1].timeframe)[-1] == bars[HISTORY - 1]


async def test_a_strategy_replaced_after_its_speculation_is_fed_the_bar_itself(
    bus: EventBus,
) -> None:
    bars = noisy_walk(7, HISTORY + 1)
    manager = StrategyManager(instances(("ma_rsi", "jhook")), History(bars[:HISTORY]), bus)
    await manager.warm_up()
    await manager.on_forming(FormingBarsEvent((bars[-1],)))
    replaced = manager.instances[0].strategy.with_params(rsi_period=9)
    manager.instances[0].strategy = replaced
    await manager.on_bar(BarEvent(bars[-1]))
    assert manager.instances[0].strategy is replaced  # not the fork of the one it replaced
    assert replaced._window[-1] == bars[-1]
    assert manager.instances[1].strategy._window[-1] == bars[-1]  # adopted: the fork saw it


class FailsOnLiveBars(Strategy):
    """Raises on every bar after its history: a bug that shows only live."""

    name: ClassVar[str] = "fails_live"
    params_model: ClassVar[type[StrategyParams]] = StrategyParams
    regime: ClassVar[Regime] = Regime(trends=ANY_TREND, require_favourable=False)

    @property
    def warmup_bars(self) -> int:
        return 1

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        if len(bars) > HISTORY:
            raise RuntimeError("bug in a strategy")
        return empty_signals(bars.index)

    @property
    def window_bars(self) -> int:
        return HISTORY + 1


async def test_a_strategy_raising_while_speculating_is_reported_once_at_the_close(
    bus: EventBus,
) -> None:
    bars = noisy_walk(8, HISTORY + 1)
    failing = StrategyInstance(FailsOnLiveBars(), "EURUSD", bars[0].timeframe)
    fine = StrategyInstance(create("ma_rsi"), "EURUSD", bars[0].timeframe)
    manager = StrategyManager([failing, fine], History(bars[:HISTORY]), bus)
    await manager.warm_up()
    await manager.on_forming(FormingBarsEvent((bars[-1],)))
    assert failing.errors == 0  # a speculation reports nothing
    await manager.on_bar(BarEvent(bars[-1]))
    assert failing.errors == 1
    assert manager.errors[failing.key] == 1
    assert manager.adopted == 0  # voided: the close analysed the bar itself
    assert fine.strategy._window[-1] == bars[-1]


async def test_no_speculation_while_the_order_path_is_busy(bus: EventBus) -> None:
    bars = noisy_walk(9, HISTORY + 1)
    manager = StrategyManager(
        instances(("ma_rsi",)), History(bars[:HISTORY]), bus, defer_to=lambda: True
    )
    await manager.warm_up()
    await manager.on_forming(FormingBarsEvent((bars[-1],)))
    assert manager.speculated == 0


async def test_a_speculation_made_before_an_earlier_bar_closed_is_not_adopted(
    bus: EventBus,
) -> None:
    """Forked before bar t closed, a speculation of bar t+1 misses bar t in its state."""
    bars = noisy_walk(10, HISTORY + 2)
    manager = StrategyManager(instances(("stochastic_cross",)), History(bars[:HISTORY]), bus)
    await manager.warm_up()
    await manager.on_forming(FormingBarsEvent((bars[-1],)))  # t+1 shown before t closed
    await manager.on_bar(BarEvent(bars[-2]))
    await manager.on_bar(BarEvent(bars[-1]))
    assert manager.adopted == 0
    assert list(manager.instances[0].strategy._window)[-2:] == bars[-2:]


def test_a_fork_shares_the_bars_and_parameters_but_not_the_state() -> None:
    strategy = create("ma_rsi")
    bars = noisy_walk(11, HISTORY + 1)
    strategy.warm_up(bars[:HISTORY])
    copy = fork(strategy, strategy.params)
    said = copy.on_bar(bars[-1])
    assert copy.params is strategy.params
    assert copy._window[-2] is strategy._window[-1]  # the same Bar object, not a copy
    assert copy._window[-1] == bars[-1]
    assert strategy._window[-1] == bars[HISTORY - 1]
    assert strategy.on_bar(bars[-1]) == said  # the original, fed the bar, says the same


def test_a_fork_of_a_strategy_with_the_window_face_feeds_its_own_window() -> None:
    """The default streaming face points back at its strategy: the fork's face must point at
    the fork, or the fork's bars would land in the original's window."""
    strategy = FailsOnLiveBars()
    bars = noisy_walk(12, HISTORY)
    strategy.warm_up(bars[:100])
    copy = fork(strategy, strategy.params)
    assert copy._stream._strategy is copy
    assert copy._stream._window is not strategy._stream._window
    copy._stream.warm(bars[100])
    assert len(strategy._stream._window) == 100


def test_a_fork_of_the_condition_stream_detects_what_the_original_detects() -> None:
    bars = noisy_walk(13, HISTORY + 5)
    stream = ConditionStream("EURUSD", Timeframe.M15, DetectorParams(), synthetic=False)
    for bar in bars[:HISTORY]:
        stream.update(bar)
    copy = fork(stream)
    forked = [copy.update(bar) for bar in bars[HISTORY:]]
    assert forked == [stream.update(bar) for bar in bars[HISTORY:]]
    assert forked[-1] is not None


class SlowStore:
    """A strategy settings store whose save waits until released."""

    def __init__(self) -> None:
        self.saving = asyncio.Event()
        self.release = asyncio.Event()

    async def save(self, **_settings: Any) -> None:
        self.saving.set()
        await self.release.wait()


async def test_a_change_saved_while_a_bar_is_adopted_keeps_the_bar(bus: EventBus) -> None:
    """A risk multiplier change whose save overlaps an adopted close must not put back the
    strategy object from before that bar (the close replaced it with the fork)."""
    bars = noisy_walk(6, HISTORY + 1)
    manager = StrategyManager(instances(("ma_rsi",)), History(bars[:HISTORY]), bus)
    await manager.warm_up()
    instance = manager.instances[0]
    store = SlowStore()
    control = StrategyControl(manager, store)  # type: ignore[arg-type]
    await manager.on_forming(FormingBarsEvent((bars[-1],)))
    change = asyncio.create_task(
        control.update_strategy(
            instance.key, params=None, risk_multiplier=2.0, enabled=None, actor="alice"
        )
    )
    await store.saving.wait()
    await manager.on_bar(BarEvent(bars[-1]))
    store.release.set()
    await change
    assert manager.adopted == 1
    assert instance.risk_multiplier == 2.0
    assert instance.strategy._window[-1] == bars[-1]


class SlowHistory(History):
    """History that arrives only when released."""

    def __init__(self, bars: list[Bar]) -> None:
        super().__init__(bars)
        self.release = asyncio.Event()

    async def history(self, symbol: str, timeframe: object, count: int) -> list[Bar]:
        await self.release.wait()
        return await super().history(symbol, timeframe, count)


async def window_after_a_warm_up_during_the_close(bus: EventBus, *, ahead: bool) -> list[Bar]:
    """The strategy's window when its history arrives while a closed bar waits for the
    order path (start-up: polling runs before the warm-up is done)."""
    bars = noisy_walk(6, HISTORY + 1)
    busy = [False]
    history = SlowHistory(bars[:HISTORY])
    manager = StrategyManager(
        instances(("ma_rsi",)), history, bus, defer_to=lambda: busy[0], max_defer=1.0
    )
    if ahead:
        await manager.on_forming(FormingBarsEvent((bars[-1],)))
    busy[0] = True
    warm = asyncio.create_task(manager.warm_up())
    await asyncio.sleep(0)
    closing = asyncio.create_task(manager.on_bar(BarEvent(bars[-1])))
    await asyncio.sleep(0.01)
    history.release.set()
    await warm
    busy[0] = False
    await closing
    return list(manager.instances[0].strategy._window)


async def test_a_warm_up_while_the_bar_waits_voids_its_speculation(bus: EventBus) -> None:
    plain = await window_after_a_warm_up_during_the_close(bus, ahead=False)
    ahead = await window_after_a_warm_up_during_the_close(bus, ahead=True)
    assert ahead == plain
    assert len(ahead) > 1


def mutable_parts(obj: object, found: dict[int, str], path: str = "state") -> dict[int, str]:
    """Every mutable object reachable from ``obj`` (id → where), values that cannot change
    (numbers, strings, bars, enums, tuples of those, frozen parameter models, classes,
    functions) left out."""
    if isinstance(obj, IMMUTABLE_VALUES) or id(obj) in found:
        return found
    if isinstance(obj, BaseModel) and obj.model_config.get("frozen"):
        return found
    if isinstance(obj, tuple) and all(isinstance(item, IMMUTABLE_VALUES) for item in obj):
        return found
    found[id(obj)] = path
    if isinstance(obj, dict):
        for key, value in obj.items():
            mutable_parts(value, found, f"{path}[{key!r}]")
    elif isinstance(obj, list | tuple | set | frozenset | deque):
        for i, value in enumerate(obj):
            mutable_parts(value, found, f"{path}[{i}]")
    elif not isinstance(obj, np.ndarray):
        for klass in type(obj).__mro__:
            for name in getattr(klass, "__slots__", ()):
                if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                    mutable_parts(getattr(obj, name), found, f"{path}.{name}")
        for name, value in getattr(obj, "__dict__", {}).items():
            mutable_parts(value, found, f"{path}.{name}")
    return found


IMMUTABLE_VALUES = (int, float, str, bytes, type(None), np.generic, Enum, Bar, type,
                    types.FunctionType, types.BuiltinFunctionType)  # fmt: skip


@pytest.mark.parametrize("name", sorted(STRATEGIES_BY_NAME))
def test_a_strategys_fork_shares_nothing_mutable_with_it(name: str) -> None:
    """Every registered strategy, warmed up and fed live bars: no mutable object of its state
    is reachable from its fork (a speculation would change the live strategy)."""
    bars = noisy_walk(14, HISTORY + 10)
    strategy = create(name)
    strategy.warm_up(bars[:HISTORY])
    for bar in bars[HISTORY:]:
        strategy.on_bar(bar)
    live = mutable_parts(strategy, {})
    shared = {live[i] for i in mutable_parts(fork(strategy, strategy.params), {}) if i in live}
    assert shared == set()
    assert len(live) > 5  # the walk reached the state


def test_the_condition_streams_fork_shares_nothing_mutable_with_it() -> None:
    bars = noisy_walk(15, HISTORY)
    stream = ConditionStream("EURUSD", Timeframe.M15, DetectorParams(), synthetic=False)
    for bar in bars:
        stream.update(bar)
    live = mutable_parts(stream, {})
    assert not [live[i] for i in mutable_parts(fork(stream), {}) if i in live]
    assert len(live) > 5
